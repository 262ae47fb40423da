"""PDFs by WeasyPrint: one per public record and English edition, one per
gazette issue (and its English counterpart).

Rendering is the expensive step, so it is keyed and cached: the key is the
SHA-256 of the exact HTML handed to WeasyPrint (which already reflects the
record sources, taxonomies, templates and CSS), the font files, the
WeasyPrint version and the PDF variant.  A cached PDF is used only if its own
hash still matches the hash stored beside it.  Jobs run in parallel.
"""
from __future__ import annotations

import datetime as dt

import hashlib
import os
import re
import subprocess
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path


from .. import markdown
from ..resources import code_identity
from ..errors import GazetteError
from ..model import Issue, Record, Site
from ..progress import NO_PROGRESS, Progress
from . import theme
from .theme import template_errors
from .urls import Urls



# ------------------------------------------------------------------- fonts
class Fonts:
    """The installed CJK fonts, as one build sees them: their files, a
    fingerprint (part of every PDF's cache key) and the code points they cover.
    Each build makes its own, so a long-running `gazette serve` sees fonts
    installed while it runs; reading the cmaps is cached on disk by fingerprint."""

    def __init__(self):
        self._files: tuple[str, ...] | None = None
        self._fingerprint: str | None = None
        self._coverage: frozenset[int] | None = None

    def files(self) -> tuple[str, ...]:
        """Font files that provide the CJK families the PDFs use."""
        if self._files is None:
            try:
                out = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, check=True).stdout
            except (OSError, subprocess.CalledProcessError):
                out = ""
            self._files = tuple(sorted({line.split(":")[0].strip() for line in out.splitlines() if line.strip()}))
        return self._files

    def require(self) -> tuple[str, ...]:
        files = self.files()
        if not files:
            raise GazetteError("no CJK font is installed, so PDFs would show boxes instead of Chinese text: "
                               "install the Debian package fonts-noto-cjk (apt-get install fonts-noto-cjk), "
                               "or build without PDFs (--no-pdf)")
        return files

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            h = hashlib.sha256()
            for f in self.require():
                st = os.stat(f)
                h.update(f"{f}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    def coverage(self, cache_dir: Path | None = None, store: bool = True) -> frozenset[int]:
        """Every code point some installed CJK font has a glyph for.  Reading the
        fonts' cmaps takes over a second, so the set is cached per fingerprint
        (in cache_dir when `store`; `check` reads the cache but writes nothing)."""
        if self._coverage is not None:
            return self._coverage
        cached = cache_dir / "fonts" / f"{self.fingerprint()}.txt" if cache_dir else None
        if cached and cached.is_file():
            try:
                self._coverage = frozenset(int(x, 16) for x in cached.read_text().split())
                return self._coverage
            except ValueError:
                pass
        self._coverage = self._read_cmaps()
        if cached and store:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp")
            tmp.write_text(" ".join(f"{p:x}" for p in sorted(self._coverage)))
            os.replace(tmp, cached)
        return self._coverage

    def _read_cmaps(self) -> frozenset[int]:
        from fontTools.ttLib import TTCollection, TTFont

        points: set[int] = set()
        for path in self.require():
            fonts = TTCollection(path, lazy=True).fonts if path.lower().endswith(".ttc") else [TTFont(path, lazy=True)]
            for font in fonts:
                cmap = font.getBestCmap() or {}
                points.update(cmap)
        return frozenset(points)


_FILE_URL_RE = re.compile(r'gazette-file:([a-z0-9][a-z0-9-]*/[^"\s]+)')


def missing_glyphs(text: str, covered: frozenset[int]) -> list[tuple[int, str]]:
    """[(line, character)] for characters no font can draw."""
    out = []
    for lineno, line in enumerate(text.split("\n"), 1):
        for ch in line:
            if ord(ch) > 0x7E and ord(ch) not in covered and not ch.isspace() and ord(ch) not in (0xFEFF, 0x200B, 0x200D):
                out.append((lineno, ch))
    return out


def css_string(text: str):
    """A CSS string literal (for content: in @page rules)."""
    from markupsafe import Markup

    escaped = str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ").replace("<", "\\3c ")
    return Markup(f'"{escaped}"')


# ------------------------------------------------------------------- cache
@dataclass
class PdfJob:
    output: str  # path in the output folder
    html: str
    key: str = ""


class PdfCache:
    def __init__(self, folder: Path):
        self.folder = folder

    def path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.pdf"

    def get(self, key: str) -> Path | None:
        pdf = self.path(key)
        sidecar = pdf.with_suffix(".sha256")
        if not (pdf.is_file() and sidecar.is_file()):
            return None
        if hashlib.sha256(pdf.read_bytes()).hexdigest() != sidecar.read_text().strip():
            return None  # damaged or tampered: render again
        return pdf

    def put(self, key: str, data: bytes) -> Path:
        pdf = self.path(key)
        pdf.parent.mkdir(parents=True, exist_ok=True)
        tmp = pdf.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, pdf)
        pdf.with_suffix(".sha256").write_text(hashlib.sha256(data).hexdigest() + "\n")
        return pdf


