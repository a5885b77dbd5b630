"""What every command shares: the -C option, the error handler, consoles, progress."""

from __future__ import annotations

import errno
import functools
import os
import stat
import sys
import tempfile
from contextlib import contextmanager
from typing import Iterator

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ..errors import BundleError, UsageError

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

DirOption = typer.Option(".", "-C", "--dir", help="The side's state directory (as git -C).", show_default=True)


def handle_errors(fn):
    """Our errors become a message, a hint and an exit code; anything else is a bug."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except BundleError as e:
            err.print(f"[bold red]error:[/] {escape(e.message)}")
            if e.hint:
                err.print(f"[yellow]hint:[/] {escape(e.hint)}")
            raise typer.Exit(e.exit_code)
        except KeyboardInterrupt:
            err.print("[red]interrupted[/]; nothing half-done was kept")
            raise typer.Exit(130)
        except OSError as e:
            # A file or folder failed under a command after its paths were checked
            # (a full disk, a stick pulled out): the commands write under temporary
            # names, so what failed left nothing half-written under a real name.
            where = f" {e.filename}" if e.filename else ""
            err.print(f"[bold red]error:[/] cannot use{escape(where)}: {escape(why(e))}")
            err.print("[yellow]hint:[/] Check the path, its permissions and the free space, then run the command again.")
            raise typer.Exit(BundleError.exit_code)

    return wrapper


# --- paths given on the command line, checked before any work ---------------------------

_WHY = {
    errno.ENOENT: "it does not exist",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "it is a folder",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the file system is read-only",
    errno.ENOSPC: "no space left on the device",
}


def why(e: OSError) -> str:
    return _WHY.get(e.errno, e.strerror or str(e))


def check_output(path: str, option: str, example: str) -> None:
    """Refuse, before any work, a place where the file ``option`` names cannot be
    written: a folder, a device, a missing folder, a file where a folder must be,
    or a folder this process may not write in (tried with a nameless temporary
    file: root passes every permission check, but not a read-only mount or /proc).
    The file itself is written later under a temporary name and renamed."""
    full = os.path.abspath(path)
    hint = f"Give a file in a folder that exists and that you may write to (e.g. {example} in the current folder)."
    if os.path.isdir(full):
        raise UsageError(f"{option} {path} is a folder; a file name is needed", hint=f"Give a file in it, e.g. {os.path.join(path, example)}.")
    if os.path.lexists(full) and not os.path.isfile(full):
        raise UsageError(f"{option} {path} exists and is not a regular file (a device or a socket?)", hint=hint)
    folder = os.path.dirname(full)
    try:
        mode = os.stat(folder).st_mode
    except OSError as e:
        raise UsageError(f"{option} {path}: the folder {folder} cannot be used: {why(e)}", hint=hint) from None
    if not stat.S_ISDIR(mode):
        raise UsageError(f"{option} {path}: {folder} is a file, not a folder", hint=hint)
    _check_writable(folder, option, path, hint)


def check_new_folder(path: str, option: str, hint: str, shown: str | None = None) -> None:
    """A folder that is made if missing (``init -C``): it is a folder, or the nearest
    existing folder above it is one this process can write in. ``shown`` is what the
    user gave, if ``path`` is only the folder it needs."""
    shown = shown or path
    full = os.path.abspath(path)
    here = full
    while not os.path.lexists(here):
        here = os.path.dirname(here)
    if not os.path.isdir(here):
        where = "" if here == os.path.abspath(shown) else f": {here}"
        raise UsageError(f"{option} {shown}{where} is a file, not a folder", hint=hint)
    _check_writable(here, option, shown, hint)


def _check_writable(folder: str, option: str, path: str, hint: str) -> None:
    try:
        tempfile.TemporaryFile(dir=folder, prefix=".wikibundle-check-").close()
    except OSError as e:
        # ENOENT for an existing folder: one that takes no new files (/proc, /sys)
        reason = "it takes no new files" if e.errno == errno.ENOENT else why(e)
        raise UsageError(f"{option} {path}: cannot write in {folder}: {reason}", hint=hint) from None


def open_side(dir: str):
    """The side of ``-C DIR``; a file given as DIR is named as what it is."""
    from ..state import Side

    if os.path.lexists(dir) and not os.path.isdir(dir):
        raise UsageError(f"-C {dir} is a file, not a side's folder", hint="Give the folder made by 'bundle init -C DIR'.")
    return Side.open(dir)


def escape(s: str) -> str:
    from rich.markup import escape as _e

    return _e(s)


@contextmanager
def progress_bar(what: str, total: int | None = None, *, unit_bytes: bool = False) -> Iterator:
    """A rich progress bar on stderr, only when stderr is a terminal."""
    if not sys.stderr.isatty() or os.environ.get("WIKIBUNDLE_NO_PROGRESS"):

        def nothing(done: int, **kw) -> None:
            pass

        yield nothing
        return
    cols = [SpinnerColumn(), TextColumn("[progress.description]{task.description}"), BarColumn()]
    cols.append(DownloadColumn() if unit_bytes else MofNCompleteColumn())
    cols.append(TimeElapsedColumn())
    with Progress(*cols, console=err, transient=True) as p:
        task = p.add_task(what, total=total)

        def update(done: int, **kw) -> None:
            p.update(task, completed=done, **kw)

        yield update


def human(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return str(n)


def parse_size(text: str, option: str) -> int:
    """``2M``, ``500K``, ``1.5G``, ``123456``: bytes (K, M, G are powers of 1000, Ki/Mi/Gi of 1024)."""
    from ..errors import UsageError

    t = text.strip().upper().removesuffix("B")
    mult = 1
    for suffix, m in (("KI", 1 << 10), ("MI", 1 << 20), ("GI", 1 << 30), ("K", 10**3), ("M", 10**6), ("G", 10**9)):
        if t.endswith(suffix):
            t, mult = t[: -len(suffix)], m
            break
    try:
        n = int(float(t) * mult)
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a size", hint="Write it as 2M, 500K or 10MiB.") from None
    if n <= 0:
        raise UsageError(f"{option} must be positive")
    return n
