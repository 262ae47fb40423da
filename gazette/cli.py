"""The `gazette` command: a thin layer over the pipeline."""
from __future__ import annotations

import shutil
import sys
import time
import traceback
from pathlib import Path

import click

from . import __version__, resources
from .errors import Diagnostics, GazetteError

SITE_OPTION = click.option("--site", "site_dir", type=click.Path(file_okay=False, path_type=Path), default=".",
                           show_default=True, help="The site folder (holds gazette.yaml and content/).")


def _print_warnings(diags: Diagnostics) -> None:
    if diags.warnings:
        click.echo(f"{len(diags.warnings)} warning(s):", err=True)
        for i, d in enumerate(sorted(set(diags.warnings)), 1):
            click.echo(f"{i}. {d.format()}", err=True)


class GazetteGroup(click.Group):
    """Turns unexpected exceptions into one line unless --debug is given."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            raise click.Abort() from None
        except Exception as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"Error: internal error: {type(exc).__name__}: {exc}", err=True)
            click.echo("This is a bug in gazette; run again with --debug for the traceback.", err=True)
            ctx.exit(2)


@click.group(cls=GazetteGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gazette")
@click.option("--debug", is_flag=True, help="Show Python tracebacks for internal errors.")
@click.pass_context
def main(ctx, debug):
    """gazette: build an official government gazette (website, data files)
    from a folder of Markdown + YAML records.

    Start with `gazette init mysite`, then `gazette build --site mysite`.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def init(directory: Path):
    """Create a new site in DIRECTORY, copied from the bundled sample gazette.

    DIRECTORY must not exist or be empty.  The copy holds gazette.yaml,
    content/ (taxonomies, sample records of every type, an issue) and builds
    as it is.
    """
    if directory.exists() and any(directory.iterdir()):
        raise GazetteError(f"{directory} exists and is not empty; choose a new folder")
    sample = resources.sample_site()
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy2(sample / "gazette.yaml", directory / "gazette.yaml")
    shutil.copytree(sample / "content", directory / "content")
    (directory / ".gitignore").write_text("/output/\n/.gazette-cache/\n", encoding="utf-8")
    click.echo(f"created a new gazette in {directory}")
    click.echo(f"next: gazette build --site {directory}")


@main.command()
@SITE_OPTION
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder.  [default: SITE/output]")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=None, help="Worker processes for loading and PDFs (default: all cores).")
@click.option("--pdf/--no-pdf", default=None, help="Render PDFs (default: gazette.yaml pdf.enabled, which defaults to on).")
def build(site_dir: Path, out_dir: Path | None, jobs: int | None, pdf: bool | None):
    """Build the site: check everything, then write the website.

    Every problem in the content is listed with its file, line and field, and
    nothing is written while there are errors.  The output is replaced
    atomically, so a failed build leaves the previous output in place.  Set
    SOURCE_DATE_EPOCH for a reproducible build date.

    PDFs (one per record and English edition, one per issue) are rendered in
    parallel and cached in SITE/.gazette-cache: a PDF whose inputs did not
    change is not rendered again.  Released issues are copied from archive/
    after checking them against their manifests.
    """
    from .pipeline import build as run_build

    start = time.perf_counter()
    result = run_build(site_dir, out_dir, workers=jobs, pdf=pdf)
    _print_warnings(result.diagnostics)
    pdfs = f", {result.pdfs_written} PDFs ({result.pdfs_rendered} rendered)" if result.pdfs_written else ""
    click.echo(f"built {len(result.site.public)} public records: {result.pages} pages, {result.files} files{pdfs} "
               f"in {result.out_dir} ({time.perf_counter() - start:.1f} s)")


