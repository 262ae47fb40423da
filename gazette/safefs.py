"""Files gazette reads must lie inside the folder they belong to.

Content comes from many hands, and a symbolic link is as easy to contribute as
a file.  gazette follows a link only while it stays inside the site folder (or
the narrower folder a file must be in, such as a record's attachment folder);
a link that leads anywhere else is an error naming the file, and the file is
neither read nor published.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator


def escapes(path: Path, root: Path) -> bool:
    """True when `path`, with every link followed, is not inside `root`."""
    try:
        real = Path(os.path.realpath(path))
        base = Path(os.path.realpath(root))
    except (OSError, ValueError):
        return True
    return not (real == base or real.is_relative_to(base))


def problem(path: Path, root: Path, what: str = "the site folder") -> str | None:
    """Why `path` may not be read (a link out of `root`, not a regular file), or None."""
    if escapes(path, root):
        return f"is a symbolic link (or inside one) that leads outside {what}; gazette does not follow it"
    if not path.is_file():
        return "is not a regular file"
    return None


def links_out(folder: Path, root: Path) -> list[Path]:
    """Every entry under `folder` (links to folders not followed) whose target lies outside `root`."""
    found = []
    if not folder.exists():
        return found
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            if path.is_symlink() and escapes(path, root):
                found.append(path)
    return sorted(found)


def files_under(folder: Path) -> Iterator[tuple[str, str]]:
    """Every file under `folder` (links to folders not followed): its path
    relative to `folder` with '/' separators, and its full path."""
    base = os.fspath(folder)
    for dirpath, _, filenames in os.walk(base):
        prefix = os.path.relpath(dirpath, base).replace(os.sep, "/")
        prefix = "" if prefix == "." else prefix + "/"
        for name in filenames:
            yield prefix + name, os.path.join(dirpath, name)
