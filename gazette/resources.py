"""Where the bundled theme and sample gazette live."""
from __future__ import annotations

from pathlib import Path

from .errors import GazetteError

_REPO = Path(__file__).resolve().parent.parent


def builtin_theme() -> Path:
    path = _REPO / "themes" / "default"
    if not (path / "templates").is_dir():
        raise GazetteError(f"the built-in theme is missing ({path}); reinstall gazette from its repository")
    return path


def sample_site() -> Path:
    """The bundled gazette: gazette.yaml and content/ at the repository root."""
    if not (_REPO / "gazette.yaml").is_file():
        raise GazetteError(f"the bundled sample gazette is missing ({_REPO}); reinstall gazette from its repository")
    return _REPO
