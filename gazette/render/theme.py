"""The theme layer: where templates come from and how they run.

A site's own theme (SITE/themes/NAME/templates) overrides the built-in one
template by template.  Themes may come from many hands, so every template
runs in Jinja's sandbox: a template can format the values it is given and
call their public methods, but cannot reach Python internals (`__class__`,
`__globals__`, `os.popen`, ...), as Hugo's templates cannot run commands.
"""
from __future__ import annotations

import traceback
from functools import partial
from contextlib import contextmanager
from pathlib import Path
from types import FunctionType, MethodType

import jinja2
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from markupsafe import Markup

from .. import i18n, markdown
from ..errors import GazetteError


def theme_loader(site_root: Path, theme: str, builtin: Path) -> jinja2.BaseLoader:
    loaders = []
    own = site_root / "themes" / theme / "templates"
    if own.is_dir():
        loaders.append(jinja2.FileSystemLoader(str(own)))
    loaders.append(jinja2.FileSystemLoader(str(builtin / "templates")))
    return jinja2.ChoiceLoader(loaders)


def has_own_templates(site_root: Path, theme: str) -> bool:
    return (site_root / "themes" / theme / "templates").is_dir()


class _TrustedContext(jinja2.runtime.Context):
    """The built-in theme's template context.  A template calls helpers (`t`,
    `url`, `date`, ...) well over a hundred times a page; Jinja's own `call`
    looks at each callable three times over for a request to be passed the
    context.  A plain function or method that asks for none is called
    straight away here (the same call, with Jinja's own bookkeeping
    arguments dropped); anything else goes the usual way."""

    def call(__self, __obj, *args, **kwargs):  # noqa: N805 - jinja2's own signature
        if type(__obj) in _PLAIN and not hasattr(__obj, "jinja_pass_arg"):
            if kwargs:
                kwargs.pop("_block_vars", None)
                kwargs.pop("_loop_vars", None)
            try:
                return __obj(*args, **kwargs)
            except StopIteration:
                return __self.environment.undefined("value was undefined because a callable raised a"
                                                    " StopIteration exception")
        return super().call(__obj, *args, **kwargs)


_PLAIN = frozenset({FunctionType, MethodType, partial})


def environment(site_root: Path, theme: str, builtin: Path, autoescape=True) -> jinja2.Environment:
    """The environment every page, PDF and mail template renders in.

    Sandboxed whenever the site brings templates of its own (they may come
    from anyone).  The built-in theme ships inside the gazette package and is
    trusted, so a site that only uses it renders without the sandbox's cost
    (measured: +45% render time on 10,000 records, benchmarks/sandbox_bench.py)."""
    cls = SandboxedEnvironment if has_own_templates(site_root, theme) else jinja2.Environment
    env = cls(
        loader=theme_loader(site_root, theme, builtin),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    if cls is jinja2.Environment:
        env.context_class = _TrustedContext
    return env


@contextmanager
def template_errors(what: str):
    """A template problem (often in a site's own theme) as a message with file and line."""
    try:
        yield
    except jinja2.TemplateSyntaxError as exc:
        raise GazetteError(f"{exc.filename or exc.name}:{exc.lineno}: template error: {exc.message}") from None
    except jinja2.TemplateError as exc:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.endswith((".html", ".txt", ".css", ".xml"))]
        where = f"{frames[-1].filename}:{frames[-1].lineno}: " if frames else ""
        kind = "not allowed in a theme (templates run sandboxed)" if isinstance(exc, SecurityError) else "template error"
        raise GazetteError(f"{where}{kind} while rendering {what or 'the home page'}: {exc}") from None


# --------------------------------------------------------------- context
_KINDS = {".doc": "Word", ".docx": "Word", ".xls": "Excel", ".xlsx": "Excel", ".ppt": "PowerPoint", ".pptx": "PowerPoint",
          ".wps": "WPS", ".et": "WPS", ".ofd": "OFD", ".txt": "TXT"}


def file_info(path: Path) -> dict:
    """An attachment's kind (PDF, Word, CSV…), size as readers read it, and MIME
    type.  The file was checked to be a regular file inside the record's
    folder when the site was resolved."""
    import mimetypes

    suffix = path.suffix.lower()
    size = path.stat().st_size
    if size < 1024:
        text = f"{size} B"
    elif size < 1024 * 1024:
        text = f"{size / 1024:.0f} KB"
    else:
        text = f"{size / 1024 / 1024:.1f} MB"
    return {"kind": _KINDS.get(suffix, suffix[1:].upper() or "?"), "size": text,
            "mime": mimetypes.guess_type(path.name, strict=False)[0]}


def signature_lines(record, lang: str, issuer_name) -> list[str]:
    """The signing block shown right-aligned after the body, one line each:
    `signature: auto` is the issuers' names (lead issuer first) and the
    `written` date, in the edition's language; a list is shown as given."""
    meta = record.meta
    if meta.signature is None:
        return []
    if meta.signature == "auto":
        return [issuer_name(k) for k in meta.issuers] + ([i18n.format_date(meta.written, lang)] if meta.written else [])
    return list(meta.signature)


def base_context(site, lang: str, urls, today=None) -> dict:
    """What every template of the theme gets, pages, PDFs, mail and the
    subscription service alike: the site, the language, URLs, interface
    strings and the helpers that put a record into words.  `today` is the day
    date-dependent states hold on (the build date unless a PDF is frozen)."""
    today = today or site.build_date

    def tax_name(name: str, key: str) -> str:
        entry = site.taxonomies.get(name, {}).get(key)
        return site.text(entry.name, lang) if entry else key

    return {
        "site": site, "config": site.config, "lang": lang, "languages": site.languages,
        "default_lang": site.default_lang, "build_date": site.build_date,
        "t": partial(i18n.t, lang=lang), "L": lambda value: site.text(value, lang),
        "urls": urls, "abs_url": urls.absolute,
        "date": lambda d: i18n.format_date(d, lang),
        "type_name": lambda rtype, plural=True: i18n.type_name(rtype, lang, plural),
        "status_name": lambda s: i18n.status_name(s, lang),
        "form_name": lambda f: i18n.form_name(f, lang),
        "language_name": i18n.language_name,
        "tax_name": tax_name,
        "validity": lambda r: r.validity(today),
        "consultation_state": lambda r: r.consultation_state(today),
        "signature": lambda r: signature_lines(r, lang, lambda k: tax_name("issuers", k)),
        "issue_label": lambda issue: i18n.t("issue_title", lang, year=issue.year, number=issue.number),
        "md": lambda text: Markup(markdown.render(text or "")),
    }
