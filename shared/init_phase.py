"""A function's init phase (importing its handler module) runs without the cyclic garbage collector.

Importing a function allocates hundreds of thousands of long-lived objects (modules, classes,
pydantic validators) and almost no garbage, yet the collector keeps scanning them as they pile
up: one or more full passes land somewhere in every import, 5-10 % of it (measured with
`benchmarks.cold_start`). So every `functions/*/app.py` imports this module first (the collector
is off from here) and calls `complete()` as its last statement.

On Lambda (`AWS_LAMBDA_INITIALIZATION_TYPE` is set by the runtime) `complete()` also freezes what
init built into the permanent generation: later collections, during invocations, never scan it,
so the skipped passes are not merely postponed to the first request; with SnapStart, the frozen
state is what the snapshot holds. Anywhere else (tests, the local cloud) the collector is only
turned back on: freezing in a long-lived process would keep whatever garbage exists at that
moment forever.
"""

from __future__ import annotations

import gc
import os

gc.disable()


def complete() -> None:
    """The handler module has loaded: collect as usual from now on."""
    if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"):
        gc.freeze()
    gc.enable()
