"""Keys of outputs: a digest of everything an output file is made from.

An incremental build reuses a file of the last output when its key is the one
that file was written under.  A key covers, for every output:

* the site digest: gazette's version and code (resources.code_identity),
  the build's options, the configuration, the taxonomies and issue files,
  both theme layers (every file but the templates), the archive of
  released issues, and the build date (validity and consultation phases
  depend on it);
* a page also the templates it renders with: its own and those it extends,
  includes or imports (template_digest), so a change to listing.html renders
  the listings again and nothing else;

and then what the output itself shows:

* a page: its template, path, title and alternates, and its context, walked
  value by value; a record in it stands for its front matters (record.head:
  the built-in templates show a record's body on its own page only), an issue
  for its file and its records' front matters; a value made from others in
  the same context alone (a listing's `by_type`, from its `records`) is left
  out;
* a record page also its own record's digest (the bytes of its original and
  editions, its attachments, whether it is public), its related records
  (interpretations, FAQs, basis, supersedes and the rest, both ways) and its
  issue: the page shows their titles and states;
* the catalogue and the document-number table: the front matters of every
  public record (record.head), not their bodies;
* with templates of the site's own, every page also the digest of every
  public record: such a template may show any record, body and all (a record
  in a list, `site.public`), so a change to any record renders every page
  again.

A value the digest does not know makes the page unkeyable: it is rendered
every time.  Tests compare incremental builds with clean builds, file by file.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
from pathlib import Path

from pydantic import BaseModel

from .model import Issue, Record, Site
from .resources import code_identity


class Covered:
    """A value that the digest of something else in the same key already
    covers (a record's edition and meta, beside the record)."""

    __slots__ = ("by",)

    def __init__(self, by: str):
        self.by = by


class Unkeyable(Exception):
    """A value whose digest is not known: the output is rendered every time."""


_TEXT = (".md", ".yaml", ".yml", ".html", ".css", ".js", ".txt", ".xml", ".json", ".svg")


def tree_digest(folder: Path, by_content: bool | tuple = True, skip: str | None = None, hashes=None) -> str:
    """Every file under `folder` (sorted): its path and its bytes, or with
    by_content=False its size and modification time (large files); with a
    tuple of suffixes, the bytes of those files and the size and time of the
    rest.  `skip`: a folder directly under `folder` left out.  `hashes`: a
    buildcache.FileHashes, the digests of files whose status is unchanged."""
    h = hashlib.sha256()
    folder = Path(folder)
    if not folder.is_dir():
        return h.hexdigest()
    for dirpath, dirnames, filenames in os.walk(folder):
        if skip and dirpath == os.fspath(folder) and skip in dirnames:
            dirnames.remove(skip)
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            h.update(os.fsencode(os.path.relpath(path, folder)) + b"\0")
            try:
                if by_content is True or (by_content and name.endswith(by_content)):
                    if hashes is not None:
                        h.update(bytes.fromhex(hashes.sha256(path)))
                    else:
                        with open(path, "rb") as f:
                            h.update(hashlib.sha256(f.read()).digest())
                else:
                    st = os.stat(path)
                    h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
            except OSError:
                h.update(b"unreadable")
    return h.hexdigest()


def inputs_digest(site_dir: Path, builtin_theme: Path, out_dir: Path, epoch: str, options: dict,
                  extra: list[str] = (), hashes=None) -> str:
    """Every input of a build, before it loads anything: gazette's version and code, the
    options, the build time, the output folder, gazette.yaml, content/ and
    themes/ (the bytes of text files, size and time of the rest), archive/
    (size and time), the built-in theme, and `extra` (fonts, tool versions).
    The same digest as the last build into the same folder, and that output
    untouched, means the output is already what this build would write.
    `hashes`: a buildcache.FileHashes (files whose status is unchanged are not read)."""
    root = Path(site_dir)
    h = hashlib.sha256(f"gazette {code_identity()}\0{sorted(options.items())!r}\0{epoch}\0{Path(out_dir).resolve()}"
                       f"\0{root.resolve()}".encode())
    h.update(file_digest(root / "gazette.yaml").encode())
    for part, how in ((root / "content", _TEXT), (root / "themes", _TEXT), (root / "archive", False), (builtin_theme, True)):
        h.update(tree_digest(part, how, hashes=hashes).encode())
    for item in extra:
        h.update(f"\0{item}".encode())
    return h.hexdigest()


def file_digest(path: Path) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return "missing"


def record_digest(shas: list[str], attachments: Path | str, public: bool) -> str:
    """A record: the SHA-256 of each of its files (original, then editions by
    language), its attachments folder (sizes and times), whether it is public."""
    h = hashlib.sha256("\0".join(shas).encode())
    h.update(tree_digest(attachments, by_content=False).encode() if os.path.isdir(attachments) else b"-")
    h.update(b"public" if public else b"held")
    return h.hexdigest()


def head_digest(heads: list[str], public: bool) -> str:
    """What lists of records (the catalogue, the document-number table) show of
    a record: the SHA-256 of its files' front matters (original, then editions
    by language) and whether it is public; not its bodies."""
    return hashlib.sha256(("\0".join(heads) + ("\0public" if public else "\0held")).encode()).hexdigest()


def site_digest(site: Site, builtin_theme: Path, options: dict) -> str:
    root = site.root
    h = hashlib.sha256(f"gazette {code_identity()}\0{sorted(options.items())!r}\0{site.build_date.isoformat()}".encode())
    h.update(file_digest(root / "gazette.yaml").encode())
    for part in (root / "content" / "_taxonomy", root / "content" / "issues"):
        h.update(tree_digest(part).encode())
    for theme in (builtin_theme, root / "themes" / site.config.theme):  # templates: per page (page_key)
        h.update(tree_digest(theme, skip="templates").encode())
    h.update(tree_digest(root / "archive", by_content=False).encode())
    return h.hexdigest()


def own_templates(site: Site, builtin_theme: Path) -> bool:
    """Whether the site's theme has a template of its own: one the built-in
    theme lacks, or whose bytes differ from the built-in one of its name (a
    copy of the built-in theme renders as the built-in theme does)."""
    folder = site.root / "themes" / site.config.theme / "templates"
    if not folder.is_dir():
        return False
    builtin = Path(builtin_theme) / "templates"
    for path in sorted(folder.rglob("*")):
        if path.is_dir():
            continue
        twin = builtin / path.relative_to(folder)
        try:
            if path.is_symlink() or not twin.is_file() or twin.read_bytes() != path.read_bytes():
                return True
        except OSError:
            return True
    return False


def pages_digest(site: Site, site_key: str, builtin_theme: Path) -> str:
    """The site digest pages are keyed by: with templates of the site's own
    (own_templates), also every public record's digest (such a template may
    show any record).  Data files and feeds use no template: they keep the
    site digest."""
    if not own_templates(site, builtin_theme):
        return site_key
    h = hashlib.sha256(f"pages\0{site_key}".encode())
    for record in site.public:
        h.update(record.digest.encode())
    return h.hexdigest()


def structure_digest(pages_key: str, template_keys: list, site: Site) -> str:
    """Everything a page's key is made from but the records' digests: the
    pages' site digest (pages_digest), the page templates' keys, and every
    public record's and issue's front matters, in order.  Two builds with the
    same structure digest make the same pages, and every page but a record's
    own has the same key in both (page_key takes records by their front
    matters): only the pages of records whose digest changed need keys."""
    h = hashlib.sha256(f"structure\0{pages_key}\0{template_keys!r}".encode())
    for record in site.public:
        h.update(f"\0{record.id}:{record.head}".encode())
    for issue in site.issues:
        h.update(f"\0i:{issue.key}:{issue.head}".encode())
    return h.hexdigest()


def issue_digest(issue: Issue, heads: bool = False) -> str:
    """An issue: its key and its records' digests (with `heads`, their front matters)."""
    h = hashlib.sha256(("heads\0" if heads else "").encode() + issue.key.encode())
    for record in issue.records:
        h.update((record.head if heads else record.digest).encode())
    return h.hexdigest()


def _encode(value):
    """json's hook for what it does not know (it does str, numbers, lists, dicts
    itself, in C: a key is a few microseconds)."""
    if isinstance(value, Covered):
        return f"covered:{value.by}"
    if isinstance(value, Record):
        return f"r:{value.id}:{value.digest}"
    if isinstance(value, Issue):
        return f"i:{value.digest or issue_digest(value)}"
    if isinstance(value, (dt.date, dt.datetime)):
        return f"d:{value.isoformat()}"
    if isinstance(value, Path):
        return f"p:{value}"
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, BaseModel):
        return f"m:{type(value).__name__}:{value!r}"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"__dataclass__": type(value).__name__, **{f.name: getattr(value, f.name) for f in dataclasses.fields(value)}}
    raise Unkeyable(type(value).__name__)


