"""Write stage: a staging folder, then an atomic swap into place.

The writer refuses to write one path twice or anywhere outside the output,
and refuses to replace a folder that gazette did not write.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path, PurePosixPath

from .errors import GazetteError

MARKER = ".gazette-output"


class Writer:
    def __init__(self, out_dir: Path):
        self.out_dir = Path(out_dir).resolve()
        self.staging = self.out_dir.with_name(f".{self.out_dir.name}.staging")
        self.written: set[str] = set()

    def check_target(self, site_root: Path) -> None:
        out, root = self.out_dir, Path(site_root).resolve()
        if out == root or out in root.parents or out == root / "content" or (root / "content") in out.parents:
            raise GazetteError(f"refusing to write output to {out}: it would overwrite the site's sources")
        if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists())):
            raise GazetteError(f"refusing to replace {out}: it exists and was not written by gazette (no {MARKER}); choose another --out or remove it")

    def open(self) -> None:
        if self.staging.exists():
            shutil.rmtree(self.staging)
        self.staging.mkdir(parents=True)
        (self.staging / MARKER).write_text("written by gazette; replaced on every build\n", encoding="utf-8")

    def _target(self, rel: str) -> Path:
        pure = PurePosixPath(rel)
        if pure.is_absolute() or ".." in pure.parts or not rel:
            raise GazetteError(f"internal error: refusing to write outside the output folder: {rel!r}")
        if rel in self.written:
            raise GazetteError(f"two outputs want the same file: {rel}")
        self.written.add(rel)
        return self.staging / pure

    def write(self, rel: str, data: bytes) -> None:
        target = self._target(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def copy(self, rel: str, source: Path) -> None:
        target = self._target(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)

    def commit(self) -> None:
        """Swap the staging folder into place."""
        old = self.out_dir.with_name(f".{self.out_dir.name}.old")
        if old.exists():
            shutil.rmtree(old)
        if self.out_dir.exists():
            os.replace(self.out_dir, old)
        os.replace(self.staging, self.out_dir)
        if old.exists():
            shutil.rmtree(old)

    def abort(self) -> None:
        if self.staging.exists():
            shutil.rmtree(self.staging, ignore_errors=True)
