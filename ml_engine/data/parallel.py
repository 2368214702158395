"""Map a function over items in worker processes, in order, with a tqdm progress bar.

Data writing and checking (Shapes rendering, image preprocessing, the QA report) is one
independent job per image, so a process pool scales it across cores. Results come back in
input order, so output never depends on the number of workers. Workers are started with
"spawn", not "fork": forking a process that already runs torch's thread pools can hang.

Run: nothing to run; used by shapes_dataset.py and real/.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def parallel_map(
    fn: Callable[[T], R], items: Sequence[T], *, workers: int | None, desc: str, progress: bool = True
) -> list[R]:
    """[fn(x) for x in items], computed by `workers` processes (1: in this process); `fn` must be module-level."""
    workers = default_workers() if workers is None else workers
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    bar = tqdm(total=len(items), desc=desc, unit="img", disable=not progress)
    with bar:
        if workers == 1 or len(items) < 2:
            return [_ticked(bar, fn(x)) for x in items]
        # chunks big enough to amortise the inter-process round trip, small enough for a moving bar
        chunksize = max(1, min(64, len(items) // (workers * 4)))
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            results: Iterable[R] = pool.map(fn, items, chunksize=chunksize)
            return [_ticked(bar, r) for r in results]


def _ticked(bar: tqdm, result: R) -> R:
    bar.update(1)
    return result
