"""The self-service subscription web service (Flask, WSGI).

    POST /subscribe            double opt-in: a confirmation email, nothing more
    GET  /confirm?token=       activates the subscription
    GET  /unsubscribe?token=   a page with a button; POST unsubscribes
    POST /unsubscribe?token=   RFC 8058 one-click (List-Unsubscribe=One-Click)
    GET/POST /manage?token=    language and scopes

Every link carries a signed, expiring token; a bad one gets a clear error
page.  It shares the SQLite store with `gazette mail send`; confirmation mail
is queued in the same outbox and never sent inside a request: a worker thread
of the service (and any `gazette mail send`) delivers it, and the outbox's
claims keep every message to one sender.

Abuse: one confirmation per address per CONFIRM_INTERVAL, a limit of POSTs per
client per minute, POSTs from other sites refused (Origin), the same answer in
the same time whether an address is known or not, and security headers on
every response.
"""
from __future__ import annotations

import functools
import threading
import time
from collections import defaultdict, deque
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, request, send_file

from .. import i18n, resources
from ..model import Site
from ..pipeline import static_sources
from ..render.html import HtmlRenderer, Page
from ..schema import RECORD_TYPES
from .choose import check_subscriber
from .compose import Composer, queue_confirmation
from .delivery import deliver
from .store import open_store
from .tokens import Tokens
from .store import SCOPE_KINDS, Scopes

CONFIRM_INTERVAL = 600.0  # seconds between two confirmation mails to one address
POSTS_PER_MINUTE = 20  # per client address
MIN_SUBSCRIBE_SECONDS = 0.25  # every answer to /subscribe takes at least this long
SECURITY_HEADERS = {
    # pages come from the theme's templates; the theme's static files are served
    # here too; forms post here (the masthead search goes to the site: added per site)
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",  # links carry tokens: never pass them on
    "Cache-Control": "no-store",
}


class RateLimits:
    """In-memory sliding windows: per client for POSTs, per address for confirmations."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.lock = threading.Lock()
        self.posts: dict[str, deque] = defaultdict(deque)
        self.confirms: dict[str, float] = {}

    def _prune(self, now: float) -> None:
        """Forget windows that have ended, so memory stays bounded under a flood."""
        if len(self.posts) > 10000:
            for key in [k for k, w in self.posts.items() if not w or w[-1] <= now - 60]:
                del self.posts[key]
        if len(self.confirms) > 10000:
            for key in [k for k, t in self.confirms.items() if now - t >= CONFIRM_INTERVAL]:
                del self.confirms[key]

    def allow_post(self, client: str) -> bool:
        now = self.clock()
        with self.lock:
            self._prune(now)
            window = self.posts[client]
            while window and window[0] <= now - 60:
                window.popleft()
            if len(window) >= POSTS_PER_MINUTE:
                return False
            window.append(now)
            return True

    def allow_confirmation(self, email_key: str) -> bool:
        now = self.clock()
        with self.lock:
            last = self.confirms.get(email_key)
            if last is not None and now - last < CONFIRM_INTERVAL:
                return False
            self.confirms[email_key] = now
            return True


def _origins(site) -> set[str]:
    out = set()
    for url in (site.config.base_url, site.config.subscriptions.service_url):
        if url:
            parts = urlsplit(url)
            out.add(f"{parts.scheme}://{parts.netloc}".lower())
    return out


class Service:
    """What the routes share: the loaded site, the link tokens, the theme's
    renderer and composer, the rate limits and the worker's wake-up."""

    def __init__(self, site: Site, secret: str, smtp_password: str | None = None):
        self.site = site
        self.tokens = Tokens(secret)
        with open_store(site) as store:
            instance = store.instance
        self.composer = Composer(site, self.tokens, resources.builtin_theme(), instance=instance)
        self.renderer = HtmlRenderer(site, resources.builtin_theme(), pdf=False, search=False)
        self.static = static_sources(site)
        self.limits = RateLimits()
        self.origins = _origins(site)
        self.csp = SECURITY_HEADERS["Content-Security-Policy"].replace(
            "form-action 'self'", "form-action 'self' " + " ".join(sorted(self.origins)))
        self.smtp_password = smtp_password
        self.wake = threading.Event()

    def store(self):
        return open_store(self.site)

    def now_iso(self) -> str:
        """The time of the request (not the site's build time), in the site's zone."""
        import datetime as dt

        return dt.datetime.now(self.site.build_time.tzinfo).replace(microsecond=0).isoformat()

    def lang_of(self, value: str | None) -> str:
        return value if value in self.site.languages else self.site.default_lang

    @staticmethod
    def say(key: str, lang: str) -> str:
        return i18n.t(f"service_{key}", lang)

    def page(self, title: str, lang: str, status: int = 200, **ctx):
        """A service page from the theme (service.html over base.html): the site's
        look, in the subscriber's language, with links back to the site."""
        context = {"form": "none", "message": None, "is_error": False, "action": "", **ctx}
        body = self.renderer.render(Page(path="", lang=lang, template="service.html", title=title, ctx=context,
                                         in_sitemap=False, links="service"))
        return body, status, {"Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": self.csp}

    def error(self, key_or_text: str, lang: str | None = None, status: int = 400, literal: bool = False):
        lang = lang or self.site.default_lang
        message = key_or_text if literal else self.say(key_or_text, lang)
        return self.page(self.say("error", lang), lang, status, message=message, is_error=True)

    def bad_input(self, problems: list[str], lang: str):
        return self.error(f"{self.say('bad_input', lang)} {'; '.join(problems)}", lang, literal=True)

    def scope_form(self, lang: str, scopes: Scopes) -> dict:
        options = []
        for kind in SCOPE_KINDS:
            if kind == "types":
                choices = [(t, i18n.type_name(t, lang)) for t in RECORD_TYPES]
            else:
                choices = [(k, self.site.text(e.name, lang)) for k, e in sorted(self.site.taxonomies.get(kind, {}).items())]
            if choices:
                options.append((kind, choices))
        return {"scope_options": options, "chosen": {k: set(getattr(scopes, k)) for k in SCOPE_KINDS},
                "match": scopes.match, "issues": scopes.issues}

    @staticmethod
    def scopes_from_form(form) -> Scopes:
        match = form.get("match") if form.get("match") in ("any", "all") else "any"
        return Scopes.of(match=match, issues=form.get("issues") == "yes", **{k: form.getlist(k) for k in SCOPE_KINDS})