def _encode_heads(value):
    """_encode, with records and issues by their front matters (what pages
    other than a record's own show of them)."""
    if isinstance(value, Record):
        return f"h:{value.id}:{value.head}"
    if isinstance(value, Issue):
        return f"ih:{value.head or issue_digest(value, heads=True)}"
    return _encode(value)


def digest_of(*values, heads: bool = False) -> str | None:
    """The digest of values, or None when one of them cannot be keyed.
    `heads`: records and issues stand for their front matters, not their bytes."""
    try:
        text = json.dumps(values, default=_encode_heads if heads else _encode, ensure_ascii=False, check_circular=True)
    except (Unkeyable, TypeError, ValueError, RecursionError):
        return None
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def neighbours(record: Record) -> list:
    """What a record's page and JSON show of other records."""
    return [record.interpretations, record.faqs, record.basis, record.basis_of, record.related,
            record.supersedes, record.superseded_by, record.interprets, record.faq_of, record.issue]


def template_digest(env, name: str, refs: dict | None = None) -> str | None:
    """The templates a page template renders with: itself and every template it
    extends, includes or imports, each by its source as the theme layers
    resolve it; every template of the theme when a name is only known at
    render time.  None when a template cannot be read (the render says why).
    `refs`: the names each source refers to, by the source's SHA-256 (parsing
    a template costs milliseconds): looked up, and added to."""
    sources: dict[str, tuple] = {}
    todo = [name]
    refs = refs if refs is not None else {}
    try:
        while todo:
            current = todo.pop()
            if current in sources:
                continue
            source, filename, _ = env.loader.get_source(env, current)
            sources[current] = (filename, source)
            for ref in template_refs(env, source, refs):
                if ref is None:  # a name made at render time: any template
                    todo += [n for n in env.loader.list_templates() if n.endswith(".html")]
                else:
                    todo.append(ref)
    except Exception:  # noqa: BLE001 - a missing or broken template: the page renders every time (and fails, saying why)
        return None
    return digest_of(sorted(sources.items()))


