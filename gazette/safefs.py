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
    found: list[Path] = []

    def walk(path: str) -> None:  # os.walk's rules, from each entry's type as the folder lists it
        for entry in _listed(path):
            if entry.is_symlink():
                if escapes(Path(entry.path), root):
                    found.append(Path(entry.path))
            elif entry.is_dir(follow_symlinks=False):
                walk(entry.path)

    if folder.is_dir():
        walk(os.fspath(folder))
    return sorted(found)


def files_under(folder: Path) -> Iterator[tuple[str, str]]:
    """Every file under `folder` (links to folders not followed): its path
    relative to `folder` with '/' separators, and its full path."""
    for rel, entry in _entries(os.fspath(folder), ""):
        yield rel, entry.path


def stats_under(folder: Path) -> Iterator[tuple[str, str, os.stat_result]]:
    """files_under, with each file's own status (a link's, not its target's)."""
    for rel, entry in _entries(os.fspath(folder), ""):
        try:
            yield rel, entry.path, entry.stat(follow_symlinks=False)
        except OSError:
            continue


def _entries(path: str, prefix: str) -> Iterator[tuple[str, os.DirEntry]]:
    """os.walk's files, without a relpath per folder: what is a folder (a link
    to one included, as os.walk has it) is not a file, and only real folders
    are entered."""
    for entry in _listed(path):
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        if not is_dir:
            yield prefix + entry.name, entry
        elif not entry.is_symlink():
            yield from _entries(entry.path, prefix + entry.name + "/")


def _listed(path: str) -> list[os.DirEntry]:
    """A folder's entries; none when it cannot be listed (as os.walk has it)."""
    try:
        with os.scandir(path) as it:
            return list(it)
    except OSError:
        return []