routes = Blueprint("subscriptions", __name__)


def _service() -> Service:
    return current_app.extensions["gazette"]


@routes.before_app_request
def guard():
    svc = _service()
    if request.method == "POST":
        origin = request.headers.get("Origin")
        if origin and origin.lower() not in svc.origins and origin.lower() != request.host_url.rstrip("/").lower():
            return svc.error("wrong_origin", svc.lang_of(request.form.get("lang")), 403)
        if not svc.limits.allow_post(request.remote_addr or "?"):
            return svc.error("too_many", None, 429)
    return None


@routes.after_app_request
def security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


@routes.get("/static/<path:name>")
def static_file(name: str):
    svc = _service()
    if name not in svc.static:  # only the theme's own files, by name
        return svc.error("not_found", None, 404)
    return send_file(svc.static[name], max_age=3600)


@routes.get("/")
def home():
    svc = _service()
    lang = svc.lang_of(request.args.get("lang"))
    return svc.page(svc.say("subscribe", lang), lang, form="subscribe", action="subscribe", **svc.scope_form(lang, Scopes()))


@routes.post("/subscribe")
def subscribe():
    started = time.monotonic()
    try:
        return _subscribe_once(_service())
    finally:  # known, unknown, pending: every answer takes the same time
        time.sleep(max(0.0, MIN_SUBSCRIBE_SECONDS - (time.monotonic() - started)))


def _subscribe_once(svc: Service):
    lang = svc.lang_of(request.form.get("lang"))
    scopes = svc.scopes_from_form(request.form)
    email, problems = check_subscriber(svc.site, request.form.get("email", ""), lang, scopes)
    if problems:
        return svc.bad_input(problems, lang)
    with svc.store() as s:
        outcome, subscriber = s.add(email, lang, scopes, svc.now_iso(), status="pending", resubscribe=True)
        if (outcome != "exists" or subscriber.status == "pending") and svc.limits.allow_confirmation(subscriber.email_key):
            # queued only: the worker (or `gazette mail send`) delivers it
            queue_confirmation(svc.site, s, svc.composer, s.get(subscriber.id))
            svc.wake.set()
    # the same answer whether or not the address was known: no address probing
    return svc.page(svc.say("subscribe", lang), lang, message=svc.say("check_inbox", lang))


