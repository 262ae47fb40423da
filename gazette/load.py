"""Load stage: files on disk -> validated, typed objects (and diagnostics).

Loading never writes.  Each record file is read, decoded, split, parsed and
validated exactly once; on large sites this runs in worker processes.
"""
from __future__ import annotations

import datetime as dt
import difflib
import os
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError

from . import markdown, review, safefs, yamlload
from .errors import Diagnostics
from .model import RecordEdition
from .progress import NO_PROGRESS, Progress
from .schema import ID_RE, KEY_RE, RECORD_MODELS, RECORD_TYPES, TAXONOMIES, Edition, IssueFile, SiteConfig

PARALLEL_THRESHOLD = 400  # below this many files, worker start-up costs more than it saves
ISSUE_NAME_RE = re.compile(r"^(\d{4})-(\d{2,})$")


# ----------------------------------------------------------------- raw reading
class FileProblem(Exception):
    def __init__(self, line, field, message):
        super().__init__(message)
        self.line, self.field, self.message = line, field, message


def read_text(path: Path) -> str:
    data = path.read_bytes()
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


# ----------------------------------------------------- validation -> messages
def _clean_msg(msg: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return msg[len(prefix) :]
    return msg


_WORDS = {
    "string_type": "must be text", "int_type": "must be a whole number", "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number", "float_type": "must be a number", "float_parsing": "must be a number",
    "bool_type": "must be true or false", "bool_parsing": "must be true or false",
    "date_type": "must be a date written YYYY-MM-DD", "date_parsing": "must be a date written YYYY-MM-DD",
    "date_from_datetime_parsing": "must be a date written YYYY-MM-DD",
    "list_type": "must be a list", "dict_type": "must be a mapping (key: value)",
    "model_type": "must be a mapping (key: value)", "model_attributes_type": "must be a mapping (key: value)",
}


def _in_our_words(err: dict) -> str:
    """A pydantic error as gazette says it ("must be true or false"), not as
    the validation library does ("Input should be a valid boolean")."""
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind in _WORDS:
        return _WORDS[kind]
    if kind == "literal_error":
        return "must be " + ctx.get("expected", "one of the allowed values")
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"is too long: at most {ctx.get('max_length')} characters"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')} item{'' if ctx.get('min_length') == 1 else 's'}"
    if kind == "too_long":
        return f"has too many items: at most {ctx.get('max_length')}"
    if kind in ("greater_than_equal", "greater_than"):
        return f"must be at least {ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"must be at most {ctx.get('le', ctx.get('lt'))}"
    return _clean_msg(err["msg"])


def _schema_problems(exc: ValidationError, located: yamlload.Located, prefix: tuple = ()) -> list[tuple]:
    """pydantic errors -> [(line, field, message)], one per field, in gazette's
    words.  A field that may take one of several forms (`auto` or a list) gets
    one message naming each form."""
    out: dict = {}
    for err in exc.errors(include_url=False):
        path: tuple = prefix
        for part in err["loc"]:
            if (path + (part,)) in located.lines or err["type"] == "missing":
                path = path + (part,)
        msg = _in_our_words(err)
        m = re.match(r"^([a-z_][a-z0-9_.]*): (.*)$", msg, re.S)
        if m and not err["loc"]:
            path = prefix + tuple(m[1].split("."))
            msg = m[2]
        got = ""
        if err["type"] == "missing":
            msg = "required field is missing"
            line = located.line_of(path[:-1]) or 1
        else:
            line = located.line_of(path) or 1
            if err["type"] not in ("value_error", "assertion_error") and "input" in err and not isinstance(err["input"], (dict, list)):
                got = f" (got {err['input']!r})"
        field = yamlload.fmt_path(path) or None
        key = (field, err["type"] == "missing")
        if key in out:  # another form the same value could have taken
            line0, field0, msgs, got0 = out[key]
            if msg not in msgs:
                msgs.append(msg)
            continue
        out[key] = (line, field, [msg], got)
    problems = []
    for line, field, msgs, got in out.values():
        first, rest = msgs[0], [m[len("must be "):] if m.startswith("must be ") else m for m in msgs[1:]]
        problems.append((line, field, " or ".join([first, *rest]) + got))
    return problems


def _unknown_fields(model: BaseModel, located: yamlload.Located, path: tuple = (), ignored_note: set | None = None):
    """Warnings for keys no schema knows (usually typos)."""
    out = []
    for key in sorted(model.model_extra or {}):
        known = list(type(model).model_fields)
        close = difflib.get_close_matches(key, known, n=1)
        if ignored_note is not None and key in ignored_note:
            hint = "; it is taken from the original, so it is ignored here"
        else:
            hint = f"; did you mean '{close[0]}'?" if close else "; it is ignored"
        out.append((located.line_of(path + (key,)), yamlload.fmt_path(path + (key,)), f"unknown field '{key}'{hint}"))
    for name in type(model).model_fields:
        value = getattr(model, name, None)
        if isinstance(value, BaseModel):
            out += _unknown_fields(value, located, path + (name,), ignored_note)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    out += _unknown_fields(item, located, path + (name, i), ignored_note)
    return out


def validate_yaml(model_cls, located: yamlload.Located, problems: list, warnings: list):
    if not isinstance(located.data, dict):
        problems.append((located.line_of(()) or 1, None, "expected a YAML mapping of fields"))
        return None
    try:
        obj = model_cls.model_validate(located.data)
    except ValidationError as exc:
        problems += _schema_problems(exc, located)
        known = list(model_cls.model_fields)
        for key in sorted(k for k in located.data if k not in model_cls.model_fields):
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else "; it is ignored"
            warnings.append((located.line_of((key,)), str(key), f"unknown field '{key}'{hint}"))
        return None
    warnings += _unknown_fields(obj, located)
    return obj


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
            out.problems += [p for p in _schema_problems(exc, located) if p[1] != "type" and (close or p[1] != "issuer")]
        out.problems += _raw_checks(data, located, stem_id)
        return None, True
    meta = validate_yaml(RECORD_MODELS[rtype], located, out.problems, out.warnings)
    if meta is None:  # the rules that do not need a valid record, so one run reports everything
        out.problems += _raw_checks(data, located, stem_id)
    return meta, False


def load_record_file(path: Path, stem_id: str, lang: str | None) -> Loaded:
    out = Loaded(path=path, id=stem_id, lang=lang)
    try:
        text = read_text(path)
        out.pii = review.find_pii(text)
        front, body, _ = split_front_matter(text)
        located = yamlload.load(front, line_offset=1)
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
                out.warnings += _unknown_fields(meta, located, ignored_note=ignored)
            except ValidationError as exc:
                out.problems += _schema_problems(exc, located)
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


def _load_many(jobs: list[tuple[Path, str, str | None]], workers: int, progress: Progress) -> list[Loaded]:
    out: list[Loaded] = []
    with progress.task("loading records", len(jobs), "files") as task:
        if workers > 1 and len(jobs) >= PARALLEL_THRESHOLD:
            chunk = max(16, len(jobs) // (workers * 8))
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for loaded in pool.map(_load_job, jobs, chunksize=chunk):
                    out.append(loaded)
                    task.advance()
        else:
            for job in jobs:
                out.append(_load_job(job))
                task.advance()
    return out


def _load_job(job):
    return load_record_file(*job)


# ---------------------------------------------------------------- discovery
def discover_records(records_dir: Path) -> list[Path]:
    if not records_dir.is_dir():
        return []
    md_files = sorted(p for p in records_dir.rglob("*.md") if p.is_file())
    all_md = set(md_files)
    out = []
    for p in md_files:
        # Markdown inside a record's attachment folder ID/ is not a record.
        parent = p.parent
        inside_attachments = False
        while parent != records_dir and parent != parent.parent:
            if parent.with_name(parent.name + ".md") in all_md:
                inside_attachments = True
                break
            parent = parent.parent
        if not inside_attachments:
            out.append(p)
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


def build_time(tz_name: str, epoch: str | None = None) -> dt.datetime:
    """`epoch` (SOURCE_DATE_EPOCH, for reproducible builds) when given, else now;
    in the site's zone."""
    tz = ZoneInfo(tz_name)
    if epoch is not None and epoch.strip():
        try:
            return dt.datetime.fromtimestamp(int(epoch), tz)
        except (ValueError, OverflowError, OSError):
            raise FileProblem(None, "SOURCE_DATE_EPOCH", f"{epoch!r} is not a Unix timestamp") from None
    return dt.datetime.now(tz).replace(microsecond=0)


def _normalize_local(value, default_lang: str, languages: list[str], report, where):
    """'' (plain string) -> the default language; unknown languages reported."""
    if not isinstance(value, dict):
        return value
    out = {}
    for lang, text in value.items():
        lang = lang or default_lang
        if lang not in languages:
            report(where, f"language '{lang}' is not configured in gazette.yaml (languages: {', '.join(languages)})")
            continue
        out[lang] = text
    return out


def read_yaml_file(path: Path, diags: Diagnostics) -> yamlload.Located | None:
    try:
        return yamlload.load(read_text(path))
    except (FileProblem, yamlload.YamlError) as p:
        diags.error(path, p.line, p.field, p.message)
        return None


def validate_file(model_cls, located: yamlload.Located, path: Path, diags: Diagnostics, field_prefix: str = ""):
    """Validate and report every problem and unknown field against `path`."""
    problems, warnings = [], []
    obj = validate_yaml(model_cls, located, problems, warnings)
    for report, items in ((diags.error, problems), (diags.warning, warnings)):
        for line, fld, msg in items:
            name = f"{field_prefix}.{fld}" if field_prefix and fld else (fld or field_prefix or None)
            report(path, line, name, msg)
    return obj


def load_config(root: Path, diags: Diagnostics) -> SiteConfig | None:
    path = root / "gazette.yaml"
    if not path.is_file():
        diags.error(path, None, None, f"no gazette.yaml in {root} (is this a gazette site? 'gazette init DIR' creates one)")
        return None
    located = read_yaml_file(path, diags)
    config = validate_file(SiteConfig, located, path, diags) if located else None
    if config is None:
        return None
    langs = config.languages
    for name in ("title", "publisher"):
        value = getattr(config, name)
        report = lambda where, msg, n=name: diags.error(path, located.line_of((n,)), n, msg)
        setattr(config, name, _normalize_local(value, langs[0], langs, report, name))
    return config


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
            entry = validate_file(model, sub, path, diags, field_prefix=key)
            if entry is None:
                continue
            for attr in ("name", "description"):
                if hasattr(entry, attr):
                    report = lambda where, msg, a=attr, k=key: diags.error(path, sub.line_of((a,)) or line, f"{k}.{a}", msg)
                    setattr(entry, attr, _normalize_local(getattr(entry, attr), langs[0], langs, report, attr))
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
        issue = validate_file(IssueFile, located, path, diags) if located else None
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
        for i, section in enumerate(issue.sections):
            report = lambda where, msg, i=i: diags.error(path, located.line_of(("sections", i, "title")), f"sections[{i}].title", msg)
            section.title = _normalize_local(section.title, langs[0], langs, report, "title")
        if issue.title:
            issue.title = _normalize_local(issue.title, langs[0], langs, lambda w, msg: diags.error(path, located.line_of(("title",)), "title", msg), "title")
        site.issues.append((path, issue, located.lines))


def load_records(root: Path, config: SiteConfig, diags: Diagnostics, site: LoadedSite, workers: int,
                 progress: Progress) -> None:
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
    for loaded in _load_many(jobs, workers, progress):
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
              epoch: str | None = None) -> LoadedSite:
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
    load_records(root, config, diags, site, workers, progress)
    return site


def make_edition(loaded: Loaded, lang: str) -> RecordEdition:
    meta = loaded.meta
    if loaded.lang is None:
        return RecordEdition(lang=lang, path=loaded.path, title=meta.title, summary=meta.summary,
                             body_html=loaded.body_html, lines=loaded.lines, images=loaded.images)
    return RecordEdition(lang=lang, path=loaded.path, title=meta.title, summary=meta.summary,
                         body_html=loaded.body_html, lines=loaded.lines, images=loaded.images,
                         honorees=meta.honorees, outcome=meta.outcome)