def template_refs(env, source: str, refs: dict) -> list:
    """The template names `source` extends, includes or imports (None: a name
    made at render time), from `refs` by the source's SHA-256, else parsed."""
    from jinja2 import meta

    sha = hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()
    found = refs.get(sha)
    if not isinstance(found, list) or not all(r is None or isinstance(r, str) for r in found):
        found = refs[sha] = list(meta.find_referenced_templates(env.parse(source)))
    return found


def page_key(site_key: str, page, templates: str | None = "") -> str | None:
    """A page's key: the site digest, the digest of its templates
    (template_digest) and what it shows.  A record page: its record stands for
    its edition, meta and JSON-LD (all made from the record's files and relations)."""
    if templates is None:
        return None
    from .render.html import Deferred

    record = page.ctx.get("record")
    ctx = page.ctx
    deps = None
    if isinstance(record, Record):
        deps = (record.digest, neighbours(record))  # its body is on its page: by its bytes
        ctx = {k: (Covered(record.id) if k in ("edition", "meta") or isinstance(v, Deferred) else v) for k, v in ctx.items()}
    elif any(isinstance(v, Deferred) for v in ctx.values()):
        return None
    ctx = {k: (Covered(DERIVED[k]) if k in DERIVED and DERIVED[k] in ctx else _record_list(v)) for k, v in ctx.items()}
    return digest_of(site_key, templates, "page", page.template, page.path, page.lang, page.title, page.links,
                     page.alternates, page.lastmod, page.in_sitemap, ctx, deps, heads=True)


# context values made from another value of the same context alone: covered by it
DERIVED = {"by_type": "records"}


def _record_list(value):
    """A list of records (a listing page's), as one string of their ids and
    front matters, as _encode_heads would give them one by one (json's
    callback for each record was most of a listing page's key)."""
    if type(value) is list and value and type(value[0]) is Record and all(type(r) is Record for r in value):
        return "hs:" + "\0".join([f"{r.id}:{r.head}" for r in value])
    return value

