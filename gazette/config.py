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







def load_config(root: Path, diags: Diagnostics) -> SiteConfig | None:
    path = root / "gazette.yaml"
    if not path.is_file():
        diags.error(path, None, None, f"no gazette.yaml in {root} (is this a gazette site? 'gazette init DIR' creates one)")
        return None
    located = read_yaml_file(path, diags)
    if located is None:
        return None
    # the file's own languages normalise its multilingual text as it is validated
    raw = located.data.get("languages") if isinstance(located.data, dict) else None
    if raw is None:  # not given: the schema's default
        raw = SiteConfig.model_fields["languages"].get_default(call_default_factory=True)
    # not a list of codes: that is reported on its own; no language check then
    languages = raw if isinstance(raw, list) and raw and all(isinstance(x, str) for x in raw) else []
    return validate_file(SiteConfig, located, path, diags, context={"languages": languages})


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
