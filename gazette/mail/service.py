"""The self-service subscription web service (Flask, WSGI).

    POST /subscribe            double opt-in: a confirmation email, nothing more
    GET  /confirm?token=       activates the subscription
    GET  /unsubscribe?token=   a page with a button; POST unsubscribes
    POST /unsubscribe?token=   RFC 8058 one-click (List-Unsubscribe=One-Click)
    GET/POST /manage?token=    language and scopes

Every link carries a signed token; a bad one gets a clear error page.  It
shares the SQLite store with `gazette mail send`; confirmation mail goes
through the same outbox.
"""
from __future__ import annotations

import html
from pathlib import Path

from flask import Flask, request

from .. import i18n, resources
from ..errors import GazetteError
from ..schema import RECORD_TYPES
from .digest import Composer, Tokens, deliver, open_store, queue_confirmation, secret, validate_scopes
from .store import SCOPE_KINDS, Scopes, normalize_email

PAGE = """<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1f1f1f}}
h1{{color:#a8201a}} .error{{border:2px solid #a8201a;background:#fdeceb;padding:.5rem 1rem}}
button{{background:#a8201a;color:#fff;border:0;padding:.5rem 1rem;font:inherit}} fieldset{{margin:.5rem 0}}</style>
</head><body><p><strong>{site}</strong></p><h1>{title}</h1>{body}</body></html>"""



def create_app(site_dir: Path) -> Flask:
    from ..pipeline import load_and_resolve

    site, _ = load_and_resolve(Path(site_dir), pdf=False)
    tokens = Tokens(secret(site))
    composer = Composer(site, tokens, resources.builtin_theme())
    app = Flask("gazette.subscriptions")
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024

    def lang_of(value: str | None) -> str:
        return value if value in site.languages else site.default_lang

    def say(key: str, lang: str) -> str:
        return i18n.t(f"service_{key}", lang)

    def page(title: str, body: str, lang: str, status: int = 200):
        text = PAGE.format(lang=lang, title=html.escape(title), site=html.escape(site.text(site.config.title, lang)), body=body)
        return text, status, {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}

    def error(message: str, lang: str, status: int = 400):
        return page(say("error", lang), f'<p class="error">{html.escape(message)}</p>', lang, status)

    def store():
        return open_store(site)

    def scopes_from_form(form) -> Scopes:
        return Scopes.of(**{k: form.getlist(k) for k in SCOPE_KINDS})

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
        lang = lang_of(request.form.get("lang"))
        try:
            email, _ = normalize_email(request.form.get("email", ""))
        except ValueError as exc:
            return error(f"{say('bad_input', lang)} {exc}", lang)
        scopes = scopes_from_form(request.form)
        problems = validate_scopes(site, scopes)
        if problems:
            return error(f"{say('bad_input', lang)} {'; '.join(problems)}", lang)
        s = store()
        try:
            when = site.build_time.isoformat()
            outcome, subscriber = s.add(email, lang, scopes, when, status="pending", resubscribe=True)
            if outcome != "exists" or subscriber.status == "pending":
                queue_confirmation(site, s, composer, s.get(subscriber.id))
                deliver(site, s)
        finally:
            s.close()
        # the same answer whether or not the address was known: no address probing
        return page(say("subscribe", lang), f"<p>{say('check_inbox', lang)}</p>", lang)

    @app.get("/confirm")
    def confirm():
        s = store()
        try:
            subscriber = tokens.read(request.args.get("token", ""), s, confirm=True)
            if subscriber is None:
                return error(say("bad_link", site.default_lang), site.default_lang)
            s.confirm(subscriber.id, site.build_time.isoformat())
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
            s.unsubscribe(subscriber.id, site.build_time.isoformat())
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


def serve(site_dir: Path, host: str, port: int) -> None:
    from werkzeug.serving import make_server

    try:
        app = create_app(site_dir)
    except GazetteError:
        raise
    server = make_server(host, port, app, threaded=True)
    print(f"subscription service for {site_dir} at http://{host}:{server.server_port}/ (Ctrl+C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
