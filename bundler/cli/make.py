"""bundle make: write a signed bundle of everything a peer lacks."""

from __future__ import annotations

import json
import os

import typer
from rich.table import Table

from ..errors import UsageError
from ..make import make_bundle_retrying
from ..model import parse_timestamp
from ..sources import Source, open_source
from ..state import Side
from .common import DirOption, check_output, escape, handle_errors, human, open_side, out, parse_size, progress_bar


@handle_errors
def make(
    dir: str = DirOption,
    out_path: str = typer.Option(..., "--out", "-o", help="Where to write the bundle (e.g. /media/usb/update.bundle)."),
    since: str = typer.Option(None, "--since", help="The manifest the receiver wrote when it last applied a bundle."),
    from_dump: str = typer.Option(None, "--from", help="Read this MediaWiki XML dump instead of the side's wiki."),
    files_dir: str = typer.Option(None, "--files", help="With --from: a folder with the dump's files (a copy of MediaWiki's images directory, or files named like the uploads), for dumps without <contents>."),
    latest_only: bool = typer.Option(False, "--latest-only", help="Carry only the newest revision of each changed page (read-only mirrors)."),
    to: str = typer.Option(None, "--to", help="The peer (label or wiki id prefix); needed only when this side has several."),
    full: bool = typer.Option(False, "--full", help="Ignore what the peer reported and carry everything."),
    until: str = typer.Option(None, "--until", help="Carry history only up to this time (2023-01-31T00:00:00Z), e.g. to split a first sync."),
    max_size: str = typer.Option(None, "--max-size", help="Fill the bundle up to this size (10M) and leave the rest for the next bundle."),
    allow_deletions: bool = typer.Option(False, "--allow-deletions", help="Carry the deletion of more than half the pages the peer holds (refused by default: usually a partial export)."),
    cont: bool = typer.Option(False, "--continue", help="Build on the last bundle made for the peer, even before its manifest came back (the next of several --max-size bundles)."),
    part_size: str = typer.Option(None, "--part-size", help="Cut the bundle into parts of at most this size (2M for e-mail); they may travel and arrive in any order."),
    verify: bool = typer.Option(False, "--verify", help="Of a MediaWiki: compare every revision id on the wiki with what the peer holds, report the drift and carry what it lacks."),
    verify_every: int = typer.Option(10, "--verify-every", min=0, help="Of a MediaWiki: reconcile as --verify every Nth bundle (and always on a wiki of one listing request); 0: only with --verify."),
    base: str = typer.Option(None, "--base", help="With --from NEW --latest-only: the dump the receiver holds (OLD); the update carries NEW's changes against it (multistream dumps: in parallel)."),
    workers: int = typer.Option(None, "--workers", min=1, help="With --base: worker processes on a local Dask cluster (default: the cores; 1: in this process)."),
    scheduler: str = typer.Option(None, "--scheduler", help="With --base: an existing Dask cluster (tcp://HOST:8786) whose workers read the dumps at the same paths."),
    format_version: int = typer.Option(None, "--format-version", min=1, max=2, help="Write bundle format 1 for a peer whose wikibundle is older than 2026-12-03 (it refuses format 2 with 'version error'); default 2, the compact form (smaller)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Write a bundle of every revision, move and deletion the peer lacks.

    Without --since, make builds on the last manifest this side was given for
    that peer, or on nothing for a peer it has never heard from.

    Example:  bundle make -C hq --since school-manifest.wbm --out /media/usb/update.bundle
    """
    side = open_side(dir)
    until_ts = None
    if until:
        try:
            until_ts = parse_timestamp(until)
        except ValueError:
            raise UsageError(f"--until {until!r} is not a time", hint="Write it as 2023-01-31T00:00:00Z.") from None
    check_output(out_path, "--out", "update.bundle")
    if part_size:
        parse_size(part_size, "--part-size")  # before any work
    limit = parse_size(max_size, "--max-size") if max_size else None
    if since and cont:
        raise UsageError("--since and --continue name two different bases", hint="Use one of them.")
    if files_dir and not from_dump:
        raise UsageError("--files names where a dump's files are; it needs --from DUMP", hint="Add --from DUMP, or leave --files out.")
    if files_dir and not os.path.isdir(files_dir):
        what = "is a file, not a folder" if os.path.exists(files_dir) else "does not exist"
        raise UsageError(f"--files {files_dir} {what}", hint="Give the folder that holds the files (MediaWiki's images directory).")
    if verify and (from_dump or not side.is_api):
        raise UsageError("--verify compares a MediaWiki's listing with the peer's view; this side reads "
                         + ("a dump" if from_dump else "its own store"), hint="Leave --verify out.")
    if base or workers is not None or scheduler:
        if not (base and from_dump):
            raise UsageError("--base, --workers and --scheduler make an update from two dumps: they need --from NEW --base OLD",
                             hint="bundle make --from NEW-multistream.xml.bz2 --base OLD-multistream.xml.bz2 --latest-only --out F")
        _make_from_two_dumps(side, out_path, from_dump, base, workers=workers, scheduler=scheduler, part_size=part_size,
                             max_size=limit, to=to, since=since, full=full, cont=cont, allow_deletions=allow_deletions,
                             latest_only=latest_only, until=until_ts, as_json=as_json, format_version=format_version)
        return
    with side.locked():
        res, client, source = _make(side, out_path, from_dump=from_dump, files_dir=files_dir, verify=verify,
                                    verify_every=verify_every, max_size=limit, to=to, since=since, full=full, cont=cont,
                                    allow_deletions=allow_deletions, latest_only=latest_only, until=until_ts,
                                    format_version=format_version)
    drift = source.api.drift if source.api is not None and source.api.verified else None
    _report(res, client, side, part_size=part_size, max_size=max_size, as_json=as_json, dump_files=source.dump_files,
            drift=drift, verify_asked=verify)


def _make_from_two_dumps(side: Side, out_path: str, new: str, base: str, *, workers, scheduler, part_size, as_json,
                         **kw) -> None:
    from ..latest import LatestStats, make_latest_update

    stats = LatestStats()
    with side.locked(), progress_bar("Reading " + os.path.basename(new), None) as bar:
        res = make_latest_update(side, out_path, new, base, workers=workers or os.cpu_count() or 1, scheduler=scheduler,
                                 progress=lambda p, r: bar(p, description=f"{p:,} pages read, {r:,} revisions to carry"),
                                 stats=stats, **kw)
    older = {"count": stats.n_older_kept, "titles": stats.older_kept}
    _report(res, None, side, part_size=part_size, max_size=None, as_json=as_json, extra={"older_kept": older})
    if stats.n_older_kept and not as_json:
        named = ", ".join(escape(t) for t in stats.older_kept) + (" …" if stats.n_older_kept > len(stats.older_kept) else "")
        out.print(f"[yellow]{stats.n_older_kept:,} pages have a newest revision in NEW older than the one the receiver "
                  f"holds[/] (removed on the wiki?): their NEW text travels as history, and the receiver keeps its newer "
                  f"text as the current one: {named}")


def _make(side: Side, out_path: str, *, from_dump, files_dir, verify: bool, verify_every: int, **kw):
    """Make a bundle from the side's wiki or a dump: (result, API client or None, the source last opened)."""
    client = side.api_client() if side.is_api and not from_dump else None
    opened: list[Source] = []

    def reopen() -> Source:  # (again for each attempt under --max-size)
        opened.append(open_source(side, from_dump=from_dump, files_dir=files_dir, client=client, to=kw.get("to"),
                                  since=kw.get("since"), verify=verify, verify_every=verify_every))
        return opened[-1]

    with progress_bar("Reading " + (os.path.basename(from_dump) if from_dump else "the wiki"), None) as bar:
        res = make_bundle_retrying(
            side, out_path, reopen,
            progress=lambda p, r: bar(p, description=f"{p:,} pages read, {r:,} revisions to carry"), **kw,
        )
    return res, client, opened[-1]


def _info(res, client, parts: list[str], drift, verify_asked: bool, n_skipped: int) -> dict:
    """The result as --json prints it."""
    info = {
        "bundle": res.path,
        "parts": parts,
        "seq": res.seq,
        "basis": res.basis_seq,
        "peer": res.peer,
        "peer_label": res.peer_label,
        "bytes": res.size,
        "sha256": res.sha256,
        "pages_read": res.pages_seen,
        **res.counts.to_wire(),
        "seconds": round(res.elapsed, 3),
        "deferred": res.deferred,
        "api_requests": client.requests if client is not None else None,
        "api_bytes": client.bytes_received if client is not None else None,
    }
    if verify_asked and drift is None:
        info["verify"] = None
    if drift is not None:
        info["verify"] = {"lacking_revisions": drift.lacking_revs, "lacking_pages": len(drift.lacking_pages),
                          "extra_revisions": drift.extra_revs, "extra_pages": len(drift.extra_pages)}
    info["files"] = res.files
    info["files_without_bytes"] = n_skipped
    return info


def _report(res, client, side: Side, *, part_size, max_size, as_json: bool, dump_files=None, drift=None,
            verify_asked: bool = False, extra: dict | None = None) -> None:
    """The result as a table, or with ``--json`` as JSON (``extra``: more keys for it)."""
    parts: list[str] = []
    if part_size:
        from ..parts import split_bundle

        parts = split_bundle(res.path, parse_size(part_size, "--part-size"))
    files = res.files
    n_skipped = dump_files.skipped if dump_files is not None else 0
    info = _info(res, client, parts, drift, verify_asked, n_skipped) | (extra or {})
    if as_json:
        print(json.dumps(info, indent=2))
        return
    t = Table(title=f"bundle {res.seq} for {escape(res.peer_label or res.peer[:8])} (builds on {res.basis_seq or 'nothing'})")
    t.add_column("what")
    t.add_column("count", justify="right")
    for k in ("pages", "revisions", "moves", "deletions", "frames"):
        t.add_row(k, f"{getattr(res.counts, k):,}")
    t.add_row("text carried (uncompressed)", human(res.counts.text_bytes))
    if files:
        t.add_row("file versions", f"{files['versions']:,} ({files['blobs']:,} new contents, {files['refs']:,} held or shared)")
        t.add_row("file bytes (in the bundle)", f"{human(files['bytes'])} ({human(files['stored'])})")
    t.add_row("bundle size", human(res.size))
    out.print(t)
    if client is not None:
        out.print(f"{client.requests:,} API requests, {human(client.bytes_received)} received from {escape(side.wiki)}")
    if drift is not None:
        if drift.lacking_revs or drift.extra_revs or drift.extra_pages:
            out.print(
                f"[yellow]Verified against the wiki: the peer lacked {drift.lacking_revs:,} revisions of "
                f"{len(drift.lacking_pages):,} pages (carried in this bundle); it holds {len(drift.extra_pages):,} pages "
                f"the wiki no longer has (deleted in this bundle) and {drift.extra_revs:,} revisions of live pages "
                "the wiki no longer shows (left as they are)[/]"
            )
        else:
            out.print("Verified against the wiki: the peer holds every revision it shows.")
    elif verify_asked:
        out.print("[yellow]--verify compared nothing:[/] a first or --full bundle carries every page anyway, and a wiki "
                  "that takes updates from the peer renumbered what it imported (its ids are not the peer's).")
    if res.deferred:
        out.print(
            f"[yellow]{res.deferred:,} pages did not fit in {escape(max_size or '')}[/] and wait for the next bundle: "
            f"bundle make -C DIR --continue --max-size {escape(max_size or '')} --out NEXT.bundle"
        )
    if n_skipped:
        out.print(
            f"[yellow]{n_skipped:,} file versions were left out: the dump has no <contents> for them[/]"
            f" ({escape(', '.join(dump_files.skipped_names))}). Export with dumpBackup.php --uploads --include-files,"
            " or give the wiki's images folder with --files DIR."
        )
    if parts:
        out.print(f"Wrote {len(parts)} parts of at most {escape(part_size)}: {escape(os.path.basename(parts[0]))} … {escape(os.path.basename(parts[-1]))}")
        out.print("They may travel separately. On the other side: bundle apply -C DIR PART... (or the folder that holds them)")
    else:
        out.print(f"Wrote {escape(res.path)} in {res.elapsed:.1f}s. Carry it to the peer and run: bundle apply -C DIR {escape(os.path.basename(res.path))}")
