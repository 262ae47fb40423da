"""The `gazette` command: a thin layer over the pipeline."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from . import __version__, resources
from .errors import Diagnostics, GazetteError

SITE_OPTION = click.option("--site", "site_dir", type=click.Path(file_okay=False, path_type=Path), default=".",
                           show_default=True, help="The site folder (holds gazette.yaml and content/).")


def _print_warnings(diags: Diagnostics) -> None:
    if diags.warnings:
        click.echo(f"{_n(len(diags.warnings), 'warning')}:", err=True)
        for i, d in enumerate(sorted(set(diags.warnings)), 1):
            click.echo(f"{i}. {d.format()}", err=True)


def _progress():
    """Progress bars on standard error when it is a terminal; nothing otherwise."""
    from .progress import for_stream

    return for_stream(sys.stderr)


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
@click.option("--empty", is_flag=True, help="A minimal site (configuration and taxonomy files, no records) instead of the sample.")
def init(directory: Path, empty: bool):
    """Create a new site in DIRECTORY (which must not exist or be empty).

    By default the site is a copy of the bundled sample gazette: gazette.yaml
    and content/ with taxonomies, sample records of every type and an issue;
    it builds as it is.  With --empty it has gazette.yaml, the four taxonomy
    files (one issuer to rename) and empty content/records/ and
    content/issues/; add records with `gazette new record`.
    """
    from .scaffold import init_site

    init_site(directory, empty=empty)
    click.echo(f"created a new {'empty ' if empty else ''}gazette in {directory}")
    if empty:
        click.echo(f"next: edit {directory / 'gazette.yaml'}, then gazette new record --type policy --site {directory}")
    else:
        click.echo(f"next: gazette build --site {directory}")


@main.group()
def new():
    """Start a new record or issue from a skeleton that passes `gazette check`."""


@new.command("record")
@click.option("--type", "rtype", required=True, type=click.Choice(["policy", "interpretation", "faq", "appointment", "commendation", "consultation"]),
              help="The record type.")
@click.option("--id", "rid", default=None, help="The record id (default: TYPE-YYYY-MMDD, with -2, -3 … if taken).")
@click.option("--for", "target", default=None, metavar="ID",
              help="For an interpretation: the policy or consultation it interprets; for a FAQ list: its policy.  Required for those two types.")
@SITE_OPTION
def new_record(rtype: str, rid: str | None, target: str | None, site_dir: Path):
    """Write a skeleton record of a type, dated today (the build date), and print its path.

    The skeleton has every field its type requires, with placeholders to
    replace, under content/records/YYYY/ID.md.  It is `disclosure: proactive`
    without a `review`, so it is not public until you add the review
    [先审查、后公开]; `gazette check` passes on it as it stands.
    """
    from .pipeline import load_and_resolve
    from .scaffold import new_record as write

    site, _ = load_and_resolve(site_dir, pdf=False, read_only=True, settings=_settings())
    path = write(site, rtype, rid, target)
    click.echo(path)


@new.command("issue")
@click.argument("key", metavar="YYYY-NN")
@SITE_OPTION
def new_issue(key: str, site_dir: Path):
    """Write content/issues/YYYY-NN.yaml, dated today, listing by type every
    public record that is in no issue yet; print its path.

    Edit the sections (titles, order, which records) before releasing it
    with `gazette issue release YYYY-NN`.
    """
    from .pipeline import load_and_resolve
    from .scaffold import new_issue as write

    site, _ = load_and_resolve(site_dir, pdf=False, read_only=True, settings=_settings())
    click.echo(write(site, key))


@main.command()
@SITE_OPTION
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder.  [default: SITE/output]")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=None, help="Worker processes for loading, pages, PDFs and search (default: all cores).")
@click.option("--pdf/--no-pdf", default=None, help="Render PDFs (default: gazette.yaml pdf.enabled, which defaults to on).")
@click.option("--search/--no-search", "search_index", default=None, help="Build the Pagefind search index (default: gazette.yaml search.enabled, on).")
@click.option("--scheduler", default=None, metavar="ADDRESS", callback=lambda ctx, param, value: _scheduler(value),
              help="Render PDFs on the workers of the Dask scheduler at ADDRESS (tcp://host:8786) instead of local "
                   "processes (overrides pdf.scheduler).  Workers need gazette, WeasyPrint and the CJK fonts "
                   "installed, no shared disk.")
@click.option("--sign-key", type=click.Path(dir_okay=False, path_type=Path), envvar="GAZETTE_SIGNING_KEY", default=None,
              help="Ed25519 private key (PEM) to sign manifest.json with (writes manifest.sig); also GAZETTE_SIGNING_KEY.  "
                   "It must lie outside the site and the output.  Make one with `gazette keys new`.")
@click.option("--clean", is_flag=True, help="Build everything anew: use nothing from the build cache or the last output "
                                            "(the result is the same, byte for byte).")
def build(site_dir: Path, out_dir: Path | None, jobs: int | None, pdf: bool | None, search_index: bool | None,
          sign_key: Path | None, scheduler: str | None, clean: bool):
    """Build the site: check everything, then write the website.

    Every problem in the content is listed with its file, line and field, and
    nothing is written while there are errors.  The output is replaced
    atomically, so a failed build leaves the previous output in place; the
    replaced output stays beside it (.OUT.spare), where the next build is
    made.  Set SOURCE_DATE_EPOCH for a reproducible build date.

    Builds are incremental: a record file, page, data file or feed whose
    inputs did not change since the last build is taken from the build cache
    (SITE/.gazette-cache, or GAZETTE_CACHE_DIR) and the last output, and the
    result is the same, byte for byte, as a clean build's (--clean).

    PDFs (one per record and English edition, one per issue) are rendered in
    parallel and cached: a PDF whose inputs did not change is not rendered
    again.  Released issues are copied from archive/ after checking them
    against their manifests.
    """
    from .pipeline import build as run_build

    start = time.perf_counter()
    result = run_build(site_dir, out_dir, workers=jobs, pdf=pdf, with_search=search_index, progress=_progress(),
                       settings=_settings(), scheduler=scheduler,
                       sign_key=sign_key, clean=clean)
    if result.up_to_date is not None:
        _print_up_to_date(result.up_to_date, result.out_dir, time.perf_counter() - start)
        return
    _print_warnings(result.diagnostics)
    pdfs = f", {result.pdfs_written} PDFs ({result.pdfs_rendered} rendered)" if result.pdfs_written else ""
    held = _held_back(result.site)
    reused = f" ({result.reused} unchanged, from the last build)" if result.reused else ""
    click.echo(f"built {_n(len(result.site.public), 'public record')}{held}: {result.pages} pages, {result.files} files{reused}{pdfs} "
               f"in {result.out_dir} ({time.perf_counter() - start:.1f} s)")
    _print_held_back(result.site)


def _print_up_to_date(report: dict, out_dir: Path, seconds: float) -> None:
    """Nothing changed since the last build: what it said, again."""
    from .errors import Diagnostic, WARNING

    diags = Diagnostics()
    diags.items = [Diagnostic(*w, severity=WARNING) for w in report.get("warnings", [])]
    _print_warnings(diags)
    held = report.get("held_back", [])
    held_note = f" ({len(held)} held back, listed below)" if held else ""
    written, rendered = report.get("pdfs", (0, 0))
    pdfs = f", {written} PDFs" if written else ""
    click.echo(f"up to date: nothing changed since the last build of {_n(report.get('records', 0), 'public record')}{held_note}: "
               f"{report.get('pages', 0)} pages, {report.get('files', 0)} files{pdfs} in {out_dir} ({seconds:.1f} s)")
    for rid, path, reason in held:
        click.echo(f"  held back: {rid} ({path}): {reason}")


def _held_back(site) -> str:
    from .resolve import held_back

    n = len(held_back(site))
    return f" ({n} held back, listed below)" if n else ""


def _print_held_back(site) -> None:
    """Nothing disappears silently: one line per record that is not public."""
    from .resolve import held_back

    for record, reason in held_back(site):
        click.echo(f"  held back: {record.id} ({record.path.relative_to(site.root).as_posix()}): {reason}")


@main.command()
@SITE_OPTION
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=None, help="Worker processes for loading (default: all cores).")
@click.option("--pdf/--no-pdf", default=None, help="Check PDF prerequisites (CJK fonts, glyphs); default: gazette.yaml pdf.enabled.")
@click.option("--links", is_flag=True, help="Also check every external link (online services, source_url, feedback.url, links in bodies) over the network.")
@click.option("--link-timeout", type=click.FloatRange(0.1, 300), default=10.0, show_default=True, metavar="SECONDS",
              help="With --links: how long to wait for a host.")
@click.option("--report", "link_report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --links: also write the broken and redirected links as JSON to this file.")
def check(site_dir: Path, strict: bool, jobs: int | None, pdf: bool | None, links: bool, link_timeout: float,
          link_report: Path | None):
    """Check the site without writing anything.

    Runs everything `build` does except writing: schema, relations,
    publication rule, issues, templates, and the review checks (personal data
    such as resident ID and mobile numbers; policies without a same-day
    interpretation; foreign-affairs records without an English edition).
    Exit 1 on errors, and with --strict on warnings too.

    With --links it also asks every host the site links to [阅办联动 不断链]:
    HEAD, then GET; redirects followed and reported; network errors retried
    with back-off; two requests at a time per host.  Broken links (4xx, 5xx,
    loops, refused, no answer) are errors naming record, field and line;
    429 and 503 are warnings.  Only --links (and --report) reach the network.
    """
    from .pipeline import check as run_check

    checker = None
    if links:
        from .links import Checker

        checker = Checker(timeout=link_timeout)
    elif link_report:
        raise click.UsageError("--report goes with --links")
    result = run_check(site_dir, strict=strict, workers=jobs, pdf=pdf, progress=_progress(), link_checker=checker,
                       settings=_settings(),
                       link_report=link_report)
    _print_warnings(result.diagnostics)
    from .resolve import held_back

    held = len(held_back(result.site))
    click.echo(f"ok: {len(result.site.records)} records ({len(result.site.public)} public, {held} held back), "
               f"{_n(len(result.site.issues), 'issue')}, {_n(result.pages, 'page')}; {_n(len(result.diagnostics.warnings), 'warning')}")
    _print_held_back(result.site)
    if result.links is not None:
        click.echo(f"links: none broken; {len(result.links)} to look at (redirected or busy)")


@main.command()
@SITE_OPTION
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port on 127.0.0.1 (0: any free port).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Build into this folder instead of a temporary one.")
def serve(site_dir: Path, port: int, out_dir: Path | None):
    """Preview the site on http://127.0.0.1:PORT/.

    Rebuilds whenever gazette.yaml, content/ or themes/ change, incrementally
    (as `gazette build`), keeping the loaded records and the last build's
    state in memory between rebuilds.  When a build fails, every page shows
    its problems and the server keeps running.  Ctrl+C (or SIGTERM, SIGHUP)
    stops it; without --out, its temporary output folder is removed.
    """
    from .serve import serve as run_serve

    run_serve(site_dir, port, out_dir=out_dir, settings=_settings())


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--key", "public_key", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="The publisher's Ed25519 public key (PEM): the signature must be present and valid.")
def verify(directory: Path, public_key: Path | None):
    """Check a built or deployed copy of a gazette against its manifest.

    Every file listed in DIRECTORY/manifest.json must be there with the same
    SHA-256, and no other file may be; with --key, manifest.sig must be a
    valid Ed25519 signature of manifest.json by that key.  Names every
    missing, changed or extra file; exit 1 if anything is wrong.
    """
    from .signing import verify as run_verify

    result = run_verify(directory, public_key)
    if result.problem:
        raise GazetteError(result.problem)
    for label, items in (("missing", result.missing), ("changed", result.changed), ("extra", result.extra)):
        for rel in items:
            click.echo(f"{label}: {rel}")
    signature = {"valid": "signature valid", "missing": "manifest.sig is missing", "invalid": "signature INVALID",
                 "not checked": "signature not checked (no --key)"}[result.signature]
    click.echo(f"{'ok' if result.ok else 'FAILED'}: {signature}; {len(result.missing)} missing, {len(result.changed)} changed, "
               f"{_n(len(result.extra), 'extra file')}")
    if not result.ok:
        raise SystemExit(1)


@main.group()
def keys():
    """Signing keys for verifiable output (Ed25519)."""


@keys.command("new")
@click.option("--out", "folder", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True,
              help="Folder for the key pair; never a site or output folder.")
@click.option("--name", default="gazette-signing", show_default=True, help="File name stem.")
def keys_new(folder: Path, name: str):
    """Make an Ed25519 key pair: NAME.pem (private, mode 600: keep it secret,
    outside the site) and NAME.pub.pem (publish it, and give it to
    `gazette verify --key`)."""
    from .signing import new_key_pair

    private, public = new_key_pair(folder, name)
    click.echo(f"private key: {private} (keep it secret; build with --sign-key {private})")
    click.echo(f"public key:  {public}")


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

    site, diags = load_and_resolve(site_dir, pdf=True, progress=_progress(), settings=_settings())
    _print_warnings(diags)
    version = archive.release(site, key, PdfRenderer(site, resources.builtin_theme(), cache_dir(site), progress=_progress()))
    click.echo(f"released issue {key} as v{version.number}: {version.folder} ({', '.join(version.pdfs)})")


@issue.command("revise")
@click.argument("key", metavar="YYYY-NN")
@click.option("--erratum", required=True, help="What was corrected, in the site's language (plain text). Printed on "
              "the new version's cover and on the issue page; a leading \"更正：\" is not needed.")
@click.option("--erratum-en", default=None, help="The erratum in English, for the English PDF and pages "
              "(without it they show the Chinese text).")
@SITE_OPTION
def issue_revise(key: str, erratum: str, erratum_en: str | None, site_dir: Path):
    """Release the changed issue YYYY-NN as its next version, with an erratum.

    Earlier versions stay in the archive and on the site, byte for byte."""
    from . import archive
    from .pipeline import cache_dir, load_and_resolve
    from .render.pdf import PdfRenderer

    site, diags = load_and_resolve(site_dir, pdf=True, revising=True, progress=_progress(), settings=_settings())
    _print_warnings(diags)
    texts = {site.default_lang: erratum, **({"en": erratum_en} if erratum_en else {})}
    version = archive.revise(site, key, texts if len(texts) > 1 else erratum, PdfRenderer(site, resources.builtin_theme(), cache_dir(site), progress=_progress()))
    click.echo(f"released issue {key} as v{version.number}: {version.folder} ({', '.join(version.pdfs)})")


@issue.command("withdraw")
@click.argument("key", metavar="YYYY-NN")
@click.argument("record_id", metavar="RECORD")
@click.option("--reason", required=True, help="The public reason (plain text; Chinese is fine).  Shown with the date in the notice; the record's title and text never are.")
@SITE_OPTION
def issue_withdraw(key: str, record_id: str, reason: str, site_dir: Path):
    """Withdraw RECORD from released issue YYYY-NN [撤回].

    First take the record out of content/issues/YYYY-NN.yaml and make it
    non-public (e.g. `disclosure: not-public`).  This releases the issue
    again as a new version without it, with a public notice of withdrawal
    (date and reason).  Every earlier version that contained the record is
    replaced in the built site by the notice and the new version; the archive
    keeps the earlier bytes, and the new version's manifest records the
    withdrawal.
    """
    from . import archive
    from .pipeline import cache_dir, load_and_resolve
    from .render.pdf import PdfRenderer

    site, diags = load_and_resolve(site_dir, pdf=True, revising=True, progress=_progress(), settings=_settings())
    _print_warnings(diags)
    version = archive.withdraw(site, key, record_id, reason, PdfRenderer(site, resources.builtin_theme(), cache_dir(site), progress=_progress()))
    replaced = ", ".join(f"v{n}" for n in version.manifest["withdrawal"]["versions"])
    click.echo(f"withdrew {record_id} from issue {key}: released v{version.number} ({version.folder}); "
               f"{replaced} will be replaced by it in the built site")


# ---------------------------------------------------------------- subscriptions
def _scheduler(value):
    from .schema import scheduler_address

    try:
        return None if value is None else scheduler_address(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _settings():
    """The environment, read here once for the library (which reads none)."""
    from .model import RunSettings

    return RunSettings.from_environ(os.environ)


def _site_for_mail(site_dir: Path):
    from .pipeline import load_and_resolve

    site, diags = load_and_resolve(site_dir, pdf=False, settings=_settings())
    return site


def _secret(site) -> str:
    """The key that signs unsubscribe and preference links, from the
    environment variable gazette.yaml names (subscriptions.secret_env)."""
    from .mail.tokens import check_secret

    name = site.config.subscriptions.secret_env
    return check_secret(name, os.environ.get(name, ""))


def _smtp_password(site) -> str | None:
    """The SMTP password, from the environment variable gazette.yaml names;
    None when no SMTP user is set."""
    conf = site.config.subscriptions.smtp
    return os.environ.get(conf.password_env) if conf.user else None


def _scopes_options(f):
    f = click.option("--issues", "new_issues", is_flag=True,
                     help="Also announce each new gazette issue (alone: issues only, no records).")(f)
    f = click.option("--match", type=click.Choice(["any", "all"]), default="any", show_default=True,
                     help="any: a record matching any chosen topic, tag, issuer or type is sent; all: it must match "
                          "one of each kind chosen (e.g. --type appointment --issuer K --match all).")(f)
    for kind in ("type", "issuer", "tag", "topic"):
        f = click.option(f"--{kind}", f"{kind}s", multiple=True, metavar="KEY",
                         help=f"Follow this {kind} (repeatable). No scope options: every record.")(f)
    return f


@main.group()
def subscribers():
    """Manage email subscribers (SQLite, path from gazette.yaml
    subscriptions.database; default SITE/.gazette/subscribers.sqlite3).

    Addresses are compared case-insensitively.  Someone who unsubscribed is
    kept as unsubscribed, so neither `add` nor `import` subscribes them again.
    """


@subscribers.command("add")
@click.argument("email")
@click.option("--lang", default=None, help="Language of the emails (default: the site's first language).")
@_scopes_options
@click.option("--audience", "audiences", multiple=True, metavar="TAG",
              help="Enrol the address in this audience (repeatable): it then receives targeted (定向公开) records "
                   "whose audience lists TAG.  Only editors can do this; the public service never can.  "
                   "For an existing subscriber, replaces their audiences.")
@SITE_OPTION
def subscribers_add(email, lang, topics, tags, issuers, types, match, new_issues, audiences, site_dir):
    """Add an active subscriber (for addresses that consented elsewhere), or
    enrol an existing one in audiences (--audience)."""
    from .mail.choose import check_subscriber
    from .mail.store import Scopes, open_store

    site = _site_for_mail(site_dir)
    lang = lang or site.default_lang
    scopes = Scopes.of(match=match, issues=new_issues, topics=topics, tags=tags, issuers=issuers, types=types)
    _, problems = check_subscriber(site, email, lang, scopes, list(audiences))
    if problems:
        raise GazetteError("; ".join(problems))
    store = open_store(site)
    try:
        outcome, sub = store.add(email, lang, scopes, site.build_time.isoformat())
        if audiences and outcome != "unsubscribed":
            store.set_audiences(sub.id, list(audiences))
            sub = store.get(sub.id)
    finally:
        store.close()
    if outcome == "unsubscribed":
        raise GazetteError(f"{sub.email} unsubscribed on {(sub.unsubscribed or '')[:10]}; not subscribed again")
    enrolled = f"; audiences: {' '.join(sub.audiences)}" if sub.audiences else ""
    click.echo(f"added {sub.email} ({sub.lang}; {sub.scopes.describe()}{enrolled})" if outcome == "added"
               else f"{sub.email} is already subscribed{enrolled}")


@subscribers.command("remove")
@click.argument("email")
@SITE_OPTION
def subscribers_remove(email, site_dir):
    """Unsubscribe an address (it stays on record as unsubscribed)."""
    from .mail.store import open_store

    site = _site_for_mail(site_dir)
    store = open_store(site)
    try:
        try:
            sub = store.find(email)
        except ValueError as exc:
            raise GazetteError(str(exc)) from None
        if sub is None:
            raise GazetteError(f"{email} is not a subscriber")
        store.unsubscribe(sub.id, site.build_time.isoformat())
    finally:
        store.close()
    click.echo(f"unsubscribed {sub.email}")


@subscribers.command("list")
@click.option("--status", type=click.Choice(["active", "pending", "unsubscribed"]), default=None, help="Only this status.")
@SITE_OPTION
def subscribers_list(status, site_dir):
    """List subscribers: address, status, language, scopes."""
    from .mail.store import open_store

    site = _site_for_mail(site_dir)
    store = open_store(site, create=False)
    try:
        rows = store.all(status)
    finally:
        store.close()
    for sub in rows:
        enrolled = f"\taudiences: {' '.join(sub.audiences)}" if sub.audiences else ""
        click.echo(f"{sub.email}\t{sub.status}\t{sub.lang}\t{sub.scopes.describe()}{enrolled}")
    click.echo(_n(len(rows), "subscriber"), err=True)


@subscribers.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@SITE_OPTION
def subscribers_import(csv_file, site_dir):
    """Import subscribers from a UTF-8 CSV file with a header row:
    email[,lang][,topics,tags,issuers,types] (keys separated by spaces).

    Invalid rows are reported with their line and nothing is imported;
    unsubscribed addresses are skipped."""
    from .mail.importer import import_csv
    from .mail.store import open_store

    site = _site_for_mail(site_dir)
    store = open_store(site)
    try:
        report = import_csv(site, store, csv_file)
    finally:
        store.close()
    for line, problem in report.errors:
        click.echo(f"{csv_file}:{line}: error: {problem}", err=True)
    for email in report.unsubscribed:
        click.echo(f"skipped {email}: unsubscribed earlier", err=True)
    click.echo(f"imported {report.added} new, {report.existing} already subscribed, "
               f"{len(report.unsubscribed)} unsubscribed skipped, {_n(len(report.errors), 'error')}")
    if report.errors:
        raise SystemExit(1)


@subscribers.command("export")
@click.argument("csv_file", type=click.Path(dir_okay=False, path_type=Path), required=False)
@SITE_OPTION
def subscribers_export(csv_file, site_dir):
    """Export all subscribers as CSV (to CSV_FILE, or standard output)."""
    import io

    from .mail.store import open_store

    site = _site_for_mail(site_dir)
    store = open_store(site, create=False)
    buffer = io.StringIO()
    try:
        count = store.export_csv(buffer)
    finally:
        store.close()
    if csv_file:
        csv_file.write_text(buffer.getvalue(), encoding="utf-8")
        click.echo(f"exported {_n(count, 'subscriber')} to {csv_file}")
    else:
        click.echo(buffer.getvalue(), nl=False)


@main.group()
def mail():
    """Email digests for subscribers: `gazette mail send` (or --dry-run).

    SMTP settings come from gazette.yaml (subscriptions.smtp), the SMTP
    password and GAZETTE_SECRET (which signs unsubscribe links) from the
    environment."""


@mail.command("send")
@click.option("--dry-run", is_flag=True, help="Write the messages as .eml files instead of sending; changes nothing. "
              "Needs no GAZETTE_SECRET: links in them are placeholders that no service accepts.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("mail-dry-run"),
              show_default=True, help="Folder for --dry-run messages.")
@click.option("--backfill-since", "backfill", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Also send records published on or after this date (YYYY-MM-DD) that a subscriber has not "
                   "received, even from before they subscribed: a welcome digest, or a backfill.")
@SITE_OPTION
def mail_send(dry_run, out_dir, backfill, site_dir):
    """Send each subscriber one digest of what is new for them.

    New means: public records published since they subscribed (or since
    --backfill-since) that no earlier digest to them contained, matching their
    scopes, in their language.  Scopes of different kinds combine with OR
    unless the subscriber asked for all of them (see `subscribers add
    --match`).  Targeted records go only to subscribers of their audience
    tags.  Messages are queued in a durable outbox first, then sent; a rerun
    after any failure sends what is still pending and never sends a record
    twice.  SMTP settings come from gazette.yaml (subscriptions.smtp); the
    password only from the environment variable it names.
    """
    from .mail.compose import Composer, plan_digests, write_dry_run
    from .mail.delivery import deliver
    from .mail.store import open_store
    from .mail.tokens import DRY_RUN_SECRET, Tokens

    site = _site_for_mail(site_dir)
    tokens = Tokens(DRY_RUN_SECRET if dry_run else _secret(site))
    since = backfill.date() if backfill else None
    store = open_store(site, create=not dry_run)
    try:
        composer = Composer(site, tokens, resources.builtin_theme(), instance=store.instance)
        plan = plan_digests(site, store, composer, dry_run=dry_run, backfill=since)
        if dry_run:
            count = write_dry_run(plan, out_dir)
            click.echo(f"dry run: wrote {_n(count, 'message')} to {out_dir} (their links are placeholders); "
                       "nothing was sent or recorded")
            if not count:
                click.echo(_why_nothing(plan))
            return
        report = deliver(site, store, progress=_progress(), password=_smtp_password(site))
    finally:
        store.close()
    for email, error in report.failed:
        click.echo(f"failed: {email}: {error}", err=True)
    elsewhere = f" ({report.elsewhere} being sent by another process)" if report.elsewhere else ""
    click.echo(f"queued {_n(plan.queued, 'digest')}; sent {report.sent}, failed {len(report.failed)}, "
               f"still pending {report.pending}{elsewhere}")
    if not plan.queued and not report.sent:
        click.echo(_why_nothing(plan))
    if report.connection_error:
        click.echo(f"Error: {report.connection_error}; run again to send what is pending", err=True)
    if report.pending or report.connection_error:
        raise SystemExit(1)


def _why_nothing(plan) -> str:
    if not plan.subscribers:
        return ("nothing to send: there are no confirmed subscribers (subscribers confirm through the link "
                "in their confirmation email, or are added with `gazette subscribers add`)")
    return (f"nothing new for any of {_n(plan.subscribers, 'subscriber')}: a digest holds only public records "
            "published since the subscriber subscribed, not sent to them before, matching their scopes. "
            "To send earlier records as a welcome or backfill: gazette mail send --backfill-since YYYY-MM-DD")


def _n(count: int, noun: str, plural: str | None = None) -> str:
    """'1 digest', '2 digests'."""
    return f"{count} {noun if count == 1 else (plural or noun + 's')}"


@main.group()
def subscriptions():
    """The self-service subscription web service (subscribe with double
    opt-in, confirm, one-click unsubscribe, preferences)."""


@subscriptions.command("serve")
@SITE_OPTION
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8001, show_default=True, help="Port (0: any free port).")
@click.option("--deliver-every", type=click.FloatRange(0, 3600), default=30.0, show_default=True, metavar="SECONDS",
              help="How often the service's worker delivers the outbox (it also wakes when a confirmation is queued); "
                   "0: never (leave delivery to `gazette mail send`).")
def subscriptions_serve(site_dir, host, port, deliver_every):
    """Run the subscription service: subscribe (double opt-in), confirm,
    one-click unsubscribe (RFC 8058) and preferences, on the subscriber
    database.  Point gazette.yaml subscriptions.service_url at it.

    Confirmation mail is queued, never sent inside a request; a worker
    thread delivers the outbox.  One confirmation per address per 10 minutes,
    20 POSTs per client per minute, POSTs from other sites refused."""
    from .mail.service import serve as run

    site = _site_for_mail(site_dir)
    run(site, _secret(site), host, port, deliver_every, smtp_password=_smtp_password(site))


def run(args: list[str] | None = None) -> None:
    """The `gazette` command: main(), then the process ends without tearing
    down the interpreter.  A build of a large site leaves millions of objects,
    and freeing them one by one at exit took 0.8-1.0 s of a 10,000-record
    build (mypy ends the same way).  The exit handlers still run and the
    output is flushed; while any other thread runs, the exit is the normal one."""
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = exc.code
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    import threading

    if threading.active_count() > 1:
        sys.exit(code)
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
