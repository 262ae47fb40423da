"""Write stage: a staging folder, then an atomic swap into place.

The writer refuses to write one path twice or anywhere outside the output,
and refuses to replace a folder that gazette did not write.

The swap leaves the replaced output beside the new one as the spare
(.NAME.spare).  The next incremental build takes it as its staging folder and
changes in it only what differs: most of its files are already the very files
of the published output (hard links), so a small change costs a small build,
not 20,000 new links and as many deletions.  Nothing in the spare is trusted:
a file is kept only while it is the same file (inode) as the published one
that build takes (itself checked against the build state), a file written is
always a new file in place of whatever was there (never written into: it may
be a link of a published file), a folder on the way must be a real folder,
and whatever the build did not put there is removed before the manifest is
made (`Writer.settle`).
"""
from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import subprocess
import time
from pathlib import Path

from . import safefs
from .buildcache import BuildState, OutputFile
from .signing import sha256_file
from .errors import GazetteError

MARKER = ".gazette-output"


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    AT_FDCWD, RENAME_EXCHANGE = -100, 2
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def checked_rel(rel: str) -> str:
    """The output path rule: a relative path that stays inside the output folder."""
    if not rel or rel.startswith("/") or ".." in rel.split("/"):
        raise GazetteError(f"internal error: refusing to write outside the output folder: {rel!r}")
    return rel


class Staging:
    """Files put into a staging folder (a new one, or a reused spare: see the
    module's docstring).  Folders on the way are made, or checked once each to
    be real folders (a file or link in a folder's place is removed), so
    nothing is ever written outside `root`; a file's place is emptied before
    it is written, never written into."""

    def __init__(self, root: Path, fresh: bool = True):
        """`fresh`: a new, empty folder (else most folders are there already)."""
        self.root = os.fspath(root)
        self.fresh = fresh
        self._folders: set[str] = {self.root}

    def path(self, rel: str) -> str:
        return os.path.join(self.root, checked_rel(rel))

    def folder(self, folder: str) -> None:
        if folder in self._folders:
            return
        parent = os.path.dirname(folder)
        if parent == folder:  # not under the root: the output path rule was bypassed
            raise GazetteError(f"internal error: refusing to write outside the staging folder: {folder}")
        self.folder(parent)
        try:
            st = None if self.fresh else os.lstat(folder)  # one system call for a folder that is there
        except FileNotFoundError:
            st = None
        if st is None:
            try:
                os.mkdir(folder)
            except FileExistsError:  # another render worker's, just now (or the spare's)
                st = os.lstat(folder)
        if st is not None and not stat.S_ISDIR(st.st_mode):
            try:
                remove_path(folder, st)  # a file or link in a folder's place
            except FileNotFoundError:
                pass
            os.makedirs(folder, exist_ok=True)
        self._folders.add(folder)

    def write(self, target: str, data: bytes) -> None:
        """A new file at `target` (three system calls, not Python's six: tens
        of thousands of files a build)."""
        self.folder(os.path.dirname(target))
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(target, flags, 0o666)
        except FileExistsError:
            remove_path(target)
            fd = os.open(target, flags, 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)

    def link(self, source: Path | str, target: str, source_stat: os.stat_result | None = None) -> None:
        """`target` becomes the file `source` (a hard link; a copy where links
        are not possible); nothing is done when it already is that file.
        `source_stat`: the source's status, when the caller has it."""
        self.folder(os.path.dirname(target))
        try:
            st = os.lstat(target)
        except FileNotFoundError:
            st = None
        if st is not None:
            if stat.S_ISREG(st.st_mode):
                src = source_stat or os.stat(source, follow_symlinks=False)
                if src.st_ino == st.st_ino and src.st_dev == st.st_dev:
                    return
            remove_path(target, st)
        try:
            os.link(source, target, follow_symlinks=False)
        except OSError:
            shutil.copy2(source, target)

    def copy(self, source: Path, target: str) -> None:
        self.folder(os.path.dirname(target))
        if os.path.lexists(target):
            remove_path(target)
        shutil.copyfile(source, target)


