"""bundle apply: verify a bundle, import it, write the manifest."""

from __future__ import annotations

import json
import os

import typer

from ..apply import apply_bundle, write_side_manifest
from ..errors import BundleError
from ..make import MakeResult, make_bundle_retrying
from ..sources import open_source
from ..state import Side
from ..targets import open_target
from .common import DirOption, check_output, escape, handle_errors, open_side, out, progress_bar, why


@handle_errors
def apply(
    bundle: list[str] = typer.Argument(..., help="The bundle file; or all its parts (.partNNN-of-MMM files, or a folder holding them)."),
    dir: str = DirOption,
    manifest_out: str = typer.Option(None, "--manifest-out", help="Also where to write the manifest to carry back (default: DIR/manifests/)."),
    return_out: str = typer.Option(None, "--return-out", help="Then write the return bundle: every edit, move and deletion made here since the last sync, for the sender."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Check a bundle (format, hash, signature, basis) and import it in one transaction.

    Nothing is changed unless every check passes. Applying the same bundle again
    changes nothing and says so.

    On the offline side, --return-out writes the return bundle in the same step:
    the edits made here go back on the same stick, and it tells the sender what
    arrived (no manifest needs to travel). On the online side, applying a return
    bundle lands each offline edit as a new edit; a page changed on both sides is
    merged three ways, and an overlapping change is kept as a conflict (online
    text current, offline text in the history, a notice on the talk page).

    Example:  bundle apply -C school /media/usb/update.bundle --return-out /media/usb/return.bundle
    """
    side = open_side(dir)
    # Both are written after the wiki changed: refuse a place they cannot go before.
    if manifest_out:
        check_output(manifest_out, "--manifest-out", "manifest.wbm")
    if return_out:
        check_output(return_out, "--return-out", "return.bundle")
    ret = None
    with side.locked():
        path, cleanup = _whole_bundle(side, bundle)
        try:
            size = os.path.getsize(path) if os.path.exists(path) else None
            with progress_bar("Checking", size, unit_bytes=True) as vbar, progress_bar("Importing", None) as ibar:
                res = apply_bundle(side, path, manifest_out=manifest_out, verify_progress=vbar, progress=ibar)
        finally:
            if cleanup and os.path.exists(path):
                os.unlink(path)
        if return_out:
            try:
                ret = _make_return(side, return_out, to=res.header.sender)
            except OSError as e:  # checked above, so a full disk or a stick pulled out
                raise BundleError(
                    f"bundle {res.header.seq} was applied, but the return bundle {return_out} could not be written: {why(e)}",
                    hint=f"Make room, then write it with: bundle make -C {dir} --out {return_out}",
                ) from None
    bundle = path if not cleanup else f"{len(bundle)} parts"
    _report(res, ret, side, bundle=bundle, as_json=as_json)


@handle_errors
def manifest(
    to: str = typer.Option(..., "--to", help="The peer (label or wiki id) whose bundles this side takes."),
    out_path: str = typer.Option(..., "--out", help="Where to write the manifest."),
    dir: str = DirOption,
) -> None:
    """Write this side's manifest for a peer without applying anything: the last of
    its bundles applied here (or none) and the sha1s of every file content the wiki
    holds, so the peer sends no file bytes this side has already (a side rebuilt from
    a copy, or a second offline site filled from the first).

    Example:  bundle manifest -C school2 --to hq --out /media/usb/school2.wbm
    """
    side = open_side(dir)
    check_output(out_path, "--out", "manifest.wbm")
    peer = side.state.find_peer(to)
    with side.locked():
        store = open_target(side)
        try:
            path = write_side_manifest(side, peer.wiki_id, store, out_path)
        finally:
            store.close()
    out.print(f"Manifest for {escape(peer.label or peer.wiki_id[:8])}: {escape(path)}")


def _report(res, ret: MakeResult | None, side: Side, *, bundle: str, as_json: bool) -> None:
    h = res.header
    info = {
        "bundle": bundle,
        "seq": h.seq,
        "sender": h.sender,
        "already_applied": res.already,
        "pages": res.pages,
        "revisions_added": res.revisions_added,
        "revisions_already_present": res.revisions_present,
        "moves": [{"from": a, "to": b} for a, b in res.moves],
        "deletions": res.deletions,
        "merged": res.merged,
        "conflicts": res.conflicts,
        "file_moves": [{"from": a, "to": b} for a, b in res.moves if _is_file(a)],
        "file_deletions": [t for t in res.deletions if _is_file(t)],
        "file_conflicts": [t for t in res.conflicts if _is_file(t)],
        "notices": res.notices,
        "files_added": res.files_added,
        "file_contents_added": res.blobs_added,
        "manifest": res.manifest,
        "return_bundle": ret.path if ret else None,
        "return_revisions": ret.counts.revisions if ret else None,
        "notes": res.notes,
        "api_requests": res.api_requests,
        "seconds": round(res.elapsed, 3),
    }
    if as_json:
        print(json.dumps(info, indent=2))
        return
    if res.already:
        out.print(f"Bundle {h.seq} was already applied here; nothing changed.")
    else:
        out.print(
            f"Applied bundle {h.seq}: {res.revisions_added:,} revisions added to {res.pages:,} pages, "
            f"{len(res.moves)} moves, {len(res.deletions)} deletions"
            + (f", {res.files_added:,} file versions ({res.blobs_added:,} new contents)" if res.files_added else "")
            + f" ({res.elapsed:.1f}s)."
        )
        for a, b in res.moves[:10]:
            out.print(f"  moved   {escape(a)} → {escape(b)}")
        for t in res.deletions[:10]:
            out.print(f"  deleted {escape(t)}")
        fm, fd = sum(_is_file(a) for a, _b in res.moves), sum(_is_file(t) for t in res.deletions)
        if fm or fd:
            out.print(f"  files: {fd} deleted, {fm} moved (with their File: pages, every version)")
        for n in res.notes:
            out.print(f"  [yellow]note:[/] {escape(n)}")
    fc = sum(_is_file(t) for t in res.conflicts)
    if fc:
        out.print(f"[bold]{fc} file conflict{'s' * (fc != 1)}[/] (uploaded on both sides: the online version is current,"
                  " the other in the file history).")
    if res.merged or len(res.conflicts) > fc:
        m, c = len(res.merged), len(res.conflicts) - fc
        out.print(f"{m} page{'s' * (m != 1)} merged cleanly, [bold]{c} edit conflict{'s' * (c != 1)}[/]"
                  + (" (online text kept, offline text in the history)." if c else "."))
    for n in res.notices:
        out.print(f"  [yellow]![/] {escape(n)}")
    if res.api_requests is not None:
        out.print(f"{res.api_requests:,} API requests to {escape(side.wiki)}")
    if ret is not None:
        c = ret.counts
        out.print(f"Return bundle {escape(ret.path)}: {c.revisions:,} revisions on {c.pages:,} pages, {c.moves} moves, "
                  f"{c.deletions} deletions ({ret.size:,} bytes). Carry it back and run: bundle apply -C DIR {escape(os.path.basename(ret.path))}")
    else:
        out.print(f"Manifest for the sender: {escape(res.manifest or '')}")


def _make_return(side: Side, out_path: str, *, to: str) -> MakeResult:
    """The return bundle for ``to``: every edit, move and deletion of the side's own wiki it lacks."""
    with progress_bar("Reading the wiki", None) as bar:
        return make_bundle_retrying(side, out_path, lambda: open_source(side, to=to), to=to,
                                    progress=lambda p, r: bar(p, description=f"{p:,} pages read, {r:,} revisions to carry"))


def _whole_bundle(side: Side, args: list[str]) -> tuple[str, bool]:
    """The bundle to apply: the one file given, or its parts reassembled in the side's directory."""
    from ..errors import UsageError
    from ..parts import collect, is_part, reassemble

    if len(args) == 1 and not os.path.isdir(args[0]) and not is_part(args[0]):
        return args[0], False
    for a in args:
        if os.path.isdir(a) and not any(is_part(os.path.join(a, n)) for n in os.listdir(a)):
            raise UsageError(f"the folder {a} holds no bundle parts", hint="Give the bundle file, or the folder with its .partNNN-of-MMM files.")
    parts = collect(args)
    incoming = os.path.join(side.path, "incoming")
    os.makedirs(incoming, exist_ok=True)
    path = os.path.join(incoming, parts[0].bundle_id.hex()[:16] + ".bundle")
    if len(args) > 1 and any(not os.path.isdir(a) and not is_part(a) for a in args):
        raise UsageError("give one bundle file, or the parts of one bundle", hint="Do not mix whole bundles and parts.")
    reassemble(parts, path)
    return path, True


def _is_file(title: str) -> bool:
    """A File: page's title (the file goes with it). English and canonical prefixes only:
    the report is for people, the wiki's own handling does not depend on it."""
    return title.startswith(("File:", "Image:"))
