"""Where the bundled theme and sample gazette live.

In an installed wheel they are package data under gazette/_bundled/ (mapped
there from the repository's themes/default, content/ and gazette.yaml by
pyproject.toml).  In a source checkout (an editable install) they are the
repository's own folders.  Nothing else is looked at.
"""
from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from . import __version__
from .errors import GazetteError

_PACKAGE = Path(__file__).resolve().parent


def _bundle() -> Path:
    installed = _PACKAGE / "_bundled"
    if installed.is_dir():
        return installed
    return _PACKAGE.parent  # source checkout: the repository root


def builtin_theme() -> Path:
    path = _bundle() / "themes" / "default"
    if not (path / "templates").is_dir():
        raise GazetteError(f"the built-in theme is missing ({path}); reinstall gazette")
    return path


def sample_site() -> Path:
    """The bundled gazette: gazette.yaml and content/."""
    root = _bundle()
    if not (root / "gazette.yaml").is_file() or not (root / "content").is_dir():
        raise GazetteError(f"the bundled sample gazette is missing ({root}); reinstall gazette")
    return root


@functools.cache
def code_identity() -> str:
    """gazette's version and a digest of its own code (every .py file of the
    package, by path and bytes).  Build caches and output keys carry it, so
    nothing kept by one gazette is taken by a build of other code, though
    its version number be the same (a source checkout between releases)."""
    h = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*.py")):
        h.update(path.relative_to(_PACKAGE).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{__version__}+{h.hexdigest()[:16]}"
