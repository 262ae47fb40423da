"""The build cache: what an incremental build reuses from the last one.

Three kinds of file per cache folder (SITE/.gazette-cache/, or the run's cache folder):

* `load/XX.cache`: every record file's load result (parsed, validated,
  Markdown rendered), keyed by the file's path and the SHA-256 of its bytes.
  A file whose bytes did not change is not read into YAML or Markdown again.
* `builds/OUT.state`: per output folder, every file the last build wrote
  there, with the key of its inputs, its SHA-256, size and modification time.
  A page whose key is unchanged, and whose file in the output is still the one
  that build wrote, is linked into the new output instead of rendered again.

* `inputs.index`: the SHA-256 of every source file, with the file's status
  (size, modification and change times, inode) when it was read: a file
  whose status is unchanged is not read again (`FileHashes`).

All are checked before use: a file whose checksum does not match, that was
written by another version of gazette or for another folder, or that cannot be
read is ignored (and replaced by the next build): a damaged cache costs time,
never correctness.  The load cache is unpickled with an allow-list of the
classes gazette itself stores (its own data classes and models, paths and
dates), so a planted cache file cannot run code.
"""
from __future__ import annotations

import hashlib
import io
import os
import pickle
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from .resources import code_identity
from .safefs import stats_under

_MAGIC = b"gazette-cache 2\n"  # 2: load results hold head_sha256


class _AllowListUnpickler(pickle.Unpickler):
    """Only the classes gazette stores here: its record models, its load
    results and build states, paths and dates.  None of them does anything
    when made but hold data, so a planted cache file cannot run code."""

    _MODULES = {"gazette.schema"}  # the record models: validated when made, nothing else
    _OTHERS = {("gazette.load", "Loaded"), ("gazette.buildcache", "BuildState"), ("gazette.buildcache", "OutputFile"),
               ("pathlib", "PosixPath"), ("pathlib", "WindowsPath"), ("datetime", "date"), ("datetime", "datetime"),
               ("datetime", "timezone"), ("datetime", "timedelta"), ("builtins", "set"), ("builtins", "frozenset")}

    _found: dict[tuple[str, str], type] = {}  # classes allowed and looked up: each load result names several

    def find_class(self, module: str, name: str):
        found = self._found.get((module, name))
        if found is not None:
            return found
        if (module, name) in self._OTHERS or (module in self._MODULES and not name.startswith("_")):
            value = super().find_class(module, name)
            if isinstance(value, type):
                self._found[(module, name)] = value
                return value
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in gazette's cache")


def _seal(payload: bytes) -> bytes:
    return _MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload


def _unseal(data: bytes) -> bytes | None:
    if not data.startswith(_MAGIC):
        return None
    end = data.find(b"\n", len(_MAGIC))
    if end < 0:
        return None
    payload = data[end + 1:]  # one copy (the load cache is over a hundred MB)
    return payload if hashlib.sha256(payload).hexdigest().encode() == data[len(_MAGIC):end] else None


def unpickle(payload: bytes):
    """Unpickle what gazette itself stored (the allow-list above)."""
    return _AllowListUnpickler(io.BytesIO(payload)).load()


def _read_sealed(path: Path):
    try:
        payload = _unseal(path.read_bytes())
        if payload is None:
            return None
        return unpickle(payload)
    except Exception:  # noqa: BLE001 - any damage means: no cache
        return None


def _write_sealed(path: Path, value) -> None:
    """Atomically: a reader sees the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(_seal(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)))
    os.replace(tmp, path)


def file_key(path: Path, sha256: str) -> str:
    """The load cache's key of a file: its path and the SHA-256 of its bytes."""
    return hashlib.sha256(os.fsencode(path) + b"\0" + sha256.encode()).hexdigest()