def _site_files_fetcher(files: dict[str, str | bytes]):
    """WeasyPrint's only source of resources: the files of a record's folder that
    its body shows (`gazette-file:ID/PATH`).  Every other URL (http, file,
    data, a relative URL resolved against base_url) is refused, so rendering a
    PDF never touches the network or another part of the disk."""
    import mimetypes

    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class SiteFiles(URLFetcher):
        def fetch(self, url, headers=None):
            if url.startswith(markdown.FILE_SCHEME):
                ref = url[len(markdown.FILE_SCHEME):]
                found = files.get(ref)
                if found is not None:  # the file's bytes (a remote worker), or its path (this machine)
                    mime = mimetypes.guess_type(ref)[0] or "application/octet-stream"
                    body = found if isinstance(found, bytes) else Path(found).read_bytes()
                    return URLFetcherResponse(url, body=body, headers={"Content-Type": mime})
            raise ValueError(f"gazette fetches nothing at build time ({url[:120]})")

    return SiteFiles(allowed_protocols=())


def render_pdf_bytes(html: str, base_url: str, variant: str, files: dict[str, str | bytes] | None = None) -> bytes:
    """One PDF from its HTML.  Everything it needs comes in the arguments (the
    images as bytes, for a worker on another machine); nothing is read from the
    network or, given bytes, from the disk."""
    import weasyprint

    document = weasyprint.HTML(string=html, base_url=base_url, url_fetcher=_site_files_fetcher(files or {}))
    options = {} if variant == "none" else {"pdf_variant": variant}
    return document.write_pdf(**options)


def _render_to_cache(job: tuple) -> str:
    key, html, base_url, variant, folder, files = job
    PdfCache(Path(folder)).put(key, render_pdf_bytes(html, base_url, variant, files))
    return key


def _render_remote(job: tuple) -> tuple[str, bytes]:
    """On a Dask worker: -> (cache key, PDF bytes); the cache stays on the
    machine that builds, so workers need no shared disk."""
    key, html, base_url, variant, files = job
    return key, render_pdf_bytes(html, base_url, variant, files)


def dask_executor(address: str):
    """A concurrent.futures executor on the Dask scheduler at `address`
    (tcp://host:8786).  A worker that dies mid-job has its job run elsewhere
    (Dask reschedules it); nothing is published until every PDF is back."""
    try:
        from distributed import Client
    except ImportError:
        raise GazetteError("rendering PDFs on a Dask cluster needs the distributed package: "
                           "pip install 'gazette[dask]'") from None
    try:
        client = Client(address, timeout="20s", set_as_default=False)
    except Exception as exc:  # distributed raises OSError, TimeoutError or its own kinds when it cannot connect
        raise GazetteError(f"cannot reach the Dask scheduler at {address}: {exc or type(exc).__name__}") from None
    return client, client.get_executor(pure=False, retries=3)