@main.command()
@SITE_OPTION
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=None, help="Worker processes for loading (default: all cores).")
@click.option("--pdf/--no-pdf", default=None, help="Check PDF prerequisites (CJK fonts, glyphs); default: gazette.yaml pdf.enabled.")
def check(site_dir: Path, strict: bool, jobs: int | None, pdf: bool | None):
    """Check the site without writing anything.

    Runs everything `build` does except writing: schema, relations,
    publication rule, issues, templates, and the review checks (personal data
    such as resident ID and mobile numbers; policies without a same-day
    interpretation; foreign-affairs records without an English edition).
    Exit 1 on errors, and with --strict on warnings too.
    """
    from .pipeline import check as run_check

    result = run_check(site_dir, strict=strict, workers=jobs, pdf=pdf)
    _print_warnings(result.diagnostics)
    click.echo(f"ok: {len(result.site.records)} records ({len(result.site.public)} public), "
               f"{len(result.site.issues)} issues, {result.pages} pages; {len(result.diagnostics.warnings)} warning(s)")


@main.command()
@SITE_OPTION
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port on 127.0.0.1 (0: any free port).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Build into this folder instead of a temporary one.")
def serve(site_dir: Path, port: int, out_dir: Path | None):
    """Preview the site on http://127.0.0.1:PORT/.

    Rebuilds whenever gazette.yaml, content/ or themes/ change.  When a build
    fails, every page shows its problems and the server keeps running.
    """
    from .serve import serve as run_serve

    run_serve(site_dir, port, out_dir=out_dir)


@main.group()
def issue():
    """Release gazette issues and revise released ones.

    A released issue is frozen in archive/issues/YYYY-NN/vN/ (PDFs, a copy of
    its sources and a manifest of SHA-256 hashes).  Commit archive/ with the
    content.  Builds copy the archived PDFs and fail if a released record
    changed, until the change goes out as a revision with an erratum.
    """


@issue.command("release")
@click.argument("key", metavar="YYYY-NN")
@SITE_OPTION
def issue_release(key: str, site_dir: Path):
    """Freeze issue YYYY-NN as version 1 (archive/issues/YYYY-NN/v1/)."""
    from . import archive
    from .pipeline import cache_dir, load_and_resolve
    from .render.pdf import PdfRenderer

    site, diags = load_and_resolve(site_dir, pdf=True)
    _print_warnings(diags)
    version = archive.release(site, key, PdfRenderer(site, resources.builtin_theme(), cache_dir(site)))
    click.echo(f"released issue {key} as v{version.number}: {version.folder} ({', '.join(version.pdfs)})")


@issue.command("revise")
@click.argument("key", metavar="YYYY-NN")
@click.option("--erratum", required=True, help="What was corrected (plain text; Chinese is fine). Printed on the new version's cover and on the issue page.")
@SITE_OPTION
def issue_revise(key: str, erratum: str, site_dir: Path):
    """Release the changed issue YYYY-NN as its next version, with an erratum.

    Earlier versions stay in the archive and on the site, byte for byte."""
    from . import archive
    from .pipeline import cache_dir, load_and_resolve
    from .render.pdf import PdfRenderer

    site, diags = _load_for_revision(site_dir)
    _print_warnings(diags)
    version = archive.revise(site, key, erratum, PdfRenderer(site, resources.builtin_theme(), cache_dir(site)))
    click.echo(f"released issue {key} as v{version.number}: {version.folder} ({', '.join(version.pdfs)})")


def _load_for_revision(site_dir: Path):
    """Load the site; the 'changed since released' errors are what a revision is for."""
    from .errors import stop_on_errors
    from .load import load_site
    from .render.pdf import require_cjk_fonts
    from .resolve import resolve
    from . import archive

    diags = Diagnostics(root=Path(site_dir))
    loaded = load_site(Path(site_dir), diags)
    if loaded.config is None or loaded.build_time is None:
        stop_on_errors(diags, "loading the site")
    site = resolve(loaded, diags)
    stop_on_errors(diags, "checking the site")
    probe = Diagnostics(root=Path(site_dir))
    archive.verify(site, probe)
    tampered = [d for d in probe.errors if "changed since" not in d.message]
    if tampered:
        probe.items = tampered
        stop_on_errors(probe, "checking the archive")
    require_cjk_fonts()
    return site, diags


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
