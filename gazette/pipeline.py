"""The build, as a table of contents.

    load -> resolve (validate) -> render -> write

`check` is the same pipeline without the write stage: one code path.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import __version__, archive, resources, search, signing
from .errors import Diagnostics, GazetteError, stop_on_errors
from .load import load_site
from .sources import read_text
from .model import RunSettings, Site
from .progress import NO_PROGRESS, Progress
from .render import data, feeds
from .render import pdf as pdfmod
from .render.html import HtmlRenderer, Page
from .render.linkcheck import InternalLinks
from .resolve import resolve
from .writer import NullWriter, Writer


@dataclass
class BuildResult:
    site: Site
    diagnostics: Diagnostics
    pages: int = 0
    files: int = 0
    out_dir: Path | None = None
    pdfs_rendered: int = 0
    pdfs_written: int = 0
    search: dict | None = None  # year -> 'indexed' | 'cached'
    links: list | None = None  # check --links: links that are broken or need attention


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


def load_and_resolve(site_dir: Path, workers: int | None = None, pdf: bool | None = None,
                     revising: bool = False, read_only: bool = False, preview: bool = False,
                     progress: Progress = NO_PROGRESS, settings: RunSettings = RunSettings()) -> tuple[Site, Diagnostics]:
    """Load and check a site.  `revising`: changes to released issues are what a
    revision is for, so they are not errors (tampering still is).  `read_only`:
    write nothing, not even to caches (for `check`)."""
    diags = Diagnostics(root=Path(site_dir))
    loaded = load_site(Path(site_dir), diags, workers=workers, progress=progress, epoch=settings.source_date_epoch)
    if loaded.config is None or loaded.build_time is None:
        stop_on_errors(diags, "loading the site")
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
    site, diags = load_and_resolve(site_dir, workers, pdf, read_only=True, progress=progress, settings=settings)
    writer = NullWriter(sources=[Path(site_dir), resources.builtin_theme(), cache_dir(site)])
    links = InternalLinks()
    with_pdf = pdf_enabled(site, pdf)
    pages = write_site(site, writer, with_pdf, search_enabled(site, None), links)
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
          preview: bool = False, settings: RunSettings = RunSettings(), scheduler: str | None = None) -> BuildResult:
    """Build the site into out_dir (default SITE/output).  Every build writes
    manifest.json (SHA-256 of every file); with `sign_key` (an Ed25519 private
    key outside the site and the output) also manifest.sig."""
    site_dir = Path(site_dir)
    out_dir = Path(out_dir) if out_dir else site_dir / "output"
    Writer(out_dir).recover()  # even when this build fails, the last good output stays in place
    private_key = signing.load_private_key(sign_key, [site_dir, out_dir]) if sign_key else None
    site, diags = load_and_resolve(site_dir, workers, pdf, preview=preview, progress=progress, settings=settings)
    writer = Writer(out_dir, sources=[site_dir, resources.builtin_theme(), cache_dir(site)])
    from .mail.store import database_path

    writer.check_target(site_dir, keep=[database_path(site), site_dir / "archive", cache_dir(site)])
    writer.open()
    result = BuildResult(site=site, diagnostics=diags, out_dir=writer.out_dir)
    links = InternalLinks()
    try:
        with_pdf = pdf_enabled(site, pdf)
        result.pages = write_site(site, writer, with_pdf, search_enabled(site, with_search), links)
        write_archived_pdfs(site, writer)
        if with_pdf:
            result.pdfs_rendered, result.pdfs_written = write_pdfs(site, writer, workers, progress,
                                                                   scheduler or site.config.pdf.scheduler)
        if search_enabled(site, with_search):
            result.search = search.index(writer.staging, site, HtmlRenderer.urls_for(site), cache_dir(site), progress)
        for problem in links.problems(set(signing.listing(writer.staging))):
            diags.warning(None, None, None, f"internal link: {problem}")
        manifest = signing.manifest_bytes(writer.staging, __version__)
        writer.write(signing.MANIFEST, manifest)
        if private_key is not None:
            writer.write(signing.SIGNATURE, signing.sign(manifest, private_key))
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    result.files = len(writer.written)
    return result


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
               links: InternalLinks | None = None) -> int:
    urls = HtmlRenderer.urls_for(site)
    feed_list = feeds.feeds(site, urls)  # made once: pages link them, write_feeds writes them
    renderer = HtmlRenderer(site, resources.builtin_theme(), pdf=with_pdf, search=with_search, feed_list=feed_list)
    sitemap_pages: list[Page] = []
    count = 0
    for page in renderer.pages():
        file, html = urls.file_of(page.path), renderer.render(page)
        writer.write(file, html)
        if links is not None:
            links.page(file, html)
        if page.in_sitemap:
            sitemap_pages.append(page)
        count += 1
    write_static(site, writer)
    write_feeds(site, feed_list, urls, writer)
    for record in site.public:
        writer.write(urls.record_json(record.id), data.record_json(record, site, urls))
        files = {att.file for att in record.meta.attachments} | {rel for e in record.editions.values() for rel in e.images}
        for rel in sorted(files):
            writer.copy(urls.attachment(record.id, rel), record.path.with_name(record.id) / rel)
    writer.write("data/catalog.json", data.catalog(site, urls))
    writer.write("data/docnumbers.json", search.doc_number_table(site, urls))
    writer.write("sitemap.xml", data.sitemap(sitemap_pages, urls))
    writer.write("robots.txt", data.robots(urls))
    return count


def write_feeds(site: Site, feed_list: list, urls, writer: Writer) -> None:
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
        rss, atom = feeds.render(feed, site, urls, issue_pdf)
        writer.write(feed.rss(urls), rss)
        writer.write(feed.atom(urls), atom)
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