# ---------------------------------------------------------------- renderer
class PdfRenderer:
    def __init__(self, site: Site, builtin_theme: Path, cache_dir: Path, workers: int | None = None,
                 progress: Progress = NO_PROGRESS, scheduler: str | None = None):
        """`scheduler`: a Dask scheduler's address (pdf.scheduler, build
        --scheduler); PDFs are then rendered on its workers, else in local
        worker processes."""
        self.scheduler = scheduler
        self.site = site
        self.urls = Urls(site.languages, site.config.base_url)
        self.variant = site.config.pdf.variant
        self.cache = PdfCache(cache_dir / "pdf")
        self.workers = workers or os.cpu_count() or 1
        self.progress = progress
        self.env = theme.environment(site.root, site.config.theme, builtin_theme)
        self.env.filters["css_string"] = css_string
        self.env.tests["contains"] = lambda container, item: item in container
        import weasyprint
        self.salt = f"{weasyprint.__version__}\0{code_identity()}\0{self.variant}\0{site.config.pdf.paper}\0{Fonts().fingerprint()}\0"
        self.rendered = 0  # PDFs rendered by WeasyPrint in this build (the rest came from the cache)

    # file names come from Urls, the one place that knows where outputs go
    issue_pdf_name = staticmethod(Urls.issue_pdf_name)

    # ------------------------------------------------------------ context
    def _context(self, lang: str, today) -> dict:
        return {**theme.base_context(self.site, lang, self.urls, today), "paper": self.site.config.pdf.paper}

    def _render(self, template: str, lang: str, frozen_on: dt.date | None = None, **ctx) -> str:
        """A PDF outlives the day it is made, so a state that depends on the date
        (not yet in force, expired by date, a consultation open or closed) is
        printed with the date it holds as of (`as_of(record)`): for an issue
        PDF, which never changes once released, the issue's date (`frozen_on`);
        for a record PDF, the day the current state began, which stays true
        (and the bytes the same) until the state changes."""
        today = frozen_on or self.site.build_date
        context = self._context(lang, today)
        context.update(as_of=lambda r: (frozen_on if r.state_since(today) else None) if frozen_on else r.state_since(today))
        context.update(ctx)
        with template_errors(template):
            return self.env.get_template(template).render(context)

    def record_html(self, record: Record, lang: str) -> str:
        return self._render("pdf/record.html", lang, record=record, edition=record.editions[lang], meta=record.meta)

    def issue_html(self, issue: Issue, lang: str, version: int | None = None, erratum: str | None = None,
                   released: str | None = None) -> str:
        return self._render("pdf/issue.html", lang, issue.published, issue=issue, version=version, erratum=erratum,
                            released=released)

    # --------------------------------------------------------------- jobs
    def record_jobs(self) -> list[PdfJob]:
        jobs = []
        for record in self.site.public:
            for lang in self.site.languages:
                if record.has(lang):
                    jobs.append(PdfJob(self.urls.record_pdf(record.id, lang), self.record_html(record, lang)))
        return jobs

    def issue_languages(self, issue: Issue) -> list[str]:
        """The default language always; another language when a record of the issue has that edition."""
        return [l for l in self.site.languages if l == self.site.default_lang or any(r.has(l) for r in issue.records)]

    def files_of(self, html: str) -> dict[str, str]:
        """The record-folder files (images) an HTML document shows: 'ID/PATH' -> file."""
        out = {}
        for ref in sorted(set(_FILE_URL_RE.findall(html))):
            rid, _, rel = ref.partition("/")
            record = self.site.records.get(rid)
            if record is not None and record.public:
                path = record.path.with_name(rid) / rel
                if path.is_file():
                    out[ref] = str(path)
        return out

    def key(self, html: str, files: dict[str, str] | None = None) -> str:
        """The cache key: the exact HTML, the settings, and the bytes of every file it shows."""
        h = hashlib.sha256((self.salt + html).encode("utf-8"))
        for ref, path in sorted((files or {}).items()):
            h.update(b"\0" + ref.encode() + b"\0" + hashlib.sha256(Path(path).read_bytes()).digest())
        return h.hexdigest()

    def run(self, jobs: list[PdfJob]) -> dict[str, Path]:
        """Render what the cache lacks (in parallel); -> output path -> cached PDF file."""
        files = {}
        for job in jobs:
            files[id(job)] = self.files_of(job.html)
            job.key = self.key(job.html, files[id(job)])
        todo = {}
        for job in jobs:
            if job.key not in todo and self.cache.get(job.key) is None:
                todo[job.key] = (job.key, job.html, self.site.config.base_url, self.variant, str(self.cache.folder),
                                 files[id(job)])
        if todo and self.scheduler:
            self._run_on_cluster(list(todo.values()))
        elif todo:
            work = list(todo.values())
            with self.progress.task("rendering PDFs", len(work), "PDFs") as task:
                if self.workers > 1 and len(work) > 1:
                    with ProcessPoolExecutor(max_workers=min(self.workers, len(work))) as pool:
                        for _ in pool.map(_render_to_cache, work, chunksize=1):
                            task.advance()
                else:
                    for item in work:
                        _render_to_cache(item)
                        task.advance()
            self.rendered += len(work)
        out = {}
        for job in jobs:
            path = self.cache.get(job.key)
            if path is None:
                raise GazetteError(f"the PDF for {job.output} could not be rendered into the cache {self.cache.folder}")
            out[job.output] = path
        return out

    def _run_on_cluster(self, work: list[tuple]) -> None:
        """Each job goes out with its HTML and the bytes of the images it shows;
        each PDF comes back as bytes and goes into the local cache."""
        client, executor = dask_executor(self.scheduler)
        try:
            jobs = [(key, html, base_url, variant, {ref: Path(path).read_bytes() for ref, path in files.items()})
                    for key, html, base_url, variant, _folder, files in work]
            with self.progress.task("rendering PDFs on the cluster", len(jobs), "PDFs") as task:
                for key, data in executor.map(_render_remote, jobs):
                    if not data.startswith(b"%PDF-"):
                        raise GazetteError(f"a Dask worker returned something that is not a PDF for {key}")
                    self.cache.put(key, data)
                    task.advance()
        finally:
            client.close()
        self.rendered += len(work)

    def render_now(self, html: str) -> bytes:
        """Render one PDF (through the cache) and return its bytes."""
        job = PdfJob("-", html)
        return self.run([job])["-"].read_bytes()
