"""Reading a site's files: text (UTF-8, any line ends, no BOM), a record's
front matter and body, YAML files with their line numbers.  Reading never
writes, and a file gazette cannot read is a problem with its line, never a
traceback."""
from __future__ import annotations

from pathlib import Path

from . import yamlload
from .errors import Diagnostics


class FileProblem(Exception):
    def __init__(self, line, field, message):
        super().__init__(message)
        self.line, self.field, self.message = line, field, message


def read_text(path: Path, data: bytes | None = None) -> str:
    """A UTF-8 text file (its bytes, if already read), BOM dropped, CRLF as LF."""
    data = path.read_bytes() if data is None else data
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FileProblem(line, None, f"not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); save the file as UTF-8") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n")


def split_front_matter(text: str) -> tuple[str, str, int]:
    """-> (front matter, body, line number where the body starts)."""
    if not (text.startswith("---\n") or text.rstrip("\n") == "---"):
        raise FileProblem(1, None, "a record must start with YAML front matter between two '---' lines")
    pos = 4
    while True:
        end = text.find("\n", pos)
        line = text[pos:] if end < 0 else text[pos:end]
        if line.rstrip() in ("---", "..."):
            front = text[4:pos]
            body = "" if end < 0 else text[end + 1 :]
            return front, body, front.count("\n") + 3
        if end < 0:
            raise FileProblem(1, None, "front matter is not closed: add a '---' line after it")
        pos = end + 1


def read_yaml_file(path: Path, diags: Diagnostics) -> yamlload.Located | None:
    try:
        return yamlload.load(read_text(path))
    except (FileProblem, yamlload.YamlError) as p:
        diags.error(path, p.line, p.field, p.message)
        return None
