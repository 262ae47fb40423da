"""Keeping a build's long-lived objects out of the garbage collector's passes.

A build loads every record and keeps it to the end: millions of objects.
Python's cyclic collector goes over all of them again on every full
collection, and a build allocates enough to set off several: on 10,000
records that doubled the time of the resolve stage.  `gc.freeze()` moves what
exists into a generation the collector never visits; that is also what a
process that forks workers should do (no worker's collection then touches,
and so copies, the parent's pages).

Everything frozen in a build is unfrozen when the build ends, so a process
that builds again and again (`gazette serve`) can still collect the last
build's site.  When objects are frozen already (by the process gazette runs
in, or an enclosing scope), a scope freezes nothing: it could not unfreeze
only its own.
"""
from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator


def _no_op() -> None:
    pass


@contextlib.contextmanager
def long_lived() -> Iterator[Callable[[], None]]:
    """A scope in which `settle()` (what this yields) marks everything
    allocated so far as living to the end of the scope; at its end, all is
    unfrozen.  Pass `settle` down to what runs inside the scope, rather than
    opening another: an inner scope finds the outer one's objects frozen, and
    settles nothing (see the module's note)."""
    if gc.get_freeze_count():
        yield _no_op
        return
    try:
        yield gc.freeze
    finally:
        gc.unfreeze()
