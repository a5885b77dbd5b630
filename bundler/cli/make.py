"""bundle make: write a signed bundle of everything a peer lacks."""

from __future__ import annotations

import json
import os

import typer
from rich.table import Table

from ..errors import UsageError
from ..make import make_bundle
from ..model import parse_timestamp
from ..sources.dump import open_dump
from ..state import Side
from .common import DirOption, escape, handle_errors, human, out, progress_bar


@handle_errors
def make(
    dir: str = DirOption,
    out_path: str = typer.Option(..., "--out", "-o", help="Where to write the bundle (e.g. /media/usb/update.bundle)."),
    since: str = typer.Option(None, "--since", help="The manifest the receiver wrote when it last applied a bundle."),
    from_dump: str = typer.Option(None, "--from", help="Read this MediaWiki XML dump instead of the side's wiki."),
    latest_only: bool = typer.Option(False, "--latest-only", help="Carry only the newest revision of each changed page (read-only mirrors)."),
    to: str = typer.Option(None, "--to", help="The peer (label or wiki id prefix); needed only when this side has several."),
    full: bool = typer.Option(False, "--full", help="Ignore what the peer reported and carry everything."),
    until: str = typer.Option(None, "--until", help="Carry history only up to this time (2023-01-31T00:00:00Z), e.g. to split a first sync."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Write a bundle of every revision, move and deletion the peer lacks.

    Without --since, make builds on the last manifest this side was given for
    that peer, or on nothing for a peer it has never heard from.

    Example:  bundle make -C hq --since school-manifest.wbm --out /media/usb/update.bundle
    """
    side = Side.open(dir)
    until_ts = None
    if until:
        try:
            until_ts = parse_timestamp(until)
        except ValueError:
            raise UsageError(f"--until {until!r} is not a time", hint="Write it as 2023-01-31T00:00:00Z.") from None
    if os.path.isdir(out_path):
        raise UsageError(f"--out {out_path} is a directory", hint="Give a file name, e.g. update.bundle.")
    with side.locked():
        if from_dump:
            reader = open_dump(from_dump)
            pages, siteinfo, source_name, close = reader, reader.siteinfo, os.path.basename(from_dump), reader.close
            total = os.path.getsize(from_dump)
        else:
            store = side.store()
            pages, siteinfo, source_name, close = store.pages(), store.siteinfo(), "store", store.close
            total = store.counts().pages
        try:
            with progress_bar("Reading " + source_name, None) as bar:
                res = make_bundle(
                    side,
                    out_path,
                    pages,
                    siteinfo=siteinfo,
                    source_name=source_name,
                    to=to,
                    since=since,
                    full=full,
                    latest_only=latest_only,
                    until=until_ts,
                    progress=lambda p, r: bar(p, description=f"{p:,} pages read, {r:,} revisions to carry"),
                )
        finally:
            close()
    info = {
        "bundle": res.path,
        "seq": res.seq,
        "basis": res.basis_seq,
        "peer": res.peer,
        "peer_label": res.peer_label,
        "bytes": res.size,
        "sha256": res.sha256,
        "pages_read": res.pages_seen,
        **res.counts.to_wire(),
        "seconds": round(res.elapsed, 3),
    }
    if as_json:
        print(json.dumps(info, indent=2))
        return
    t = Table(title=f"bundle {res.seq} for {escape(res.peer_label or res.peer[:8])} (builds on {res.basis_seq or 'nothing'})")
    t.add_column("what")
    t.add_column("count", justify="right")
    for k in ("pages", "revisions", "moves", "deletions", "frames"):
        t.add_row(k, f"{getattr(res.counts, k):,}")
    t.add_row("text carried (uncompressed)", human(res.counts.text_bytes))
    t.add_row("bundle size", human(res.size))
    out.print(t)
    out.print(f"Wrote {escape(res.path)} in {res.elapsed:.1f}s. Carry it to the peer and run: bundle apply -C DIR {escape(os.path.basename(res.path))}")
