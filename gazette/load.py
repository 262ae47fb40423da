"""Load stage: files on disk -> validated, typed objects (and diagnostics).

Loading never writes.  Each record file is read, decoded, split, parsed and
validated exactly once; on large sites this runs in worker processes.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import gc
import hashlib
import os
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from . import markdown, review, safefs, yamlload
from .buildcache import LoadCache, file_key
from .config import build_time, load_config
from .sources import FileProblem, read_text, read_yaml_file, split_front_matter
from .validation import schema_problems, unknown_fields, validate_file, validate_yaml
from .errors import Diagnostics
from .progress import NO_PROGRESS, Progress
from .schema import ID_RE, KEY_RE, RECORD_MODELS, RECORD_TYPES, TAXONOMIES, Edition, IssueFile, SiteConfig

PARALLEL_THRESHOLD = 400  # below this many files, worker start-up costs more than it saves
ISSUE_NAME_RE = re.compile(r"^(\d{4})-(\d{2,})$")


# ------------------------------------------------------------- record files
@dataclass
class Loaded:
    """What a worker returns for one record file."""

    path: Path
    id: str
    lang: str | None  # None: the original
    meta: object = None
    lines: dict = field(default_factory=dict)
    body_html: str = ""
    images: list = field(default_factory=list)  # files of the record's folder its body shows
    problems: list = field(default_factory=list)  # (line, field, message)
    warnings: list = field(default_factory=list)
    pii: list = field(default_factory=list)  # (line, text, kind), before pii_allow
    sha256: str = ""  # of the file's bytes, as loaded
    head_sha256: str = ""  # of its front matter alone (what lists of records show)


_ORIGINAL_ONLY = set(RECORD_MODELS["policy"].model_fields) | {
    f for m in RECORD_MODELS.values() for f in m.model_fields
}


def _validate_original(data: dict, located: yamlload.Located, stem_id: str, out: "Loaded"):
    """The front matter of an original, checked against its type's schema.
    -> (model or None, stop): stop when the type itself is unknown (every other
    problem was still reported, against the type it most likely meant)."""
    rtype = data.get("type")
    if not isinstance(rtype, str) or rtype not in RECORD_MODELS:
        close = difflib.get_close_matches(rtype, RECORD_TYPES, n=1, cutoff=0.6) if isinstance(rtype, str) else []
        if "type" not in data:
            out.problems.append((1, "type", f"required field is missing (one of: {', '.join(RECORD_TYPES)})"))
        else:
            hint = f"; did you mean '{close[0]}'?" if close else ""
            out.problems.append((located.line_of(("type",)), "type",
                                 f"{rtype!r} is not a record type (one of: {', '.join(RECORD_TYPES)}){hint}"))
        # every other problem in the same run: the fields of the type it most
        # likely meant (or the fields every type has)
        probe = close[0] if close else "policy"
        try:
            RECORD_MODELS[probe].model_validate(dict(data, type=probe))
        except ValidationError as exc:
            out.problems += [p for p in schema_problems(exc, located) if p[1] != "type" and (close or p[1] != "issuer")]
        out.problems += _raw_checks(data, located, stem_id)
        return None, True
    meta = validate_yaml(RECORD_MODELS[rtype], located, out.problems, out.warnings)
    if meta is None:  # the rules that do not need a valid record, so one run reports everything
        out.problems += _raw_checks(data, located, stem_id)
    return meta, False


def load_record_file(path: Path, stem_id: str, lang: str | None, data: bytes | None = None) -> Loaded:
    out = Loaded(path=path, id=stem_id, lang=lang)
    try:
        if data is None:
            data = path.read_bytes()
        out.sha256 = hashlib.sha256(data).hexdigest()
        text = read_text(path, data)
        out.pii = review.find_pii(text)
        front, body, _ = split_front_matter(text)
        out.head_sha256 = hashlib.sha256(front.encode("utf-8", "surrogatepass")).hexdigest()
        located = yamlload.load(front, line_offset=1)
    except OSError as e:
        out.problems.append((None, None, f"cannot be read: {e.strerror or e}"))
        return out
    except FileProblem as p:
        out.problems.append((p.line, p.field, p.message))
        return out
    except yamlload.YamlError as e:
        out.problems.append((e.line, e.field, e.message))
        return out
    out.lines = located.lines
    data = located.data if isinstance(located.data, dict) else {}
    if lang is None:
        meta, stop = _validate_original(data, located, stem_id, out)
        if stop:
            return out
    else:
        ignored = _ORIGINAL_ONLY - set(Edition.model_fields)
        meta = None
        if isinstance(located.data, dict):
            try:
                meta = Edition.model_validate(located.data)
                out.warnings += unknown_fields(meta, located, ignored_note=ignored)
            except ValidationError as exc:
                out.problems += schema_problems(exc, located)
        else:
            out.problems.append((1, None, "expected a YAML mapping of fields"))
    if meta is not None and meta.id != stem_id:
        out.problems.append((located.line_of(("id",)), "id", f"id '{meta.id}' does not match the file name (expected '{stem_id}')"))
        # go on under the file's name, so the record's other problems show in the same run
        meta = meta.model_copy(update={"id": stem_id})
    out.meta = meta
    if meta is not None:
        refs = markdown.ImageRefs()
        out.body_html = markdown.render(body, stem_id, refs)
        out.images = sorted(set(refs.files))
        lines = text.split("\n")
        for url in refs.external:
            out.warnings.append((_line_of(lines, url), "body", f"the image {url[:120]} is on another host and is left out "
                                 "(pages and PDFs load nothing from elsewhere); put the file in the record's folder"))
        for url in refs.refused:
            out.warnings.append((_line_of(lines, url), "body", f"the image {url[:120]} is not a file of the record's "
                                 f"folder {stem_id}/ and is left out"))
    return out


def _raw_checks(data: dict, located: yamlload.Located, stem_id: str) -> list[tuple]:
    """Rules checked on the raw fields of a record that failed validation: the
    id against the file name, and the review date against publication (for a
    valid record, the same rules run on the model)."""
    out = []
    rid = data.get("id")
    if isinstance(rid, str) and rid != stem_id:
        out.append((located.line_of(("id",)), "id", f"id '{rid}' does not match the file name (expected '{stem_id}')"))
    review, published = data.get("review"), _as_date(data.get("published"))
    reviewed = _as_date(review.get("date")) if isinstance(review, dict) else None
    if reviewed and published and reviewed > published:
        out.append((located.line_of(("review", "date")) or located.line_of(("review",)), "review.date",
                    f"the review ({reviewed}) is after publication ({published}); review first, publish after"))
    return out


def _as_date(value) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        return None


def _line_of(lines: list[str], needle: str) -> int | None:
    for number, line in enumerate(lines, 1):
        if needle in line:
            return number
    return None


def _load_many(jobs: list[tuple[Path, str, str | None]], workers: int, progress: Progress,
               cache: LoadCache | None = None, settle=None) -> list[Loaded]:
    """Load every record file: from the cache where its bytes are unchanged,
    the rest in worker processes on a large site.  In the order of `jobs`."""
    cache = cache if cache is not None else LoadCache(None)
    out: list[Loaded | None] = [None] * len(jobs)
    with progress.task("loading records", len(jobs), "files") as task, _collector_paused(settle):
        if cache.entries:  # an earlier build's: each file is read here, to look it up
            todo = _from_cache(jobs, cache, out, task)
        else:  # nothing to look up (a clean build): the workers read the files
            todo = [(i, (path, rid, lang, None)) for i, (path, rid, lang) in enumerate(jobs)]
        if workers > 1 and len(todo) >= PARALLEL_THRESHOLD:
            _collect_from_workers(todo, out, cache, workers, task)
        else:
            for i, job in todo:
                key, out[i] = _load_keyed(job)
                if key is not None:
                    cache.put(key, out[i])
                task.advance()
    return out


def _from_cache(jobs: list[tuple], cache: LoadCache, out: list, task) -> list[tuple[int, tuple]]:
    """The load cache's results for files whose bytes it knows (into `out`),
    by the SHA-256 of each file (from the run's FileHashes: most files are not
    read at all); -> the other jobs, each with the bytes when they were read."""
    todo = []
    for i, (path, rid, lang) in enumerate(jobs):
        data = None
        try:
            if cache.hashes is not None:
                sha = cache.hashes.sha256(os.fspath(path))
            else:
                data = path.read_bytes()
                sha = hashlib.sha256(data).hexdigest()
        except OSError:
            todo.append((i, (path, rid, lang, None)))  # read again, and said why, where it loads
            continue
        cached = cache.get(file_key(path, sha))
        if isinstance(cached, Loaded) and cached.path == path and cached.lang == lang and cached.id == rid:
            out[i] = cached
            task.advance()
        else:
            todo.append((i, (path, rid, lang, data)))
    return todo


@contextlib.contextmanager
def _collector_paused(settle=None):
    """The cyclic garbage collector, paused while load results are unpickled
    (from the workers or the load cache): every result adds hundreds of
    objects that live to the end of the build, and the collector would go
    over all of them again and again (it doubled the time spent unpickling
    10,000 records).  Forked workers turn it back on for themselves.
    `settle` (the build's heap.long_lived scope): told before the collector
    is back, so the results are out of its reach before the allocations
    counted meanwhile set off a full collection over them."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if settle is not None:
            settle()
        if enabled:
            gc.enable()


def _collect_from_workers(todo: list, out: list, cache: LoadCache, workers: int, task) -> None:
    for (i, _), (key, blob) in zip(todo, _in_workers([job for _, job in todo], workers)):
        out[i] = _unpickle(blob)
        if out[i] is None:  # holds a class the cache's allow-list does not: loaded, not cached
            import pickle

            out[i] = pickle.loads(blob)  # noqa: S301 - our own worker's result
        elif key is not None:
            cache.put(key, blob, out[i])  # stored as the worker pickled it
        task.advance()


def _in_workers(jobs: list[tuple], workers: int):
    """Each job's cache key and Loaded, pickled (the load cache keeps those
    bytes as they are), from worker processes, in order.  Forked workers find
    the jobs (and the files' bytes, if read) in their own memory; elsewhere
    they are sent."""
    import multiprocessing
    import pickle

    chunk = max(16, len(jobs) // (workers * 8))
    try:
        context = multiprocessing.get_context("fork")
    except ValueError:
        context = None
    if context is None:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            yield from ((key, pickle.dumps(loaded, protocol=pickle.HIGHEST_PROTOCOL))
                        for key, loaded in pool.map(_load_keyed, jobs, chunksize=chunk))
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_keep_jobs, initargs=(jobs,)) as pool:
        yield from pool.map(_load_kept, range(len(jobs)), chunksize=chunk)


def _unpickle(blob: bytes) -> Loaded | None:
    """A worker's result through the cache's allow-list (what the next build
    would read back), or None if the allow-list refuses it."""
    import pickle

    from .buildcache import unpickle

    try:
        loaded = unpickle(blob)
    except pickle.UnpicklingError:
        return None
    return loaded if isinstance(loaded, Loaded) else None


# a forked load worker's jobs, set once by _keep_jobs in that worker
_KEPT: list = []


def _keep_jobs(jobs: list) -> None:
    gc.enable()  # forked while the parent's collector was paused
    _KEPT[:] = jobs


def _load_kept(index: int) -> tuple[str | None, bytes]:
    import pickle

    key, loaded = _load_keyed(_KEPT[index])
    return key, pickle.dumps(loaded, protocol=pickle.HIGHEST_PROTOCOL)


def _load_keyed(job: tuple) -> tuple[str | None, Loaded]:
    """(path, id, language, bytes or None: read them here) -> the load cache's
    key of the file (None: it could not be read) and its Loaded."""
    path, rid, lang, data = job
    if data is None:
        try:
            data = path.read_bytes()
        except OSError:
            return None, load_record_file(path, rid, lang)  # says why, in its words
    return file_key(path, hashlib.sha256(data).hexdigest()), load_record_file(path, rid, lang, data)


# ---------------------------------------------------------------- discovery
def discover_records(records_dir: Path) -> list[Path]:
    """Every record file under `records_dir`: *.md files (links to files
    included, links to folders not entered, as Path.rglob has it), in path
    order, less Markdown inside a record's attachment folder ID/ (it is not a
    record).  One scandir walk, on strings: 11,000 files at 10,000 records."""
    if not records_dir.is_dir():
        return []
    found: list[list[str]] = []

    def walk(path: str, parts: list[str]) -> None:
        for entry in safefs._listed(path):
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                if not entry.is_symlink():
                    walk(entry.path, parts + [entry.name])
            elif entry.name.endswith(".md") and entry.is_file():
                found.append(parts + [entry.name])

    walk(os.fspath(records_dir), [])
    found.sort()  # as Path sorts: part by part
    names = {"/".join(parts) for parts in found}
    out = []
    for parts in found:
        # inside ID/ when ID.md is a file beside one of its folders
        if not any("/".join(parts[:i]) + ".md" in names for i in range(1, len(parts))):
            out.append(records_dir.joinpath(*parts))
    return out


# --------------------------------------------------------------------- the site
@dataclass
class LoadedSite:
    root: Path
    config: SiteConfig | None
    build_time: dt.datetime | None
    taxonomies: dict[str, dict] = field(default_factory=dict)
    taxonomy_lines: dict[str, tuple[Path, dict]] = field(default_factory=dict)
    originals: dict[str, Loaded] = field(default_factory=dict)
    editions: list[Loaded] = field(default_factory=list)
    issues: list[tuple[Path, IssueFile, dict]] = field(default_factory=list)


def load_taxonomies(root: Path, config: SiteConfig, diags: Diagnostics, site: LoadedSite) -> None:
    langs = config.languages
    for name, model in TAXONOMIES.items():
        path = root / "content" / "_taxonomy" / f"{name}.yaml"
        entries: dict = {}
        site.taxonomies[name] = entries
        if not path.is_file():
            continue
        located = read_yaml_file(path, diags)
        if located is None or located.data is None:
            continue
        if not isinstance(located.data, dict):
            diags.error(path, 1, None, "expected a mapping from key to entry")
            continue
        site.taxonomy_lines[name] = (path, located.lines)
        for key, value in located.data.items():
            line = located.line_of((key,))
            if not KEY_RE.match(str(key)):
                diags.error(path, line, key, f"'{key}' is not a valid key (lower-case letters, digits and '-')")
                continue
            sub = yamlload.Located(value, {k[1:]: v for k, v in located.lines.items() if k[:1] == (key,)})
            entry = validate_file(model, sub, path, diags, field_prefix=key, context={"languages": langs})
            if entry is not None:
                entries[key] = entry


def load_issues(root: Path, config: SiteConfig, diags: Diagnostics, site: LoadedSite) -> None:
    folder = root / "content" / "issues"
    if not folder.is_dir():
        return
    langs = config.languages
    for path in sorted(folder.iterdir()):
        if path.suffix not in (".yaml", ".yml") or not path.is_file():
            continue
        m = ISSUE_NAME_RE.match(path.stem)
        if not m:
            diags.error(path, None, None, "an issue file must be named YYYY-NN.yaml (e.g. 2024-05.yaml)")
            continue
        located = read_yaml_file(path, diags)
        issue = validate_file(IssueFile, located, path, diags, context={"languages": langs}) if located else None
        if issue is None:
            continue
        if issue.year != int(m[1]):
            diags.error(path, located.line_of(("year",)), "year", f"year {issue.year} does not match the file name {path.name}")
            continue
        if issue.number != int(m[2]):
            diags.error(path, located.line_of(("number",)), "number", f"number {issue.number} does not match the file name {path.name}")
            continue
        if len(m[2]) > 2 and m[2].startswith("0"):
            diags.error(path, None, None, f"the issue number in {path.name} has extra leading zeros (use {issue.year}-{issue.number:02d}.yaml)")
            continue
        site.issues.append((path, issue, located.lines))


def load_records(root: Path, config: SiteConfig, diags: Diagnostics, site: LoadedSite, workers: int,
                 progress: Progress, cache: LoadCache | None = None, settle=None) -> None:
    records_dir = root / "content" / "records"
    jobs = []
    langs = config.languages
    for path in discover_records(records_dir):
        stem = path.name[:-3]
        rid, _, lang = stem.partition(".")
        if not ID_RE.match(rid):
            diags.error(path, None, "id", f"'{rid}' is not a valid record id; a record file is named ID.md with ID matching {ID_RE.pattern}")
            continue
        if lang:
            if lang not in langs:
                diags.error(path, None, None, f"edition in language '{lang}', which is not configured (languages: {', '.join(langs)})")
                continue
            if lang == langs[0]:
                diags.error(path, None, None, f"'{lang}' is the language of the originals; the original is {rid}.md")
                continue
        jobs.append((path, rid, lang or None))
    for loaded in _load_many(jobs, workers, progress, cache, settle):
        for line, fld, msg in loaded.problems:
            diags.error(loaded.path, line, fld, msg)
        for line, fld, msg in loaded.warnings:
            diags.warning(loaded.path, line, fld, msg)
        if loaded.lang is None:
            if loaded.id in site.originals:
                first = site.originals[loaded.id].path
                diags.error(loaded.path, loaded.lines.get(("id",)), "id", f"duplicate id '{loaded.id}' (also {diags.rel(first)})")
                continue
            site.originals[loaded.id] = loaded
        else:
            site.editions.append(loaded)


def check_links(root: Path, config: SiteConfig, diags: Diagnostics) -> None:
    """A symbolic link is followed only while it stays inside the folder it is in
    (content/, the site's theme, archive/): anything else would let a
    contributed link publish a file from elsewhere on the machine."""
    for folder in (root / "content", root / "themes" / config.theme, root / "archive"):
        for path in safefs.links_out(folder, folder):
            diags.error(path, None, None, f"is a symbolic link that leads outside {folder.relative_to(root).as_posix()}/ "
                                          f"(to {os.path.realpath(path)}); gazette does not follow it")


def load_site(root: Path, diags: Diagnostics, workers: int | None = None, progress: Progress = NO_PROGRESS,
              epoch: str | None = None, cache: LoadCache | None = None, settle=None) -> LoadedSite:
    """`cache`: record files loaded by an earlier build (buildcache.LoadCache);
    a file whose bytes are unchanged is taken from it.  `settle`: the
    build's heap.long_lived scope, told when the records are loaded."""
    root = Path(root)
    config = load_config(root, diags)
    site = LoadedSite(root=root, config=config, build_time=None)
    if config is None:
        return site
    try:
        site.build_time = build_time(config.timezone, epoch)
    except FileProblem as p:
        diags.error(None, None, p.field, p.message)
        return site
    if not (root / "content").is_dir():
        diags.error(root / "content", None, None, "the site has no content/ folder")
        return site
    workers = workers if workers is not None else (os.cpu_count() or 1)
    check_links(root, config, diags)
    for name in ("records", "issues", "_taxonomy"):
        folder = root / "content" / name
        if folder.exists() and not folder.is_dir():
            diags.error(folder, None, None, f"content/{name} must be a folder")
    if diags.errors:
        return site
    load_taxonomies(root, config, diags, site)
    load_issues(root, config, diags, site)
    load_records(root, config, diags, site, workers, progress, cache, settle)
    return site