def _by_link(confirm: bool = False, active_only: bool = False):
    """A route reached by a signed link: the subscriber it names (or an error
    page), an open store and their language, handed to the view."""
    def wrap(view):
        @functools.wraps(view)
        def run():
            svc = _service()
            with svc.store() as s:
                subscriber = svc.tokens.read(request.args.get("token", ""), s, confirm=confirm)
                if subscriber is None or (active_only and subscriber.status == "unsubscribed"):
                    return svc.error("bad_link")
                return view(svc, s, subscriber, svc.lang_of(subscriber.lang))
        return run
    return wrap


@routes.get("/confirm")
@_by_link(confirm=True)
def confirm(svc: Service, s, subscriber, lang: str):
    s.confirm(subscriber.id, svc.now_iso())
    return svc.page(svc.say("confirm_title", lang), lang, message=svc.say("confirmed", lang))


@routes.route("/unsubscribe", methods=["GET", "POST"])
@_by_link()
def unsubscribe(svc: Service, s, subscriber, lang: str):
    if request.method == "GET":  # a GET alone changes nothing (link scanners follow links)
        return svc.page(i18n.t("unsubscribe", lang), lang, form="unsubscribe", message=svc.say("unsubscribe_q", lang),
                        action=f"unsubscribe?token={request.args.get('token', '')}")
    s.unsubscribe(subscriber.id, svc.now_iso())
    return svc.page(i18n.t("unsubscribe", lang), lang, message=svc.say("unsubscribed", lang))


@routes.route("/manage", methods=["GET", "POST"])
@_by_link(active_only=True)
def manage(svc: Service, s, subscriber, lang: str):
    message = None
    if request.method == "POST":
        scopes = svc.scopes_from_form(request.form)
        lang = svc.lang_of(request.form.get("lang"))
        _, problems = check_subscriber(svc.site, subscriber.email, lang, scopes)
        if problems:
            return svc.bad_input(problems, lang)
        s.set_preferences(subscriber.id, lang, scopes)
        subscriber = s.get(subscriber.id)
        message = svc.say("saved", lang)
    token = request.args.get("token", "")
    return svc.page(svc.say("preferences", lang), lang, form="manage", message=message, email=subscriber.email,
                    action=f"manage?token={token}", unsubscribe=f"unsubscribe?token={token}",
                    **svc.scope_form(lang, subscriber.scopes))


@routes.app_errorhandler(413)
def too_large(_):
    return _service().error("too_large", None, 413)


@routes.app_errorhandler(404)
def not_found(_):
    return _service().error("not_found", None, 404)


@routes.app_errorhandler(405)
def not_allowed(_):
    return _service().error("not_allowed", None, 405)


def create_app(site: Site, secret: str, smtp_password: str | None = None) -> Flask:
    """The service for a loaded site.  `secret` signs the links, `smtp_password`
    is for the delivery worker: both are read by the caller (the command line),
    never here."""
    app = Flask("gazette.subscriptions", static_folder=None)  # static/ is the theme's (static_file)
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    app.extensions["gazette"] = Service(site, secret, smtp_password)
    app.register_blueprint(routes)
    return app


def delivery_worker(app: Flask, interval: float, stop: threading.Event) -> threading.Thread:
    """Delivers the outbox outside requests: when a confirmation is queued, and
    every `interval` seconds for whatever else is pending."""
    svc: Service = app.extensions["gazette"]
    site, wake = svc.site, svc.wake

    def loop():
        while not stop.is_set():
            wake.wait(interval)
            wake.clear()
            if stop.is_set():
                break
            try:
                with open_store(site) as s:
                    deliver(site, s, password=svc.smtp_password)
            except Exception as exc:  # keep serving; the next round retries
                print(f"delivery: {type(exc).__name__}: {exc}", flush=True)

    thread = threading.Thread(target=loop, name="gazette-delivery", daemon=True)
    thread.start()
    return thread


def serve(site: Site, secret: str, host: str, port: int, deliver_every: float = 30.0,
          smtp_password: str | None = None) -> None:
    from werkzeug.serving import make_server

    app = create_app(site, secret, smtp_password)
    server = make_server(host, port, app, threaded=True)
    stop = threading.Event()
    if deliver_every > 0:
        delivery_worker(app, deliver_every, stop)
    print(f"subscription service for {site.root} at http://{host}:{server.server_port}/ (Ctrl+C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        app.extensions["gazette"].wake.set()
