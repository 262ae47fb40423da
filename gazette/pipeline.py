"""The build, as a table of contents.

    load -> resolve (validate) -> render -> write

`check` is the same pipeline without the write stage: one code path.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import resources
from .errors import Diagnostics, GazetteError, stop_on_errors
from .load import load_site
from .model import Site
from .render import data
from .render.html import HtmlRenderer, Page
from .resolve import resolve
from .writer import Writer


@dataclass
class BuildResult:
    site: Site
    diagnostics: Diagnostics
    pages: int = 0
    files: int = 0
    out_dir: Path | None = None


def load_and_resolve(site_dir: Path, workers: int | None = None) -> tuple[Site, Diagnostics]:
    diags = Diagnostics(root=Path(site_dir))
    loaded = load_site(Path(site_dir), diags, workers=workers)
    if loaded.config is None or loaded.build_time is None:
        stop_on_errors(diags, "loading the site")
    # Resolve even after load errors, so one run reports every problem;
    # records that failed to load are skipped there, not reported again.
    site = resolve(loaded, diags)
    stop_on_errors(diags, "checking the site")
    return site, diags


def check(site_dir: Path, strict: bool = False, workers: int | None = None) -> BuildResult:
    site, diags = load_and_resolve(site_dir, workers)
    renderer = HtmlRenderer(site, resources.builtin_theme())
    pages = 0
    for page in renderer.pages():
        renderer.render(page)  # template errors surface here, as in a build
        pages += 1
    if strict and diags.warnings:
        raise GazetteError(f"check failed (--strict): {len(diags.warnings)} warning(s)", diags)
    return BuildResult(site=site, diagnostics=diags, pages=pages)


def build(site_dir: Path, out_dir: Path | None = None, workers: int | None = None) -> BuildResult:
    site_dir = Path(site_dir)
    out_dir = Path(out_dir) if out_dir else site_dir / "output"
    site, diags = load_and_resolve(site_dir, workers)
    writer = Writer(out_dir)
    writer.check_target(site_dir)
    writer.open()
    try:
        pages = write_site(site, writer)
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    return BuildResult(site=site, diagnostics=diags, pages=pages, files=len(writer.written), out_dir=writer.out_dir)


def write_site(site: Site, writer: Writer) -> int:
    renderer = HtmlRenderer(site, resources.builtin_theme())
    urls = renderer.urls
    sitemap_pages: list[Page] = []
    count = 0
    for page in renderer.pages():
        writer.write(urls.file_of(page.path), renderer.render(page))
        if page.in_sitemap:
            sitemap_pages.append(page)
        count += 1
    write_static(site, writer)
    for record in site.public:
        writer.write(urls.record_json(record.id), data.record_json(record, site, urls))
        for att in record.meta.attachments:
            writer.copy(urls.attachment(record.id, att.file), record.path.with_name(record.id) / att.file)
    writer.write("data/catalog.json", data.catalog(site, urls))
    writer.write("sitemap.xml", data.sitemap(sitemap_pages, urls))
    writer.write("robots.txt", data.robots(urls))
    return count


def write_static(site: Site, writer: Writer) -> None:
    """Theme static files; the site's own theme overrides the built-in one file by file."""
    sources: dict[str, Path] = {}
    for folder in (resources.builtin_theme() / "static", site.root / "themes" / site.config.theme / "static"):
        if folder.is_dir():
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    sources[path.relative_to(folder).as_posix()] = path
    for rel in sorted(sources):
        writer.copy(f"static/{rel}", sources[rel])
