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

import html
import threading
import time
from collections import defaultdict, deque
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, request

from .. import i18n, resources
from ..schema import RECORD_TYPES
from .digest import Composer, Tokens, deliver, open_store, queue_confirmation, secret, validate_scopes
from .store import SCOPE_KINDS, Scopes, normalize_email

PAGE = """<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1f1f1f}}
h1{{color:#a8201a}} .error{{border:2px solid #a8201a;background:#fdeceb;padding:.5rem 1rem}}
button{{background:#a8201a;color:#fff;border:0;padding:.5rem 1rem;font:inherit}} fieldset{{margin:.5rem 0}}</style>
</head><body><p><strong>{site}</strong></p><h1>{title}</h1>{body}</body></html>"""



CONFIRM_INTERVAL = 600.0  # seconds between two confirmation mails to one address
POSTS_PER_MINUTE = 20  # per client address
MIN_SUBSCRIBE_SECONDS = 0.25  # every answer to /subscribe takes at least this long
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
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


def create_app(site_dir: Path) -> Flask:
    from ..pipeline import load_and_resolve

    site, _ = load_and_resolve(Path(site_dir), pdf=False)
    tokens = Tokens(secret(site))
    with open_store(site) as store:
        instance = store.instance
    composer = Composer(site, tokens, resources.builtin_theme(), instance=instance)
    app = Flask("gazette.subscriptions")
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    limits = RateLimits()
    origins = _origins(site)

    def now_iso() -> str:
        """The time of the request (not the site's build time), in the site's zone."""
        import datetime as dt

        return dt.datetime.now(site.build_time.tzinfo).replace(microsecond=0).isoformat()

    @app.before_request
    def guard():
        if request.method == "POST":
            origin = request.headers.get("Origin")
            if origin and origin.lower() not in origins and origin.lower() != request.host_url.rstrip("/").lower():
                return error("this form must be sent from the gazette's own site", site.default_lang, 403)
            if not limits.allow_post(request.remote_addr or "?"):
                return error("too many requests; try again in a minute", site.default_lang, 429)
        return None

    @app.after_request
    def headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    def lang_of(value: str | None) -> str:
        return value if value in site.languages else site.default_lang

    def say(key: str, lang: str) -> str:
        return i18n.t(f"service_{key}", lang)

    def page(title: str, body: str, lang: str, status: int = 200):
        text = PAGE.format(lang=lang, title=html.escape(title), site=html.escape(site.text(site.config.title, lang)), body=body)
        return text, status, {"Content-Type": "text/html; charset=utf-8"}

    def error(message: str, lang: str, status: int = 400):
        return page(say("error", lang), f'<p class="error">{html.escape(message)}</p>', lang, status)

    def store():
        return open_store(site)

    def scopes_from_form(form) -> Scopes:
        match = form.get("match") if form.get("match") in ("any", "all") else "any"
        return Scopes.of(match=match, issues=form.get("issues") == "yes", **{k: form.getlist(k) for k in SCOPE_KINDS})

    def scope_fields(lang: str, scopes: Scopes) -> str:
        parts = []
        for kind in SCOPE_KINDS:
            if kind == "types":
                options = [(t, i18n.type_name(t, lang)) for t in RECORD_TYPES]
            else:
                options = [(k, site.text(e.name, lang)) for k, e in sorted(site.taxonomies.get(kind, {}).items())]
            if not options:
                continue
            boxes = " ".join(
                f'<label><input type="checkbox" name="{kind}" value="{html.escape(k)}"'
                f'{" checked" if k in getattr(scopes, kind) else ""}> {html.escape(n)}</label>' for k, n in options)
            parts.append(f"<fieldset><legend>{html.escape(i18n.t(kind, lang))}</legend>{boxes}</fieldset>")
        match = "".join(f'<label><input type="radio" name="match" value="{m}"{" checked" if scopes.match == m else ""}> '
                        f'{html.escape(i18n.t("scope_match_" + m, lang))}</label> ' for m in ("any", "all"))
        parts.append(f'<fieldset><legend>{html.escape(i18n.t("scope_match", lang))}</legend>{match}</fieldset>')
        parts.append(f'<p><label><input type="checkbox" name="issues" value="yes"{" checked" if scopes.issues else ""}> '
                     f'{html.escape(i18n.t("scope_issues", lang))}</label></p>')
        return "".join(parts)

    def lang_select(current: str) -> str:
        opts = "".join(f'<option value="{l}"{" selected" if l == current else ""}>{i18n.language_name(l)}</option>' for l in site.languages)
        return f'<p><label>{i18n.t("email_language", current)} <select name="lang">{opts}</select></label></p>'

    @app.get("/")
    def home():
        lang = lang_of(request.args.get("lang"))
        body = (f'<form method="post" action="subscribe"><p><label>{i18n.t("email_address", lang)} '
                f'<input type="email" name="email" required maxlength="254"></label></p>{lang_select(lang)}'
                f'{scope_fields(lang, Scopes())}<p><button type="submit">{say("subscribe", lang)}</button></p></form>')
        return page(say("subscribe", lang), body, lang)

    @app.post("/subscribe")
    def subscribe():
        started = time.monotonic()
        try:
            return subscribe_once()
        finally:  # known, unknown, pending: every answer takes the same time
            time.sleep(max(0.0, MIN_SUBSCRIBE_SECONDS - (time.monotonic() - started)))

    def subscribe_once():
        lang = lang_of(request.form.get("lang"))
        try:
            email, _ = normalize_email(request.form.get("email", ""))
        except ValueError as exc:
            return error(f"{say('bad_input', lang)} {exc}", lang)
        scopes = scopes_from_form(request.form)
        problems = validate_scopes(site, scopes)
        if problems:
            return error(f"{say('bad_input', lang)} {'; '.join(problems)}", lang)
        with store() as s:
            outcome, subscriber = s.add(email, lang, scopes, now_iso(), status="pending", resubscribe=True)
            if (outcome != "exists" or subscriber.status == "pending") and limits.allow_confirmation(subscriber.email_key):
                # queued only: the worker (or `gazette mail send`) delivers it
                queue_confirmation(site, s, composer, s.get(subscriber.id))
                wake.set()
        # the same answer whether or not the address was known: no address probing
        return page(say("subscribe", lang), f"<p>{say('check_inbox', lang)}</p>", lang)

    @app.get("/confirm")
    def confirm():
        s = store()
        try:
            subscriber = tokens.read(request.args.get("token", ""), s, confirm=True)
            if subscriber is None:
                return error(say("bad_link", site.default_lang), site.default_lang)
            s.confirm(subscriber.id, now_iso())
            return page(say("confirmed", subscriber.lang), f"<p>{say('confirmed', subscriber.lang)}</p>", subscriber.lang)
        finally:
            s.close()

    @app.route("/unsubscribe", methods=["GET", "POST"])
    def unsubscribe():
        s = store()
        try:
            subscriber = tokens.read(request.args.get("token", ""), s)
            if subscriber is None:
                return error(say("bad_link", site.default_lang), site.default_lang)
            lang = lang_of(subscriber.lang)
            if request.method == "GET":
                body = (f"<p>{say('unsubscribe_q', lang)}</p><form method=\"post\"><input type=\"hidden\" "
                        f"name=\"List-Unsubscribe\" value=\"One-Click\"><button type=\"submit\">{i18n.t('unsubscribe', lang)}</button></form>")
                return page(i18n.t("unsubscribe", lang), body, lang)
            s.unsubscribe(subscriber.id, now_iso())
            return page(i18n.t("unsubscribe", lang), f"<p>{say('unsubscribed', lang)}</p>", lang)
        finally:
            s.close()

    @app.route("/manage", methods=["GET", "POST"])
    def manage():
        s = store()
        try:
            subscriber = tokens.read(request.args.get("token", ""), s)
            if subscriber is None or subscriber.status == "unsubscribed":
                return error(say("bad_link", site.default_lang), site.default_lang)
            lang = lang_of(subscriber.lang)
            note = ""
            if request.method == "POST":
                scopes = scopes_from_form(request.form)
                problems = validate_scopes(site, scopes)
                if problems:
                    return error(f"{say('bad_input', lang)} {'; '.join(problems)}", lang)
                lang = lang_of(request.form.get("lang"))
                s.set_preferences(subscriber.id, lang, scopes)
                subscriber = s.get(subscriber.id)
                note = f"<p><strong>{say('saved', lang)}</strong></p>"
            body = (f"{note}<p>{html.escape(subscriber.email)}</p><form method=\"post\">{lang_select(lang)}"
                    f"{scope_fields(lang, subscriber.scopes)}<p><button type=\"submit\">{say('save', lang)}</button></p></form>")
            return page(say("preferences", lang), body, lang)
        finally:
            s.close()

    wake = threading.Event()
    app.config["gazette.wake"] = wake
    app.config["gazette.site"] = site

    @app.errorhandler(413)
    def too_large(_):
        return error("request too large", site.default_lang, 413)

    @app.errorhandler(404)
    def not_found(_):
        return error("not found", site.default_lang, 404)

    @app.errorhandler(405)
    def not_allowed(_):
        return error("method not allowed", site.default_lang, 405)

    return app


def delivery_worker(app: Flask, interval: float, stop: threading.Event) -> threading.Thread:
    """Delivers the outbox outside requests: when a confirmation is queued, and
    every `interval` seconds for whatever else is pending."""
    site, wake = app.config["gazette.site"], app.config["gazette.wake"]

    def loop():
        while not stop.is_set():
            wake.wait(interval)
            wake.clear()
            if stop.is_set():
                break
            try:
                with open_store(site) as s:
                    deliver(site, s)
            except Exception as exc:  # keep serving; the next round retries
                print(f"delivery: {type(exc).__name__}: {exc}", flush=True)

    thread = threading.Thread(target=loop, name="gazette-delivery", daemon=True)
    thread.start()
    return thread


def serve(site_dir: Path, host: str, port: int, deliver_every: float = 30.0) -> None:
    from werkzeug.serving import make_server

    app = create_app(site_dir)
    server = make_server(host, port, app, threaded=True)
    stop = threading.Event()
    if deliver_every > 0:
        delivery_worker(app, deliver_every, stop)
    print(f"subscription service for {site_dir} at http://{host}:{server.server_port}/ (Ctrl+C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        app.config["gazette.wake"].set()
