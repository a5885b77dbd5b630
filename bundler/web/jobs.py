"""Applying a bundle or writing the return bundle, in a background thread.

The page starts a job and polls ``/sync/job/ID.json`` for its progress; the job calls
what ``bundle apply`` calls (``apply.apply_bundle``; ``make.make_bundle_retrying`` with
``sources.open_source`` for the return), under the side's lock, on a ``Side`` opened in
its own thread (SQLite connections stay in the thread that opened them).
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import dataclass, field

from ..apply import apply_bundle
from ..container import BundleReader
from ..errors import BundleError, UsageError
from ..make import make_bundle_retrying
from ..sources import open_source
from ..state import Side


@dataclass
class Job:
    id: str
    what: str
    phase: str = "waiting"
    done: int = 0
    total: int | None = None
    state: str = "running"  # running, done, failed
    result: dict = field(default_factory=dict)
    message: str = ""
    hint: str = ""

    def progress(self, phase: str, total: int | None = None):
        def update(done: int, **_kw) -> None:
            self.phase, self.done, self.total = phase, done, total
        return update

    def to_json(self) -> dict:
        return {"id": self.id, "what": self.what, "phase": self.phase, "done": self.done, "total": self.total,
                "state": self.state, "message": self.message, "hint": self.hint}


class Jobs:
    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def _start(self, what: str, work) -> Job:
        job = Job(uuid.uuid4().hex[:12], what)
        with self._lock:
            if any(j.state == "running" for j in self._jobs.values()):
                raise UsageError("another apply or return is running", hint="Wait for it to finish (see the sync page).")
            self._jobs[job.id] = job

        def run() -> None:
            try:
                job.result = work(job)
                job.state = "done"
            except BundleError as e:
                job.state, job.message, job.hint = "failed", e.message, e.hint or ""
            except OSError as e:
                job.state, job.message = "failed", f"cannot use {e.filename or 'a file'}: {e.strerror}"
                job.hint = "Check the stick is still there and has free space, then try again."
            except Exception as e:  # a bug: said as one, without a traceback in the page
                job.state, job.message = "failed", f"internal error ({type(e).__name__}); please report it"

        threading.Thread(target=run, name=f"bundle-serve-{job.id}", daemon=True).start()
        return job

    def apply(self, side_dir: str, path: str, label: str, cleanup: bool = False) -> Job:
        def work(job: Job) -> dict:
            side = Side.open(side_dir)
            with BundleReader(path) as r:  # the header only: how many revisions the import counts to
                revisions = r.header.counts.revisions
            with side.locked():
                try:
                    res = apply_bundle(side, path, verify_progress=job.progress("Checking", os.path.getsize(path)),
                                       progress=job.progress("Importing", revisions))
                finally:
                    if cleanup and os.path.exists(path):
                        os.unlink(path)
            h = res.header
            return {"seq": h.seq, "kind": h.kind, "already": res.already, "pages": res.pages,
                    "revisions_added": res.revisions_added, "revisions_present": res.revisions_present,
                    "moves": res.moves, "deletions": res.deletions, "merged": res.merged, "conflicts": res.conflicts,
                    "notices": res.notices, "notes": res.notes, "files_added": res.files_added,
                    "seconds": round(res.elapsed, 1)}

        return self._start(f"Applying {label}", work)

    def write_return(self, side_dir: str, out: str, to: str, to_label: str) -> Job:
        def work(job: Job) -> dict:
            side = Side.open(side_dir)
            update = job.progress("Reading the wiki")
            with side.locked():
                made = make_bundle_retrying(side, out, lambda: open_source(side, to=to), to=to,
                                            progress=lambda p, r: update(p))
            c = made.counts
            return {"path": made.path, "name": os.path.basename(made.path), "seq": made.seq, "pages": c.pages,
                    "revisions": c.revisions, "moves": c.moves, "deletions": c.deletions, "size": made.size}

        return self._start(f"Writing the return bundle for {to_label}", work)


def return_name(inbox: str, label: str) -> str:
    """A new file name on the stick for this side's return bundle."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return os.path.join(inbox, f"return-from-{label}-{stamp}.bundle")
