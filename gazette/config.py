"""gazette.yaml and the build time: the site's configuration, validated, with
its multilingual text in a known language, and the moment the build stands
for (SOURCE_DATE_EPOCH, handed in by the command line, else now)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from .errors import Diagnostics
from .schema import SiteConfig
from .sources import FileProblem, read_yaml_file
from .validation import validate_file


def build_time(tz_name: str, epoch: str | None = None) -> dt.datetime:
    """`epoch` (SOURCE_DATE_EPOCH, for reproducible builds) when given, else now;
    in the site's zone."""
    tz = ZoneInfo(tz_name)
    if epoch is not None and epoch.strip():
        try:
            return dt.datetime.fromtimestamp(int(epoch), tz)
        except (ValueError, OverflowError, OSError):
            raise FileProblem(None, "SOURCE_DATE_EPOCH", f"{epoch!r} is not a Unix timestamp") from None
    return dt.datetime.now(tz).replace(microsecond=0)


def normalize_local(value, default_lang: str, languages: list[str], report, where):
    """'' (plain string) -> the default language; unknown languages reported."""
    if not isinstance(value, dict):
        return value
    out = {}
    for lang, text in value.items():
        lang = lang or default_lang
        if lang not in languages:
            report(where, f"language '{lang}' is not configured in gazette.yaml (languages: {', '.join(languages)})")
            continue
        out[lang] = text
    return out





def load_config(root: Path, diags: Diagnostics) -> SiteConfig | None:
    path = root / "gazette.yaml"
    if not path.is_file():
        diags.error(path, None, None, f"no gazette.yaml in {root} (is this a gazette site? 'gazette init DIR' creates one)")
        return None
    located = read_yaml_file(path, diags)
    config = validate_file(SiteConfig, located, path, diags) if located else None
    if config is None:
        return None
    langs = config.languages
    for name in ("title", "publisher"):
        value = getattr(config, name)
        report = lambda where, msg, n=name: diags.error(path, located.line_of((n,)), n, msg)
        setattr(config, name, normalize_local(value, langs[0], langs, report, name))
    return config


def reference() -> list[tuple[str, str, str]]:
    """Every gazette.yaml option as (key, default, meaning), from the schema's
    own field descriptions: the README's configuration table is this list
    (tests/test_cli.py checks that they agree)."""
    from pydantic import BaseModel

    rows: list[tuple[str, str, str]] = []

    def walk(model, prefix: str) -> None:
        for name, info in model.model_fields.items():
            key = f"{prefix}{name}"
            sub = info.annotation if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel) else None
            if info.is_required():
                default = "(required)"
            elif sub is not None:
                default = ""
            else:
                value = info.get_default(call_default_factory=True)
                if isinstance(value, bool):
                    value = "true" if value else "false"
                default = "" if value is None else f"`{value}`" if not isinstance(value, list) else f"`{value!r}`"
            rows.append((f"`{key}`", default, info.description or ""))
            if sub is not None:
                walk(sub, key + ".")

    walk(SiteConfig, "")
    return rows


def reference_table() -> str:
    lines = ["| key | default | meaning |", "|---|---|---|"]
    lines += [f"| {k} | {d} | {m} |" for k, d, m in reference()]
    return "\n".join(lines) + "\n"
