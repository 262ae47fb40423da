"""Validation errors -> diagnostics: pydantic's errors said in gazette's
words, one message per field, with the line of the YAML they came from; and
unknown fields (usually typos) as warnings."""
from __future__ import annotations

import difflib
import re
from pathlib import Path

from pydantic import BaseModel, ValidationError

from . import yamlload
from .errors import Diagnostics


def _clean_msg(msg: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return msg[len(prefix) :]
    return msg


_WORDS = {
    "string_type": "must be text", "int_type": "must be a whole number", "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number", "float_type": "must be a number", "float_parsing": "must be a number",
    "bool_type": "must be true or false", "bool_parsing": "must be true or false",
    "date_type": "must be a date written YYYY-MM-DD", "date_parsing": "must be a date written YYYY-MM-DD",
    "date_from_datetime_parsing": "must be a date written YYYY-MM-DD",
    "list_type": "must be a list", "dict_type": "must be a mapping (key: value)",
    "model_type": "must be a mapping (key: value)", "model_attributes_type": "must be a mapping (key: value)",
}


def _in_our_words(err: dict) -> str:
    """A pydantic error as gazette says it ("must be true or false"), not as
    the validation library does ("Input should be a valid boolean")."""
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind in _WORDS:
        return _WORDS[kind]
    if kind == "literal_error":
        return "must be " + ctx.get("expected", "one of the allowed values")
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"is too long: at most {ctx.get('max_length')} characters"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')} item{'' if ctx.get('min_length') == 1 else 's'}"
    if kind == "too_long":
        return f"has too many items: at most {ctx.get('max_length')}"
    if kind in ("greater_than_equal", "greater_than"):
        return f"must be at least {ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"must be at most {ctx.get('le', ctx.get('lt'))}"
    return _clean_msg(err["msg"])


def schema_problems(exc: ValidationError, located: yamlload.Located, prefix: tuple = ()) -> list[tuple]:
    """pydantic errors -> [(line, field, message)], one per field, in gazette's
    words.  A field that may take one of several forms (`auto` or a list) gets
    one message naming each form."""
    out: dict = {}
    for err in exc.errors(include_url=False):
        path: tuple = prefix
        for part in err["loc"]:
            if (path + (part,)) in located.lines or err["type"] == "missing":
                path = path + (part,)
        msg = _in_our_words(err)
        m = re.match(r"^([a-z_][a-z0-9_.]*): (.*)$", msg, re.S)
        if m and not err["loc"]:
            path = prefix + tuple(m[1].split("."))
            msg = m[2]
        got = ""
        if err["type"] == "missing":
            msg = "required field is missing"
            line = located.line_of(path[:-1]) or 1
        else:
            line = located.line_of(path) or 1
            if err["type"] not in ("value_error", "assertion_error") and "input" in err and not isinstance(err["input"], (dict, list)):
                got = f" (got {err['input']!r})"
        field = yamlload.fmt_path(path) or None
        key = (field, err["type"] == "missing")
        if key in out:  # another form the same value could have taken
            line0, field0, msgs, got0 = out[key]
            if msg not in msgs:
                msgs.append(msg)
            continue
        out[key] = (line, field, [msg], got)
    problems = []
    for line, field, msgs, got in out.values():
        first, rest = msgs[0], [m[len("must be "):] if m.startswith("must be ") else m for m in msgs[1:]]
        problems.append((line, field, " or ".join([first, *rest]) + got))
    return problems


def unknown_fields(model: BaseModel, located: yamlload.Located, path: tuple = (), ignored_note: set | None = None):
    """Warnings for keys no schema knows (usually typos)."""
    out = []
    for key in sorted(model.model_extra or {}):
        known = list(type(model).model_fields)
        close = difflib.get_close_matches(key, known, n=1)
        if ignored_note is not None and key in ignored_note:
            hint = "; it is taken from the original, so it is ignored here"
        else:
            hint = f"; did you mean '{close[0]}'?" if close else "; it is ignored"
        out.append((located.line_of(path + (key,)), yamlload.fmt_path(path + (key,)), f"unknown field '{key}'{hint}"))
    for name in type(model).model_fields:
        value = getattr(model, name, None)
        if isinstance(value, BaseModel):
            out += unknown_fields(value, located, path + (name,), ignored_note)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    out += unknown_fields(item, located, path + (name, i), ignored_note)
    return out


def validate_yaml(model_cls, located: yamlload.Located, problems: list, warnings: list, context: dict | None = None):
    if not isinstance(located.data, dict):
        problems.append((located.line_of(()) or 1, None, "expected a YAML mapping of fields"))
        return None
    try:
        obj = model_cls.model_validate(located.data, context=context)
    except ValidationError as exc:
        problems += schema_problems(exc, located)
        known = list(model_cls.model_fields)
        for key in sorted(k for k in located.data if k not in model_cls.model_fields):
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else "; it is ignored"
            warnings.append((located.line_of((key,)), str(key), f"unknown field '{key}'{hint}"))
        return None
    warnings += unknown_fields(obj, located)
    return obj


def validate_file(model_cls, located: yamlload.Located, path: Path, diags: Diagnostics, field_prefix: str = "",
                  context: dict | None = None):
    """Validate and report every problem and unknown field against `path`.
    `context`: {"languages": [...]} normalises multilingual text as it is validated."""
    problems, warnings = [], []
    obj = validate_yaml(model_cls, located, problems, warnings, context)
    for report, items in ((diags.error, problems), (diags.warning, warnings)):
        for line, fld, msg in items:
            name = f"{field_prefix}.{fld}" if field_prefix and fld else (fld or field_prefix or None)
            report(path, line, name, msg)
    return obj
