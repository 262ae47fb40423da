"""Rendering the HTML pages, in worker processes on a large site.

The workers are forked after the site is loaded and resolved, so each has the
whole site in memory without copying it through a pipe; each renders every
n-th page (pages alternate between workers, so the shares are even) and
writes it straight into the build's staging folder.  What comes back is small:
each page's output file, what the sitemap needs, and the page's internal links
and anchors for the link check.  Where forking is not available (or the site
is small) the same function renders in this process.
"""
from __future__ import annotations

import hashlib
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path


from .html import HtmlRenderer, Page
from .. import heap, keys
from ..buildcache import BuildState
from ..writer import Staging
from .linkcheck import InternalLinks

PARALLEL_PAGES = 2000  # below this many (records x languages), starting workers costs more than it saves


@dataclass
class Rendered:
    """The pages of a build, in page order: file and sitemap entry of each, and
    every page's links and anchors."""

    files: list[str] = field(default_factory=list)
    sitemap: list[Page] = field(default_factory=list)
    links: InternalLinks = field(default_factory=InternalLinks)
    rendered: int = 0  # pages rendered (the rest were taken from the last output by their keys)
    complete: bool = True  # `sitemap` has every page's entry (else pages were kept without being made)
    structure: str = ""  # Reuse.structure, for the next build
    template_refs: dict = field(default_factory=dict)  # HtmlRenderer.template_refs, for the next build


@dataclass
class Reuse:
    """What a share needs to reuse pages of the last output: the site digest
    (keys.pages_digest), the output folder and what the last build wrote there."""

    site_key: str
    out_dir: Path
    previous: BuildState
    # keys.structure_digest of this build; when it is the last build's, `fast`,
    # and only the pages of the records in `changed` (their digest moved) can
    # have a new key: every other page keeps the key the last build wrote it under
    structure: str = ""
    fast: bool = False
    changed: frozenset = frozenset()


def _stub(page: Page) -> Page:
    """What the sitemap needs of a page (no context: it crosses a pipe)."""
    return Page(path=page.path, lang=page.lang, template=page.template, title="", alternates=page.alternates,
                lastmod=page.lastmod, in_sitemap=page.in_sitemap)


def _reused(reuse: Reuse | None, file: str, key: str | None, tree: Staging | None):
    """-> (sha256, packed links) of the last output's file, linked into `tree`
    (None: the caller's writer links it); None when it cannot be reused."""
    if reuse is None or key is None:
        return None
    found = reuse.previous.intact_file(reuse.out_dir, file)
    if found is None or found[0].key != key:
        return None
    entry, st = found
    links = reuse.previous.extra.get("links", {}).get(file)
    if links is None:
        links = InternalLinks.scan(file, (reuse.out_dir / file).read_bytes())
    if tree is not None:
        tree.link(os.path.join(reuse.out_dir, file), tree.path(file), st)
    return entry.sha256, links


def _same_bytes(reuse: Reuse | None, file: str, sha: str, tree: Staging | None) -> bool:
    """A page rendered again to the very bytes the last output holds: link that
    file instead of writing it (only files whose bytes change are written)."""
    if reuse is None or tree is None:
        return False
    found = reuse.previous.intact_file(reuse.out_dir, file)
    if found is None or found[0].sha256 != sha:
        return False
    tree.link(os.path.join(reuse.out_dir, file), tree.path(file), found[1])
    return True


def _render_share(renderer: HtmlRenderer, share: int, shares: int, write, reuse: Reuse | None = None,
                  tree: Staging | None = None) -> list[tuple]:
    """-> [(page index, file, sitemap stub, sha256, key, packed links, _WRITTEN | _SAME | _REUSED)].
    `tree`: the build's staging folder; `write`: where pages go without one (`gazette check`'s writer)."""
    urls = renderer.urls
    done = []
    if tree is not None:
        write = _write_into(tree)
    for index, item in renderer.numbered_items(share, shares):
        if reuse is not None and reuse.fast:
            kept = _kept(renderer, reuse, item, tree)
            if kept is not None:
                done.append((index, *kept))
                continue
        page = item() if callable(item) else item
        file = urls.file_of(page.path)
        key = keys.page_key(reuse.site_key, page, renderer.template_key(page.template)) if reuse is not None else None
        old = _reused(reuse, file, key, tree)
        if old is not None:
            done.append((index, file, _stub(page), old[0], key, old[1], _REUSED))
            continue
        html = renderer.render(page)
        sha = hashlib.sha256(html).hexdigest()
        same = _same_bytes(reuse, file, sha, tree)
        if not same:
            write(file, html)
        done.append((index, file, _stub(page), sha, key, InternalLinks.scan(file, html), _SAME if same else _WRITTEN))
    return done


