"""Where the bundled theme and sample gazette live.

In an installed wheel they are package data under gazette/_bundled/ (mapped
there from the repository's themes/default, content/ and gazette.yaml by
pyproject.toml).  In a source checkout (an editable install) they are the
repository's own folders.  Nothing else is looked at.
"""
from __future__ import annotations

from pathlib import Path

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
