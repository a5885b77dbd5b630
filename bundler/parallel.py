"""Running independent tasks in order: in-process, on a local Dask cluster, or on an existing one.

``run_ordered(fn, tasks, workers=N, scheduler=ADDR)`` yields ``fn(task)`` for each task,
in the tasks' order, whatever order they finish in. At most ``2 × workers`` tasks are
submitted ahead of the one being waited for, so the coordinator's memory holds a
bounded number of results, however many tasks there are. ``workers=1`` without a
scheduler runs in this process and never imports Dask.

A local cluster (``dask.distributed.LocalCluster``) runs one single-threaded worker
process per core asked for (the tasks are CPU-bound Python: threads would share one
GIL), without the dashboard, and without two of Dask's defaults that cost a worker of
such tasks ~20% of its CPU against the same work in-process, and the polling that makes
an idle cluster busy (``LOCAL_WORKER_CONFIG``).
With ``scheduler`` (``tcp://HOST:8786``), the tasks go to that cluster's workers, which
must import this package and read the paths in the tasks; their settings are that
cluster's (``dask worker --no-nanny`` avoids the allocator setting).
"""

from __future__ import annotations

import importlib
import logging
import warnings
from collections import deque
from typing import Callable, Iterable, Iterator, TypeVar

from .errors import UsageError

T = TypeVar("T")
R = TypeVar("R")

CONNECT_TIMEOUT = "20s"

# Dask settings of the local cluster's workers (measured on the latest-only update, whose
# tasks decompress bz2 and build frames: megabyte-sized buffers made and freed per stream):
# - the nanny starts its workers with MALLOC_TRIM_THRESHOLD_=65536, which turns off glibc's
#   adaptive mmap threshold: every such buffer is mapped and unmapped again, and its pages
#   faulted in and zeroed each time (a task's system time went from ~1% to ~10%);
# - the workers' statistical profiler samples the task's stack every 10 ms, from a thread
#   that takes the GIL (~7% more CPU per task). Nobody reads it: there is no dashboard.
# - every process wakes up every 20 ms to see whether its event loop is blocked (a warning
#   nobody reads here), the nannies and workers read their memory every 100 ms, and each
#   process samples the system's CPU, memory, disk and network every 500 ms: a cluster of 2
#   workers doing nothing took 1.4 s of CPU per 10 s (scheduler and nannies 0.7, workers 0.7),
#   stolen from the 2 cores the workers need; with these, 0.18 s. (Memory is checked once a
#   second: a worker's memory is flat here, under 100 MB.)
LOCAL_WORKER_CONFIG = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
}


def _client(workers: int, scheduler: str | None):
    """(client, cluster or None, the number of workers)."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - a dependency of the package
        raise UsageError("--workers and --scheduler need dask.distributed", hint="pip install 'dask[distributed]'") from None
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as e:
            raise UsageError(f"cannot reach the Dask scheduler at {scheduler} ({e})",
                             hint="Start it with 'dask scheduler' and its workers with 'dask worker ADDRESS', "
                             "or leave --scheduler out to use a local cluster.") from None
        n = max(1, len(client.scheduler_info().get("workers", {})))
        return client, None, n
    import dask

    with warnings.catch_warnings(), dask.config.set(LOCAL_WORKER_CONFIG):
        warnings.simplefilter("ignore", UserWarning)  # ("Port 8787 is already in use": its HTTP server moves to another port)
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=logging.ERROR)
    return Client(cluster), cluster, workers


def run_ordered(fn: Callable[[T], R], tasks: Iterable[T], *, workers: int = 1, scheduler: str | None = None) -> Iterator[R]:
    """``fn(task)`` for each task, in order (see the module's doc)."""
    if scheduler is None and workers <= 1:
        for t in tasks:
            yield fn(t)
        return
    client, cluster, n = _client(workers, scheduler)
    pending: deque = deque()
    try:
        # Each worker imports the task's module before the first task, not while it is timed in.
        client.run(importlib.import_module, fn.__module__)
        it = iter(tasks)
        for t in it:
            pending.append(client.submit(fn, t, pure=False))
            if len(pending) >= 2 * n:
                break
        while pending:
            res = pending.popleft().result()
            nxt = next(it, None)
            if nxt is not None:
                pending.append(client.submit(fn, nxt, pure=False))
            yield res
    finally:
        for f in pending:
            f.cancel()
        client.close()
        if cluster is not None:
            cluster.close()