class FileHashes:
    """The SHA-256 of source files, each remembered with the file's status
    (size, modification and change times, inode, device), as git's index
    does: a file whose status is the recorded one keeps its recorded digest
    without being read, unless it changed less than two seconds before the
    record was made (a second change within the file system's timestamp
    granularity could then keep the same status: such files are read again).
    Any write to a file sets its change time, which no tool can set back.
    `trust`: False reads every file (a clean build)."""

    def __init__(self, folder: Path | None, trust: bool = True, margin_ns: int = 2_000_000_000):
        self.margin_ns = margin_ns
        self.path = Path(folder) / "inputs.index" if folder else None
        self.known: dict[str, tuple] = {}
        self.now: dict[str, tuple] = {}  # path -> (size, mtime, ctime, inode, device, sha256), as of this run
        self.saved_at = 0
        self.read = 0  # files read (not known, or changed)
        stored = _read_sealed(self.path) if self.path is not None and trust else None
        if isinstance(stored, dict) and stored.get("gazette") == code_identity() and isinstance(stored.get("entries"), dict):
            self.known, self.saved_at = stored["entries"], int(stored.get("saved_at") or 0)

    def sha256(self, path: str) -> str:
        """The SHA-256 of the file's bytes (OSError: it cannot be read)."""
        done = self.now.get(path)
        if done is not None:
            return done[5]
        st = os.stat(path)
        status = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)
        old = self.known.get(path)
        if old is not None and old[:5] == status and max(st.st_mtime_ns, st.st_ctime_ns) < self.saved_at - self.margin_ns:
            sha = old[5]
        else:
            with open(path, "rb") as f:
                sha = hashlib.sha256(f.read()).hexdigest()
            self.read += 1
        self.now[path] = (*status, sha)
        return sha

    def save(self) -> None:
        """Keep this run's digests for the next (when any file was read)."""
        if self.path is None or (not self.read and self.now.keys() == self.known.keys()):
            return
        _write_sealed(self.path, {"gazette": code_identity(), "saved_at": time.time_ns(), "entries": self.now})


class LoadCache:
    """Record files' load results by (path, bytes), in 256 shards by key, so a
    build that changed one file rewrites one small shard.  Entries a build did
    not use are dropped when it saves: the cache holds one site's files."""

    def __init__(self, folder: Path | None, session: "Session | None" = None):
        """`session`: what this process's last build of the same cache folder
        kept (its entries, its load results unpickled): the folder is then
        not read (every entry is keyed by a file's bytes, so what another
        process wrote there since changes nothing this one holds)."""
        self.folder = Path(folder) / "load" if folder else None
        self.entries: dict[str, dict[str, object]] = {}  # shard -> key -> value, as stored
        self.used: dict[str, dict[str, object]] = {}
        self.objects: dict[str, object] = {}  # key -> load result, unpickled (for a session to keep)
        self.hits = 0
        self.hashes: FileHashes | None = None  # this run's digests of source files (a build's), to look files up by
        kept = session.loads.get(os.fspath(self.folder)) if session is not None and self.folder is not None else None
        if kept is not None:
            self.entries, self.objects = kept
        elif self.folder is not None and self.folder.is_dir():
            for path in sorted(self.folder.glob("*.cache")):
                stored = _read_sealed(path)
                if isinstance(stored, dict) and stored.get("gazette") == code_identity() and isinstance(stored.get("entries"), dict):
                    self.entries[path.stem] = stored["entries"]

    def get(self, key: str):
        stored = self.entries.get(key[:2], {}).get(key)
        value = self.objects.get(key) if stored is not None else None
        if value is not None:
            self.used.setdefault(key[:2], {})[key] = stored
            self.hits += 1
            return value
        value = stored
        if isinstance(stored, bytes):  # as a load worker pickled it
            try:
                value = unpickle(stored)
            except Exception:  # noqa: BLE001 - a damaged entry: no cache
                return None
        if value is not None:
            self.used.setdefault(key[:2], {})[key] = stored
            self.objects[key] = value
            self.hits += 1
        return value

    def put(self, key: str, value, loaded=None) -> None:
        """`value`: the load result, or its pickle (kept as it is; `loaded`:
        the load result it holds)."""
        self.used.setdefault(key[:2], {})[key] = value
        self.objects[key] = value if loaded is None else loaded

    def save(self) -> None:
        if self.folder is None:
            return
        for shard in sorted(set(self.entries) | set(self.used)):
            stored, used = self.entries.get(shard, {}), self.used.get(shard, {})
            if stored.keys() == used.keys():
                continue
            if used:
                _write_sealed(self.folder / f"{shard}.cache", {"gazette": code_identity(), "entries": used})
            else:
                (self.folder / f"{shard}.cache").unlink(missing_ok=True)
        self.entries = {k: dict(v) for k, v in self.used.items()}
        self.objects = {k: v for k, v in self.objects.items() if k in self.entries.get(k[:2], ())}

    def keep(self, session: "Session") -> None:
        """After save: the session holds this run's entries for the next build."""
        if self.folder is not None:
            session.loads[os.fspath(self.folder)] = (self.entries, self.objects)


