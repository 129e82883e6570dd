"""Fewer runs of Python's cyclic garbage collector while millions of small objects come and go.

Exports and imports allocate records, tuples, lists and floats that are freed by reference
counting, never in cycles; at the default threshold (700 allocations) the collector runs thousands
of times over them for nothing (~15% of a keypoint export, 80% of decoding an import plan's rows).
Inside `fewer_collections()` it runs every 50,000 allocations: above the ~30k tuples one chunk of
900 images of boxes keeps alive until written (at 10,000 it ran once a chunk over them for
nothing, ~0.02 s of a 10k-image box export).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

GC_THRESHOLD = 50_000
_lock = threading.Lock()
_state: dict = {"depth": 0, "saved": None}


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Nests, and is shared by threads: the first to enter raises the threshold, the last to
    leave puts it back."""
    with _lock:
        if _state["depth"] == 0:
            saved = gc.get_threshold()
            _state["saved"] = saved
            gc.set_threshold(max(saved[0], GC_THRESHOLD), *saved[1:])
        _state["depth"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["depth"] -= 1
            if _state["depth"] == 0:
                gc.set_threshold(*_state["saved"])
