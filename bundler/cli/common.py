"""What every command shares: the -C option, the error handler, consoles, progress."""

from __future__ import annotations

import functools
import os
import sys
from contextlib import contextmanager
from typing import Iterator

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ..errors import BundleError

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

    return wrapper


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
