"""The writer's temporary bundles (``container.BundleWriter``), named so a later writer can
clear up after one that died."""

from __future__ import annotations

import os
import re
import socket

# The bundle is written under a temporary name and renamed when complete. A writer
# killed in between (SIGKILL, power cut) cannot remove its file; the next writer in
# that directory does, once the process named in the file name is gone. The host
# is in the name too, so a directory shared between machines is swept only of
# this machine's leftovers.
_TEMP_OUT = re.compile(r"^\.wikibundle-out-(?P<host>[A-Za-z0-9.-]*)-(?P<pid>[0-9]+)-")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.-]", "", socket.gethostname())[:64]


def temp_prefix() -> str:
    """The name a writer's temporary bundle starts with: this host and this process."""
    return f".wikibundle-out-{_host()}-{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def sweep_temp_files(d: str) -> None:
    """Remove the temporary bundles of writers on this host that died before renaming them."""
    host = _host()
    try:
        names = os.listdir(d)
    except OSError:
        return  # the writer's own mkstemp reports an unusable directory
    for name in names:
        m = _TEMP_OUT.match(name)
        if m and m["host"] == host and not _alive(int(m["pid"])):
            try:
                os.unlink(os.path.join(d, name))
            except OSError:
                pass
