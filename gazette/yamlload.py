"""YAML as the content format defines it.

* YAML 1.2 core-schema scalars: only `true`/`false` are booleans, so `no`,
  `on`, `yes` stay strings (PyYAML alone follows YAML 1.1).
* A duplicate key in a mapping is an error (PyYAML silently keeps the last).
* Every value keeps its source line, so messages can name file, line, field.

libyaml (through PyYAML's C composer) parses; this module only turns the node
graph into Python values.  Dates stay strings and are checked by the schema.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - libyaml missing
    from yaml import SafeLoader as _Loader

_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"^[-+]?[0-9]+$")
_OCT = re.compile(r"^0o[0-7]+$")
_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^[-+]?\.(?:inf|Inf|INF)$")
_NAN = re.compile(r"^\.(?:nan|NaN|NAN)$")


class YamlError(Exception):
    def __init__(self, message: str, line: int | None, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.field = field


@dataclass
class Located:
    """A parsed document and the line of every field path in it."""

    data: object
    lines: dict[tuple, int] = field(default_factory=dict)

    def line_of(self, path: tuple, default: int | None = None) -> int | None:
        """Line of `path`, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), default)


def _scalar(node: yaml.ScalarNode):
    value = node.value
    if node.style:  # quoted or block scalars are always strings
        return value
    if node.tag == "tag:yaml.org,2002:str" and not _looks_implicit(value):
        return value
    if _NULL.match(value):
        return None
    if value in _BOOL:
        return _BOOL[value]
    if _INT.match(value) or _OCT.match(value) or _HEX.match(value):
        if len(value) > MAX_NUMBER_DIGITS:
            raise YamlError(f"the number {value[:12]}… has {len(value)} digits; quote it if it is text",
                            node.start_mark.line + 1)
        if _INT.match(value):
            return int(value)
        return int(value[2:], 8 if _OCT.match(value) else 16)
    if _FLOAT.match(value):
        return float(value)
    if _INF.match(value):
        return float("-inf") if value.startswith("-") else float("inf")
    if _NAN.match(value):
        return float("nan")
    return value


def _looks_implicit(value: str) -> bool:
    return bool(_NULL.match(value) or value in _BOOL or _INT.match(value) or _FLOAT.match(value))


def _fmt_path(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


MAX_DEPTH = 40  # records nest three or four levels; deeper is a mistake or an attack
MAX_NUMBER_DIGITS = 30


def _convert(node, path: tuple, lines: dict, line_offset: int, seen: set):
    line = node.start_mark.line + 1 + line_offset
    lines[path] = line
    if id(node) in seen:
        # libyaml turns an alias into the anchored node itself: refusing a node
        # met twice refuses aliases, and with them "billion laughs" documents
        raise YamlError("anchors and aliases (&name, *name) are not supported; write the value out", line, _fmt_path(path) or None)
    seen.add(id(node))
    if len(path) > MAX_DEPTH:
        raise YamlError(f"nested more than {MAX_DEPTH} levels deep", line, None)
    if isinstance(node, yaml.ScalarNode):
        try:
            return _scalar(node)
        except YamlError as exc:
            raise YamlError(exc.message, line, _fmt_path(path) or None) from None
    if isinstance(node, yaml.SequenceNode):
        return [_convert(child, path + (i,), lines, line_offset, seen) for i, child in enumerate(node.value)]
    if isinstance(node, yaml.MappingNode):
        result: dict = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise YamlError("merge keys (<<) are not supported", key_node.start_mark.line + 1 + line_offset, _fmt_path(path) or None)
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlError("mapping keys must be plain strings", key_node.start_mark.line + 1 + line_offset, _fmt_path(path) or None)
            key = key_node.value
            key_line = key_node.start_mark.line + 1 + line_offset
            if key in result:
                first = lines.get(path + (key,))
                raise YamlError(f"duplicate key '{key}' (first defined on line {first})", key_line, _fmt_path(path + (key,)))
            result[key] = _convert(value_node, path + (key,), lines, line_offset, seen)
            lines[path + (key,)] = key_line
        return result
    raise YamlError("unsupported YAML node", lines[path], _fmt_path(path) or None)  # pragma: no cover


def load(text: str, line_offset: int = 0) -> Located:
    """Parse one YAML document.  `line_offset` is added to every line number
    (front matter starts after the opening `---`)."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 + line_offset if mark else None
        problem = exc.problem or exc.context or "malformed YAML"
        raise YamlError(f"malformed YAML: {problem}", line) from None
    except yaml.YAMLError as exc:
        raise YamlError(f"malformed YAML: {exc}", None) from None
    lines: dict[tuple, int] = {}
    if node is None:
        return Located(None, {(): 1 + line_offset})
    data = _convert(node, (), lines, line_offset, set())
    return Located(data, lines)


fmt_path = _fmt_path