def listing_of(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under `folder`: relative path -> (size, modification time)."""
    return {rel: (st.st_size, st.st_mtime_ns) for rel, _, st in stats_under(folder)}


@dataclass
class OutputFile:
    key: str  # the digest of what the file was made from
    sha256: str
    size: int = 0
    mtime_ns: int = 0


@dataclass
class BuildState:
    """What the last build wrote into one output folder."""

    out_dir: str
    inputs: str = ""  # the digest of every input of the build (for "nothing changed")
    files: dict[str, OutputFile] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)  # per-file data a reused file still needs (its links and anchors)

    @staticmethod
    def path_for(cache_dir: Path, out_dir: Path) -> Path:
        name = hashlib.sha256(os.fsencode(Path(out_dir).resolve())).hexdigest()[:24]
        return Path(cache_dir) / "builds" / f"{name}.state"

    @classmethod
    def load(cls, cache_dir: Path, out_dir: Path, session: "Session | None" = None) -> "BuildState":
        """The state saved for out_dir (or an empty one).  `session`: the state
        this process saved last, while the file is still the one it wrote."""
        path = cls.path_for(cache_dir, out_dir)
        kept = session.state_of(path) if session is not None else None
        if kept is not None:
            return kept
        stored = _read_sealed(path)
        out = str(Path(out_dir).resolve())
        if (isinstance(stored, dict) and stored.get("gazette") == code_identity() and isinstance(stored.get("state"), cls)
                and stored["state"].out_dir == out):
            return stored["state"]
        return cls(out_dir=out)

    def save(self, cache_dir: Path, session: "Session | None" = None) -> None:
        path = self.path_for(cache_dir, Path(self.out_dir))
        _write_sealed(path, {"gazette": code_identity(), "state": self})
        if session is not None:
            session.keep_state(path, self)

    @staticmethod
    def forget(cache_dir: Path, out_dir: Path) -> None:
        try:
            BuildState.path_for(cache_dir, out_dir).unlink()
        except FileNotFoundError:
            pass

    def untouched(self, out_dir: Path) -> bool:
        """The output folder holds exactly the files the build left there, each
        with the size and time it had then (`extra["listing"]`)."""
        listing = self.extra.get("listing")
        return isinstance(listing, dict) and bool(listing) and listing == listing_of(Path(out_dir))

    def intact_file(self, out_dir: Path, rel: str) -> tuple[OutputFile, os.stat_result] | None:
        """The recorded file and its status (to link it by), if the output still
        holds exactly it (same size and modification time as when written:
        nobody touched it since)."""
        entry = self.files.get(rel)
        if entry is None:
            return None
        try:
            st = os.stat(os.path.join(out_dir, rel), follow_symlinks=False)
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode):
            return None  # a symbolic link (or anything else) put there: never carried over
        return (entry, st) if st.st_size == entry.size and st.st_mtime_ns == entry.mtime_ns else None




class Session:
    """What a long-running process (`gazette serve`) keeps in memory between
    its builds of one site, so a rebuild does not read it again: the load
    results (unpickled, by the load cache's keys) and the build state it saved
    last.  A state is used only while its file is the very one this process
    wrote (same inode, size and modification time): a build by another
    process in between, or a damaged or removed file, and it is read (and
    checked) again.  Held by its caller: gazette keeps no global state."""

    def __init__(self):
        self.loads: dict[str, tuple[dict, dict]] = {}  # load folder -> (entries, objects) (LoadCache)
        self._states: dict[str, tuple[tuple, BuildState]] = {}  # state file -> (its status, the state)

    @staticmethod
    def _status(path: Path) -> tuple | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def keep_state(self, path: Path, state: BuildState) -> None:
        status = self._status(path)
        if status is not None:
            self._states[os.fspath(path)] = (status, state)

    def state_of(self, path: Path) -> BuildState | None:
        kept = self._states.get(os.fspath(path))
        if kept is None or kept[0] != self._status(path):
            self._states.pop(os.fspath(path), None)
            return None
        return kept[1]