_WRITTEN, _SAME, _REUSED = 0, 1, 2  # a page rendered and written; rendered to the last output's bytes; not rendered


def _kept(renderer: HtmlRenderer, reuse: Reuse, item, tree: Staging | None) -> tuple | None:
    """A page of a build whose structure is the last build's (Reuse.fast),
    not a changed record's own: its key is the one the last build wrote it
    under, so it is kept without being made (no sitemap stub); None when it
    must be made (a changed record's page, a page rendered every time, a
    file of the last output that is not intact)."""
    record = renderer.item_record(item)
    if record is not None and record.id in reuse.changed:
        return None
    file = renderer.item_file(item)
    entry = reuse.previous.files.get(file)
    if entry is None or not entry.key:
        return None
    old = _reused(reuse, file, entry.key, tree)
    return None if old is None else (file, None, old[0], entry.key, old[1], _REUSED)


# a forked worker's renderer, staging folder and reuse data, set once by _start in that worker
_WORKER: dict = {}


def _start(renderer: HtmlRenderer, tree: Staging, reuse: Reuse | None) -> None:
    _WORKER.update(renderer=renderer, tree=tree, reuse=reuse)


def _write_into(tree: Staging):
    def write(rel: str, data: bytes) -> None:
        tree.write(tree.path(rel), data)
    return write


def _worker_share(share: tuple[int, int]) -> list[tuple]:
    return _render_share(_WORKER["renderer"], share[0], shares=share[1], write=None, reuse=_WORKER["reuse"],
                         tree=_WORKER["tree"])


def _fork_context():
    try:
        return multiprocessing.get_context("fork")
    except ValueError:
        return None


def render_pages(renderer: HtmlRenderer, writer, workers: int | None = None, while_waiting=None,
                 reuse: Reuse | None = None, settle=None) -> Rendered:
    """Render every page into `writer` (reusing the last output's file of a
    page whose key is unchanged, with `reuse`).  With a real staging folder,
    more than one worker and a large site, in forked workers; `while_waiting`
    (if given) runs in this process meanwhile (the feeds and data files).
    `settle`: the caller's heap.long_lived scope (else this opens one)."""
    workers = workers if workers is not None else (os.cpu_count() or 1)
    tree = getattr(writer, "tree", None)  # none: `gazette check`
    context = _fork_context()
    if reuse is not None and tree is None:
        reuse = None
    if reuse is not None:
        renderer.template_keys()  # here, once: forked workers inherit them
    site = renderer.site
    pages = len(site.public) * len(site.languages) if workers > 1 and tree is not None and context else 0
    if pages < PARALLEL_PAGES:
        done = _render_share(renderer, 0, 1, writer.write, reuse, tree)
        if while_waiting is not None:
            while_waiting()
        return _collect([done], writer, claim=tree is not None)
    shares = min(workers, 8)
    # The workers share this process's memory until they write to it: give the
    # heap's free pages back first (loading leaves hundreds of MB of them), and
    # keep the site out of the collector's reach, so no worker's collection
    # touches (and copies) every object of it.
    _return_free_memory()
    if settle is not None:
        settle()
        return _render_forked(renderer, writer, shares, context, tree, reuse, while_waiting)
    with heap.long_lived() as own:
        own()
        return _render_forked(renderer, writer, shares, context, tree, reuse, while_waiting)


def _return_free_memory() -> None:
    """glibc's malloc_trim: free heap pages back to the system (elsewhere, nothing)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _render_forked(renderer: HtmlRenderer, writer, shares: int, context, tree, reuse, while_waiting) -> Rendered:
    with ProcessPoolExecutor(max_workers=shares, mp_context=context, initializer=_start,
                             initargs=(renderer, tree, reuse)) as pool:
        futures = [pool.submit(_worker_share, (i, shares)) for i in range(shares)]
        if while_waiting is not None:
            while_waiting()
        results = [f.result() for f in futures]
    return _collect(results, writer, claim=True)


def _collect(results: list, writer, claim: bool) -> Rendered:
    out = Rendered()
    entries = sorted(entry for done in results for entry in done)
    for _, file, stub, sha, key, links, how in entries:
        if claim:
            writer.claim(file)  # the writer's rules: one output per file, inside the output folder
            writer.hashes[file] = sha
            writer.keys[file] = key or ""
        out.files.append(file)
        out.links.add(file, links)
        if claim and how != _WRITTEN:
            writer.linked.add(file)
        out.rendered += how != _REUSED
        if stub is None:
            out.complete = False
        elif stub.in_sitemap:
            out.sitemap.append(stub)
    return out