def remove_path(path: str, st: os.stat_result | None = None) -> None:
    """Whatever is at `path` (a folder with all in it; a link itself, not its target)."""
    st = st or os.lstat(path)
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _discard(folder: Path, like: Path) -> None:
    """Remove a folder of gazette's without waiting for it: renamed aside at
    once (LIKE.trash-..., so the next build finds the place free), then
    deleted by `rm -rf` in the background; in this process where that cannot
    start."""
    trash = like.with_name(f"{like.name}.trash-{os.getpid()}-{time.monotonic_ns()}")
    try:
        os.replace(folder, trash)
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)
        return
    try:
        subprocess.Popen(["rm", "-rf", "--", os.fspath(trash)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
    except OSError:
        shutil.rmtree(trash, ignore_errors=True)


def _ours(folder: Path) -> bool:
    """A real folder (not a link to one) with gazette's marker in it."""
    try:
        return stat.S_ISDIR(os.lstat(folder).st_mode) and os.path.isfile(os.path.join(folder, MARKER))
    except OSError:
        return False


def _home() -> Path | None:
    try:
        return Path.home().resolve()
    except (RuntimeError, KeyError, OSError):
        return None


class Writer:
    def __init__(self, out_dir: Path, sources: list[Path] | None = None, previous: BuildState | None = None):
        """`sources`: the folders files may be copied from (the site, the
        built-in theme, the cache); a copy from anywhere else is refused.
        `previous`: what the last build wrote into out_dir (incremental builds)."""
        self.previous = previous
        self.keys: dict[str, str] = {}  # rel -> key, for files written or reused under a key
        self.linked: set[str] = set()  # files reused from the last output
        self.sources = [Path(s) for s in sources or []]
        self.out_dir = Path(out_dir).resolve()
        if not self.out_dir.name or self.out_dir == self.out_dir.parent or self.out_dir == _home():
            raise GazetteError(f"refusing to write output to {self.out_dir}: choose a folder of its own, such as SITE/output")
        self.staging = self.out_dir.with_name(f".{self.out_dir.name}.staging")
        self.old = self.out_dir.with_name(f".{self.out_dir.name}.old")
        self.spare = self.out_dir.with_name(f".{self.out_dir.name}.spare")  # the output before, to build in next
        self.tree = Staging(self.staging)
        self.written: set[str] = set()
        self.hashes: dict[str, str] = {}  # rel -> SHA-256 of what was written (for the manifest)

    def check_target(self, site_root: Path, keep: list[Path] = ()) -> None:
        """Refuse an output folder that would overwrite sources or anything in
        `keep` (the subscriber database, the archive, the cache), or a folder
        (or staging folder beside it) that gazette did not write."""
        self.recover()
        out, root = self.out_dir, Path(site_root).resolve()
        if out == root or out in root.parents or out == root / "content" or (root / "content") in out.parents:
            raise GazetteError(f"refusing to write output to {out}: it would overwrite the site's sources")
        for path in keep:
            path = Path(path).resolve()
            if path == out or out in path.parents or path in out.parents:
                raise GazetteError(f"refusing to write output to {out}: it would publish or delete {path}; choose another --out")
        for folder in (out, self.staging, self.old, self.spare):
            if folder.exists() and (not folder.is_dir() or (any(folder.iterdir()) and not (folder / MARKER).exists())):
                raise GazetteError(f"refusing to replace {folder}: it exists and was not written by gazette (no {MARKER}); choose another --out or remove it")

    def open(self) -> None:
        """Make the staging folder: with the last build's state (an incremental
        build), the staging folder a killed build left, else the spare, to
        change only what differs; else a new, empty one."""
        self.recover()
        base = None
        if self.previous is not None:
            base = next((f for f in (self.staging, self.spare) if _ours(f)), None)
        for folder in (self.staging, self.spare):
            if folder != base and os.path.lexists(folder):
                _discard(folder, self.old)
        if base is None:
            self.staging.mkdir(parents=True)
        elif base != self.staging:
            os.replace(base, self.staging)
        self.tree = Staging(self.staging, fresh=base is None)
        self._clear_old_trash()
        self.tree.write(self.tree.path(MARKER), b"written by gazette; replaced on every build\n")

    def _clear_old_trash(self) -> None:
        """Replaced outputs whose background deletion did not finish (the machine
        stopped): gone once they are ten minutes old."""
        for trash in self.out_dir.parent.glob(f"{self.old.name}.trash-*"):
            try:
                if (trash / MARKER).is_file() and time.time() - trash.stat().st_ctime > 600:
                    shutil.rmtree(trash, ignore_errors=True)
            except OSError:
                pass

    def recover(self) -> None:
        """A build killed between the two renames of the fallback swap leaves the
        previous output as .NAME.old and no output: put it back."""
        if not self.out_dir.exists() and (self.old / MARKER).is_file():
            os.replace(self.old, self.out_dir)

    def claim(self, rel: str) -> str:
        """The output path rules: inside the output folder, one output per file."""
        checked_rel(rel)
        if rel in self.written:
            raise GazetteError(f"two outputs want the same file: {rel}")
        self.written.add(rel)
        return rel

    def _target(self, rel: str) -> str:
        return self.tree.path(self.claim(rel))

    def _check_source(self, source: Path) -> None:
        if self.sources and not any(not safefs.escapes(source, root) for root in self.sources):
            raise GazetteError(f"refusing to publish {source}: it lies outside the site folder (a symbolic link?)")

    def reuse(self, rel: str, key: str | None) -> bool:
        """Take `rel` from the last output when it was written under `key` and is
        still exactly that file: a hard link into the new output (a copy where
        links are not possible).  False: render it."""
        if not key or self.previous is None:
            return False
        found = self.previous.intact_file(self.out_dir, rel)
        if found is None or found[0].key != key:
            return False
        entry, st = found
        self.tree.link(os.path.join(self.out_dir, rel), self._target(rel), st)
        self.hashes[rel] = entry.sha256
        self.keys[rel] = key
        self.linked.add(rel)
        return True

    def write(self, rel: str, data: bytes, key: str | None = None) -> None:
        """Write `rel`; when the last output holds the very same bytes there, that
        file is linked instead (an unchanged file keeps its identity and time)."""
        target = self._target(rel)
        sha = hashlib.sha256(data).hexdigest()
        self.hashes[rel] = sha
        self.keys[rel] = key or ""
        found = self.previous.intact_file(self.out_dir, rel) if self.previous is not None else None
        if found is not None and found[0].sha256 == sha:  # the last output holds these bytes: that file
            self.tree.link(os.path.join(self.out_dir, rel), target, found[1])
            self.linked.add(rel)
            return
        self.tree.write(target, data)

    def copy(self, rel: str, source: Path) -> None:
        self._check_source(source)
        try:
            st = os.stat(source)
            key = f"copy:{os.fsdecode(os.path.abspath(source))}:{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            key = None
        if self.reuse(rel, key):
            return
        self.tree.copy(source, self._target(rel))
        self.keys[rel] = key or ""

    def state(self, listing: dict | None = None) -> BuildState:
        """What this build wrote, for the next one: call after commit.
        `listing`: each file's (size, modification time), when known (the
        walk of the staging folder before commit: the same files)."""
        listing = listing or {}
        files = {}
        before = self.previous.files if self.previous is not None else {}
        for rel, key in sorted(self.keys.items()):
            old = before.get(rel)
            if old is not None and rel in self.linked:
                files[rel] = OutputFile(key, old.sha256, old.size, old.mtime_ns)  # the same file, linked
                continue
            sha = self.hashes.get(rel)
            if sha is None:
                sha = sha256_file(self.out_dir / rel)
            known = listing.get(rel)
            if known is None:
                st = os.stat(self.out_dir / rel)
                known = (st.st_size, st.st_mtime_ns)
            files[rel] = OutputFile(key, sha, *known)
        return BuildState(out_dir=str(self.out_dir), files=files)

    def settle(self, keep: tuple[str, ...] = ()) -> dict[str, tuple[int, int]]:
        """After the last file is in: remove from the staging folder whatever
        this build did not put there (what the spare held that the new output
        does not, anything planted, links of any kind; what lies under a
        `keep` prefix stays: the search index, made anew in the folder) and
        -> every file left: relative path -> (size, modification time).  One
        walk: the manifest's list of files and the next build's listing."""
        listing: dict[str, tuple[int, int]] = {}
        wanted = self.written

        def walk(path: str, prefix: str) -> bool:  # -> whether anything is left in it
            left = False
            try:
                with os.scandir(path) as it:
                    entries = list(it)
            except OSError as exc:  # what cannot be looked at cannot be published
                raise GazetteError(f"cannot read {path} in the staging folder ({exc.strerror or exc}); remove it") from None
            for entry in entries:
                rel = prefix + entry.name
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    if walk(entry.path, rel + "/"):
                        left = True
                    else:
                        os.rmdir(entry.path)
                elif stat.S_ISREG(st.st_mode) and (rel in wanted or rel == MARKER or rel.startswith(keep)):
                    listing[rel] = (st.st_size, st.st_mtime_ns)
                    left = True
                else:
                    os.unlink(entry.path)
            return left

        walk(os.fspath(self.staging), "")
        return listing

    def commit(self) -> None:
        """Swap the staging folder into place in one step, so a reader (or a
        kill) sees the old output or the new one, never none; the old one
        becomes the spare."""
        if self.old.exists():
            shutil.rmtree(self.old)
        if os.path.lexists(self.spare):
            _discard(self.spare, self.old)
        if self.out_dir.exists() and _exchange(self.staging, self.out_dir):
            os.replace(self.staging, self.spare)  # the previous output, now beside it
        else:
            if self.out_dir.exists():
                os.replace(self.out_dir, self.old)
            os.replace(self.staging, self.out_dir)
        if self.old.exists():
            os.replace(self.old, self.spare)

    def abort(self) -> None:
        """A failed build's staging folder: the spare, unless there is one."""
        if not _ours(self.staging):
            return
        if not os.path.lexists(self.spare):
            os.replace(self.staging, self.spare)
        else:
            _discard(self.staging, self.old)


class NullWriter(Writer):
    """What `gazette check` writes to: every stage of a build runs and every
    output goes through the writer's rules (inside the output folder, one
    output per file, nothing published from outside the site), but no byte is
    kept and nothing on disk changes."""

    def __init__(self, sources: list[Path] | None = None):
        self.sources = [Path(s) for s in sources or []]
        self.previous = None
        self.keys = {}
        self.linked = set()
        self.written = set()
        self.hashes = {}
        self.bytes = 0

    def check_target(self, site_root: Path, keep: list[Path] = ()) -> None:
        pass

    def open(self) -> None:
        pass

    def recover(self) -> None:
        pass

    def write(self, rel: str, data: bytes, key: str | None = None) -> None:
        self.claim(rel)
        self.bytes += len(data)

    def copy(self, rel: str, source: Path) -> None:
        self._check_source(source)
        self.claim(rel)
        if not Path(source).is_file():
            raise GazetteError(f"cannot publish {source}: not a file")

    def commit(self) -> None:
        pass

    def abort(self) -> None:
        pass
