"""bundle apply: verify a bundle, import it, write the manifest."""

from __future__ import annotations

import json
import os

import typer

from ..apply import apply_bundle
from ..state import Side
from .common import DirOption, escape, handle_errors, out, progress_bar


@handle_errors
def apply(
    bundle: str = typer.Argument(..., help="The bundle file to apply."),
    dir: str = DirOption,
    manifest_out: str = typer.Option(None, "--manifest-out", help="Also where to write the manifest to carry back (default: DIR/manifests/)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Check a bundle (format, hash, signature, basis) and import it in one transaction.

    Nothing is changed unless every check passes. Applying the same bundle again
    changes nothing and says so. Carry the manifest it writes back to the sender,
    who gives it to 'bundle make --since'.

    Example:  bundle apply -C school /media/usb/update.bundle --manifest-out /media/usb/school.wbm
    """
    side = Side.open(dir)
    size = os.path.getsize(bundle) if os.path.exists(bundle) else None
    with side.locked():
        with progress_bar("Checking", size, unit_bytes=True) as vbar, progress_bar("Importing", None) as ibar:
            res = apply_bundle(side, bundle, manifest_out=manifest_out, verify_progress=vbar, progress=ibar)
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
        "manifest": res.manifest,
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
            f"{len(res.moves)} moves, {len(res.deletions)} deletions ({res.elapsed:.1f}s)."
        )
        for a, b in res.moves[:10]:
            out.print(f"  moved   {escape(a)} → {escape(b)}")
        for t in res.deletions[:10]:
            out.print(f"  deleted {escape(t)}")
    out.print(f"Manifest for the sender: {escape(res.manifest or '')}")
