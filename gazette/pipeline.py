"""The build, as a table of contents.

    load -> resolve (validate) -> render -> write

`check` is the same pipeline without the write stage: one code path.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from . import __version__, archive, heap, resources, search, signing
from .errors import Diagnostics, GazetteError, stop_on_errors
from .load import load_site
from .sources import read_text
from .buildcache import BuildState, FileHashes, LoadCache, Session
from .keys import digest_of, inputs_digest, neighbours, pages_digest, site_digest, structure_digest
from .model import Record, RunSettings, Site
from .progress import NO_PROGRESS, Progress
from .render import data, feeds
from .render import pdf as pdfmod
from .render.batch import Reuse, render_pages
from .render.html import PAGE_TEMPLATES, HtmlRenderer
from .render.linkcheck import InternalLinks
from .resolve import resolve
from .writer import MARKER, NullWriter, Writer


@dataclass
class BuildResult:
    site: Site | None
    diagnostics: Diagnostics
    pages: int = 0
    files: int = 0
    out_dir: Path | None = None
    pdfs_rendered: int = 0
    pdfs_written: int = 0
    search: dict | None = None  # year -> 'indexed' | 'cached'
    links: list | None = None  # check --links: links that are broken or need attention
    reused: int = 0  # files taken from the last output (incremental build)
    rendered: int = 0  # pages rendered (the others' keys were unchanged: taken from the last output)
    up_to_date: dict | None = None  # nothing changed since the last build: its report (no site loaded)


def cache_dir(site: Site) -> Path:
    """Where rendered PDFs and search bundles are cached: the run's cache folder
    (RunSettings.cache_dir), else SITE/.gazette-cache."""
    return site.cache or site.root / ".gazette-cache"


def check_glyphs(site: Site, diags: Diagnostics, fonts: pdfmod.Fonts, read_only: bool = False) -> None:
    """A character no installed font can draw would print as a box in a PDF."""
    covered = fonts.coverage(cache_dir(site), store=not read_only)
    for record in site.public:
        for edition in record.editions.values():
            text = read_text(edition.path)
            if not {ord(c) for c in set(text) if ord(c) > 0x7E} - covered:
                continue
            for line, ch in pdfmod.missing_glyphs(text, covered):
                diags.warning(edition.path, line, None, f"no installed font has a glyph for '{ch}' (U+{ord(ch):04X}); the PDF would show a box")


def default_cache(site_dir: Path, settings: RunSettings) -> Path:
    return settings.cache_dir or Path(site_dir) / ".gazette-cache"


def load_and_resolve(site_dir: Path, workers: int | None = None, pdf: bool | None = None,
                     revising: bool = False, read_only: bool = False, preview: bool = False,
                     progress: Progress = NO_PROGRESS, settings: RunSettings = RunSettings(),
                     clean: bool = False, save_cache: bool = False, settle=None,
                     hashes: FileHashes | None = None, session: Session | None = None) -> tuple[Site, Diagnostics]:
    """Load and check a site.  `revising`: changes to released issues are what a
    revision is for, so they are not errors (tampering still is).  `read_only`:
    write nothing, not even to caches (for `check`).  Record files whose bytes
    did not change since the last build come from the load cache, unless
    `clean`; `save_cache` (a build) keeps this run's for the next.  `settle`:
    the build's heap.long_lived scope, told when what is loaded is made.
    `hashes`: the build's FileHashes (record files are looked up by them).
    `session`: what this process kept from its last build (buildcache.Session)."""
    diags = Diagnostics(root=Path(site_dir))
    cache = LoadCache(None if clean else default_cache(site_dir, settings), session=session)
    cache.hashes = hashes
    loaded = load_site(Path(site_dir), diags, workers=workers, progress=progress, epoch=settings.source_date_epoch,
                       cache=cache, settle=settle)
    if save_cache and not read_only:
        cache.folder = default_cache(site_dir, settings) / "load"
        cache.save()
        if session is not None:
            cache.keep(session)
    if loaded.config is None or loaded.build_time is None:
        stop_on_errors(diags, "loading the site")
    settle = settle or (lambda: None)
    settle()
    # Resolve even after load errors, so one run reports every problem;
    # records that failed to load are skipped there, not reported again.
    site = resolve(loaded, diags)
    site.cache = settings.cache_dir
    site.releases = archive.verify(site, diags, compare_sources=not revising, preview=preview)
    site.history = archive.record_history(site, site.releases) if not diags.errors else {}
    if pdf_enabled(site, pdf):
        fonts = pdfmod.Fonts()
        fonts.require()
        check_glyphs(site, diags, fonts, read_only)
    stop_on_errors(diags, "checking the site")
    settle()
    return site, diags


def pdf_enabled(site: Site, override: bool | None) -> bool:
    return site.config.pdf.enabled if override is None else override


def check(site_dir: Path, strict: bool = False, workers: int | None = None, pdf: bool | None = None,
          progress: Progress = NO_PROGRESS, link_checker=None, link_report: Path | None = None,
          settings: RunSettings = RunSettings()) -> BuildResult:
    """The build without writing: every stage of `build` runs (pages, feeds,
    data files, static and archived files, the PDF templates, the writer's
    path rules) into a writer that keeps no bytes; only WeasyPrint's layout and
    Pagefind's index are left out.  With `link_checker` (a links.Checker),
    every external link is checked too; broken links are errors, and
    `link_report` (if given) receives them as JSON."""
    with heap.long_lived() as settle:
        site, diags = load_and_resolve(site_dir, workers, pdf, read_only=True, progress=progress, settings=settings,
                                       settle=settle)
        writer = NullWriter(sources=[Path(site_dir), resources.builtin_theme(), cache_dir(site)])
        links = InternalLinks()
        with_pdf = pdf_enabled(site, pdf)
        pages = len(write_site(site, writer, with_pdf, search_enabled(site, None), links, settle=settle).files)
        write_archived_pdfs(site, writer)
        if with_pdf:
            renderer = pdfmod.PdfRenderer(site, resources.builtin_theme(), cache_dir(site), workers, progress)
            for job in pdf_jobs(site, renderer):  # the PDF templates render here, as in a build
                writer.write(job.output, job.html.encode("utf-8"))
        for problem in links.problems(set(writer.written)):
            diags.warning(None, None, None, f"internal link: {problem}")
        writer.write(signing.MANIFEST, b"")
        result = BuildResult(site=site, diagnostics=diags, pages=pages)
        result.files = len(writer.written)
        if link_checker is not None:
            result.links = check_links(site, diags, link_checker, progress)
            if link_report is not None:
                import json

                Path(link_report).write_text(json.dumps(result.links, ensure_ascii=False, indent=1, sort_keys=True) + "\n",
                                             encoding="utf-8")
            stop_on_errors(diags, "checking links")
        if strict and diags.warnings:
            raise GazetteError(f"check failed (--strict): {len(diags.warnings)} warning{'' if len(diags.warnings) == 1 else 's'}", diags)
        return result


def check_links(site: Site, diags: Diagnostics, checker, progress: Progress = NO_PROGRESS) -> list[dict]:
    """Check every external link; -> report rows for the links that are not fine."""
    from . import links

    uses = links.collect(site)
    outcomes = checker.check_all(sorted(uses), progress)
    report = []
    for url, outcome in sorted(outcomes.items()):
        if outcome.severity == "ok":
            continue
        report_fn = diags.error if outcome.severity == "error" else diags.warning
        for use in uses[url]:
            report_fn(use.path, use.line, use.field, links.message(outcome))
        report.append({"url": url, "severity": outcome.severity, "status": outcome.status, "problem": outcome.describe(),
                       "final_url": outcome.final_url,
                       "used": [{"file": diags.rel(u.path), "line": u.line, "field": u.field, "record": u.record}
                                for u in uses[url]]})
    return report


def search_enabled(site: Site, override: bool | None) -> bool:
    return site.config.search.enabled if override is None else override


def build(site_dir: Path, out_dir: Path | None = None, workers: int | None = None, pdf: bool | None = None,
          with_search: bool | None = None, progress: Progress = NO_PROGRESS, sign_key: Path | None = None,
          preview: bool = False, settings: RunSettings = RunSettings(), scheduler: str | None = None,
          clean: bool = False, session: Session | None = None) -> BuildResult:
    """Build the site into out_dir (default SITE/output).  Every build writes
    manifest.json (SHA-256 of every file); with `sign_key` (an Ed25519 private
    key outside the site and the output) also manifest.sig.

    Incremental: record files, pages, data files and feeds whose inputs did
    not change since the last build into out_dir are taken from the build
    cache and the last output (keys.py says what each key covers); the output
    is the same, byte for byte, as a clean build's.  `clean`: use no cache.
    `session`: a buildcache.Session a long-running process (serve) keeps
    between its builds: what it holds is not read again."""
    site_dir = Path(site_dir)
    out_dir = Path(out_dir) if out_dir else site_dir / "output"
    Writer(out_dir).recover()  # even when this build fails, the last good output stays in place
    private_key = signing.load_private_key(sign_key, [site_dir, out_dir]) if sign_key else None
    with heap.long_lived() as settle:
        settle()  # what a session keeps: no collection goes over it (nor over the caches read next)
        inputs, last = None, None
        hashes = FileHashes(default_cache(site_dir, settings), trust=not clean)
        if sign_key is None and settings.source_date_epoch:
            inputs = inputs_digest(site_dir, resources.builtin_theme(), out_dir, settings.source_date_epoch,
                                   {"pdf": pdf, "search": with_search, "preview": preview},
                                   _tool_versions(pdf, with_search), hashes=hashes)
            hashes.save()
            report, last = (None, None) if clean else _up_to_date(site_dir, out_dir, settings, inputs, session)
            if report is not None:
                return BuildResult(site=None, diagnostics=Diagnostics(root=site_dir), out_dir=out_dir.resolve(),
                                   up_to_date=report)
            settle()  # the last build's state
        return _build_site(site_dir, out_dir, workers, pdf, with_search, progress, private_key, preview, settings,
                           scheduler, clean, inputs, last, settle, hashes, session)


def _build_site(site_dir: Path, out_dir: Path, workers, pdf, with_search, progress: Progress, private_key, preview: bool,
                settings: RunSettings, scheduler, clean: bool, inputs: str | None, last, settle,
                hashes: FileHashes | None = None, session: Session | None = None) -> BuildResult:
    """build() once it knows something changed: load, render, write and publish."""
    site, diags = load_and_resolve(site_dir, workers, pdf, preview=preview, progress=progress, settings=settings,
                                   clean=clean, save_cache=True, settle=settle, hashes=hashes, session=session)
    previous = None if clean else _previous_state(site, site_dir, out_dir, settings, last, session)
    writer = Writer(out_dir, sources=[site_dir, resources.builtin_theme(), cache_dir(site)], previous=previous)
    from .mail.store import database_path

    writer.check_target(site_dir, keep=[database_path(site), site_dir / "archive", cache_dir(site)])
    writer.open()
    result = BuildResult(site=site, diagnostics=diags, out_dir=writer.out_dir)
    links = InternalLinks()
    with_pdf, with_search = pdf_enabled(site, pdf), search_enabled(site, with_search)
    site_key = site_digest(site, resources.builtin_theme(), {"pdf": with_pdf, "search": with_search, "preview": preview})
    try:
        rendered = write_site(site, writer, with_pdf, with_search, links, workers, site_key, settle)
        result.pages, result.rendered = len(rendered.files), rendered.rendered
        write_archived_pdfs(site, writer)
        if with_pdf:
            result.pdfs_rendered, result.pdfs_written = write_pdfs(site, writer, workers, progress,
                                                                   scheduler or site.config.pdf.scheduler)
        if with_search:
            result.search = search.index(writer.staging, site, HtmlRenderer.urls_for(site), cache_dir(site), progress, workers)
        listing = writer.settle(keep=(f"{search.INDEX_DIR}/",) if with_search else ())  # and the manifest's files
        present = {rel: os.path.join(writer.staging, rel) for rel in sorted(listing) if rel not in signing.SKIP}
        for problem in links.problems(set(present)):
            diags.warning(None, None, None, f"internal link: {problem}")
        manifest = signing.manifest_bytes(writer.staging, __version__, writer.hashes, present)
        _write_signed(writer, manifest, private_key, listing)
        BuildState.forget(cache_dir(site), out_dir)  # until the new state is saved, reuse nothing
        writer.commit()  # renames the folder: every file keeps its size and time
    except BaseException:
        writer.abort()
        raise
    result.files = len(writer.written)
    result.reused = len(writer.linked)
    _remember(writer, result, inputs, links, listing, rendered, session)
    return result


def _write_signed(writer: Writer, manifest: bytes, private_key, listing: dict) -> None:
    """manifest.json, and manifest.sig with a key; each one into `listing` too."""
    writer.write(signing.MANIFEST, manifest)
    if private_key is not None:
        writer.write(signing.SIGNATURE, signing.sign(manifest, private_key))
    for name in signing.SKIP:
        try:
            st = os.stat(writer.staging / name, follow_symlinks=False)
        except FileNotFoundError:
            listing.pop(name, None)
            continue
        listing[name] = (st.st_size, st.st_mtime_ns)


def _previous_state(site: Site, site_dir: Path, out_dir: Path, settings: RunSettings, last: BuildState | None,
                    session: Session | None = None) -> BuildState:
    """What the last build wrote into out_dir: the state the up-to-date check
    read, when it read the same file (it is large: every output file's key,
    every page's links), else read now."""
    if last is not None and default_cache(site_dir, settings) == cache_dir(site):
        return last
    return BuildState.load(cache_dir(site), out_dir, session)


def _up_to_date(site_dir: Path, out_dir: Path, settings: RunSettings, inputs: str,
                session: Session | None = None) -> tuple[dict | None, BuildState]:
    """The last build's report, when it had the same inputs and left an output
    nobody touched since (and no staging folder of gazette's is left over);
    and the last build's state."""
    last = BuildState.load(default_cache(site_dir, settings), out_dir, session)
    if last.inputs != inputs or not last.untouched(out_dir):
        return None, last
    leftover = Writer(out_dir).staging
    if leftover.exists():
        if not (leftover / MARKER).is_file():
            return None, last  # the full path refuses it, with a message
        Writer(out_dir).abort()
    return last.extra.get("report", {}), last


def _remember(writer: Writer, result: BuildResult, inputs: str | None, links: InternalLinks, listing: dict,
              rendered, session: Session | None = None) -> None:
    """What the next build reuses: every file written, with its key; the
    pages' links; the output's listing (each file's size and time, as the
    staging folder had them), the templates' references, the structure
    digest and the records' digests (batch.Reuse.fast), and this build's report."""
    state = writer.state(listing)
    state.inputs = inputs or ""
    state.extra = {"links": links.pages, "listing": listing, "report": _report(result),
                   "template_refs": rendered.template_refs, "structure": rendered.structure,
                   "digests": {r.id: r.digest for r in result.site.public}}
    state.save(cache_dir(result.site), session)


def _report(result: BuildResult) -> dict:
    """What a build that finds nothing changed says again: the last build's
    counts, warnings and records held back."""
    from .resolve import held_back

    site = result.site
    return {"records": len(site.public), "pages": result.pages, "files": result.files,
            "pdfs": (result.pdfs_written, result.pdfs_rendered),
            "warnings": [(d.path, d.line, d.field, d.message) for d in result.diagnostics.warnings],
            "held_back": [(r.id, r.path.relative_to(site.root).as_posix(), reason) for r, reason in held_back(site)]}


def _tool_versions(pdf: bool | None, with_search: bool | None) -> list[str]:
    """What else output depends on: the fonts and WeasyPrint (PDFs), Pagefind (search)."""
    from importlib import metadata

    out = []
    for dist, used in (("weasyprint", pdf), ("pagefind", with_search)):
        if used is not False:
            try:
                out.append(f"{dist} {metadata.version(dist)}")
            except metadata.PackageNotFoundError:
                out.append(f"{dist} absent")
    if pdf is not False:
        try:
            out.append(pdfmod.Fonts().fingerprint())
        except GazetteError:
            out.append("no fonts")
    return out


def pdf_jobs(site: Site, renderer) -> list:
    """Record PDFs, and issue PDFs of issues not released yet (released ones come
    from the archive): the HTML of each, from the PDF templates."""
    jobs = renderer.record_jobs()
    for issue in site.issues:
        if issue.key in site.releases:
            continue
        for lang in renderer.issue_languages(issue):
            name = renderer.issue_pdf_name(issue.key, lang, site.default_lang)
            jobs.append(pdfmod.PdfJob(f"{renderer.urls.issue(issue.key, site.default_lang)}{name}", renderer.issue_html(issue, lang)))
    return jobs


def write_pdfs(site: Site, writer: Writer, workers: int | None, progress: Progress = NO_PROGRESS,
               scheduler: str | None = None) -> tuple[int, int]:
    renderer = pdfmod.PdfRenderer(site, resources.builtin_theme(), cache_dir(site), workers, progress, scheduler)
    jobs = pdf_jobs(site, renderer)
    for output, cached in sorted(renderer.run(jobs).items()):
        writer.copy(output, cached)
    return renderer.rendered, len(jobs)


def write_archived_pdfs(site: Site, writer: Writer) -> None:
    """Every released version at its own URL, and the latest at the issue's URL."""
    urls = HtmlRenderer.urls_for(site)
    for key, versions in sorted(site.releases.items()):
        base = urls.issue(key, site.default_lang)
        replaced = archive.withdrawn_versions(versions)
        latest = versions[-1]
        for version in versions:
            for name in version.pdfs:
                source = version.folder / name
                if version.number in replaced:
                    # it held a withdrawn record: the publication rule wins over the
                    # public output (never over the archive): the current version instead
                    source = latest.folder / (name if name in latest.pdfs else latest.pdfs[0])
                writer.copy(f"{base}v{version.number}/{name}", source)
        for name in versions[-1].pdfs:
            writer.copy(f"{base}{name}", versions[-1].folder / name)


def write_site(site: Site, writer: Writer, with_pdf: bool = False, with_search: bool = True,
               links: InternalLinks | None = None, workers: int | None = None, site_key: str | None = None,
               settle=None):
    """Pages, static files, feeds, data files, sitemap -> the pages
    (batch.Rendered).  With `site_key` (keys.site_digest) and a writer that
    knows the last output, what did not change is reused.  `settle`: the
    build's heap.long_lived scope."""
    urls = HtmlRenderer.urls_for(site)
    feed_list = feeds.feeds(site, urls)  # made once: pages link them, write_feeds writes them
    renderer = HtmlRenderer(site, resources.builtin_theme(), pdf=with_pdf, search=with_search, feed_list=feed_list)
    previous = getattr(writer, "previous", None)
    reuse = Reuse(pages_digest(site, site_key, resources.builtin_theme()), writer.out_dir, previous) if site_key and previous is not None else None
    if reuse is not None:
        _structure(site, renderer, reuse)

    def the_rest() -> None:  # while the pages render (in workers on a large site)
        write_static(site, writer)
        write_feeds(site, feed_list, urls, writer, site_key)
        write_data(site, urls, writer, site_key, reuse)

    rendered = render_pages(renderer, writer, workers, while_waiting=the_rest, reuse=reuse, settle=settle)
    rendered.template_refs = renderer.template_refs
    rendered.structure = reuse.structure if reuse is not None else ""
    if links is not None:
        links.update(rendered.links)
    # the sitemap shows the pages' paths, languages and dates: the structure's
    sitemap_key = digest_of(reuse.structure, "sitemap") if reuse is not None else None
    if not writer.reuse("sitemap.xml", sitemap_key):
        stubs = rendered.sitemap if rendered.complete else [p for p in renderer.pages() if p.in_sitemap]
        writer.write("sitemap.xml", data.sitemap(stubs, urls), sitemap_key)
    writer.write("robots.txt", data.robots(urls))
    return rendered


def _structure(site: Site, renderer: HtmlRenderer, reuse: Reuse) -> None:
    """The build's structure digest (keys.structure_digest); when it is the
    last build's, only the pages of records whose digest moved need keys."""
    previous = reuse.previous
    if isinstance(previous.extra.get("template_refs"), dict):
        renderer.template_refs = dict(previous.extra["template_refs"])
    renderer.template_keys()
    reuse.structure = structure_digest(reuse.site_key, [renderer.template_key(n) for n in PAGE_TEMPLATES], site)
    digests = previous.extra.get("digests")
    if previous.extra.get("structure") == reuse.structure and isinstance(digests, dict):
        reuse.fast = True
        reuse.changed = frozenset(r.id for r in site.public if digests.get(r.id) != r.digest)


def _keyed(writer: Writer, rel: str, key: str | None, make) -> None:
    """Write `rel` from make(), unless the last output holds it under `key`."""
    if not writer.reuse(rel, key):
        writer.write(rel, make(), key)


def write_data(site: Site, urls, writer: Writer, site_key: str | None = None, reuse: Reuse | None = None) -> None:
    """Each record's JSON and files, the catalogue and the document-number
    table.  With `reuse` and the last build's structure (Reuse.fast), a
    record's JSON keeps the key it was written under unless a record it
    shows (itself, its related records, its issue's) changed."""
    kept = _json_keys(site, urls, reuse) if reuse is not None and reuse.fast else {}
    for record in site.public:
        key = kept.get(record.id) or (digest_of(site_key, "json", record, neighbours(record)) if site_key else None)
        _keyed(writer, urls.record_json(record.id), key, lambda: data.record_json(record, site, urls))
        files = {att.file for att in record.meta.attachments} | {rel for e in record.editions.values() for rel in e.images}
        for rel in sorted(files):
            writer.copy(urls.attachment(record.id, rel), record.path.with_name(record.id) / rel)
    # what they show of each record comes from its front matters (record.head):
    # a change to a body alone leaves them as they are
    heads = digest_of(site_key, "heads", [(r.id, r.head) for r in site.public]) if site_key else None
    _keyed(writer, "data/catalog.json", heads and digest_of(heads, "catalog", site.build_time),
           lambda: data.catalog(site, urls))
    _keyed(writer, "data/docnumbers.json", heads and digest_of(heads, "docnumbers"),
           lambda: search.doc_number_table(site, urls))


def _json_keys(site: Site, urls, reuse: Reuse) -> dict[str, str]:
    """Record id -> the key its JSON was written under, for records whose
    JSON key cannot have moved: the key is made of the site digest (the
    structure's), the record, its related records and its issue (by their
    digests), and none of those is among the records that changed."""
    changed = reuse.changed
    issues = {r.issue.key for r in site.public if r.id in changed and r.issue is not None}
    out = {}
    for record in site.public:
        if record.id in changed or (record.issue is not None and record.issue.key in issues):
            continue
        related = (group if isinstance(group, list) else [group] if isinstance(group, Record) else []
                   for group in neighbours(record))  # the issue: above
        if any(r.id in changed for group in related for r in group):
            continue
        entry = reuse.previous.files.get(urls.record_json(record.id))
        if entry is not None and entry.key:
            out[record.id] = entry.key
    return out


def write_feeds(site: Site, feed_list: list, urls, writer: Writer, site_key: str | None = None) -> None:
    def issue_pdf(issue, lang):
        """A released issue's current PDF in `lang` (or the site's language): URL and size."""
        versions = site.releases.get(issue.key, [])
        if not versions:
            return None
        latest = versions[-1]
        names = [n for n in latest.pdfs if n.endswith(f".{lang}.pdf")] or [n for n in latest.pdfs if n.count(".") == 1]
        if not names or not (latest.folder / names[0]).is_file():
            return None
        return urls.absolute(urls.issue(issue.key, site.default_lang) + names[0]), (latest.folder / names[0]).stat().st_size

    for feed in feed_list:
        key = digest_of(site_key, "feed", feed) if site_key else None
        files = [(feed.rss(urls), key and key + ":rss"), (feed.atom(urls), key and key + ":atom")]
        missing = [i for i, (rel, k) in enumerate(files) if not writer.reuse(rel, k)]
        if missing:
            made = feeds.render(feed, site, urls, issue_pdf)  # (rss, atom)
            for i in missing:
                writer.write(files[i][0], made[i], files[i][1])
    for lang in site.languages:
        writer.write(f"{urls.prefix(lang)}feeds/feeds.opml", feeds.opml([f for f in feed_list if f.lang == lang], site, urls, lang))


def static_sources(site: Site) -> dict[str, Path]:
    """Theme static files, name -> file: the site's own theme overrides the
    built-in one file by file (links out of the theme were refused on load)."""
    sources: dict[str, Path] = {}
    for folder in (resources.builtin_theme() / "static", site.root / "themes" / site.config.theme / "static"):
        if folder.is_dir():
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    sources[path.relative_to(folder).as_posix()] = path
    return sources


def write_static(site: Site, writer: Writer) -> None:
    sources = static_sources(site)
    for rel in sorted(sources):
        writer.copy(f"static/{rel}", sources[rel])
