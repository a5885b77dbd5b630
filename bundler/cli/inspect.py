"""bundle inspect: what a bundle holds, from its header and frame index."""

from __future__ import annotations

import json
import os
import time
from collections import Counter

import typer
from rich.table import Table

from ..container import BundleReader
from .common import escape, handle_errors, human, open_side, out


@handle_errors
def inspect(
    bundle: str = typer.Argument(..., help="The bundle file."),
    dir: str = typer.Option(None, "-C", "--dir", help="A side's directory: also verify hash and signature against its trusted keys."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Show what a bundle holds (pages, revisions, moves, deletions, sizes, basis, signer).

    Reads the header and the frame index without decompressing anything. With -C,
    also checks the hash and the signature the way 'bundle apply' would.
    """
    with BundleReader(bundle) as r:
        h = r.header
        verified = None
        if dir:
            side = open_side(dir)
            signer = r.verify(side.state.peer_by_key_id)
            verified = f"signature good, by {signer.label or '?'} ({signer.key_id})"
            h = r.header  # a compact header's sender and signer are known once verified
        frames = _frame_index(r)
        checkpoint = r.checkpoint  # compact form: the body's hash (nothing is decompressed)
    info = {
        "file": bundle,
        "bytes": os.path.getsize(bundle),
        "format_version": r.version,
        "kind": h.kind,
        "sender": h.sender,
        "receiver": h.receiver,
        "seq": h.seq,
        "basis_seq": h.basis_seq,
        "basis": h.basis.hex(),
        "checkpoint": checkpoint.hex(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(h.created)),
        "signer_key_id": h.signer,
        "verified": verified,
        "latest_only": h.latest_only,
        "source": h.source,
        "tool": h.tool,
        "capabilities": list(h.capabilities),
        "counts": h.counts.to_wire(),
        "breakdown": h.breakdown,
        "acknowledges": {"seq": h.ack_seq, "checkpoint": h.ack.hex()} if h.ack_seq else None,
        "notices": list(h.notices),
        "file_conflicts": [n for n in h.notices if "FILE CONFLICT" in n],
        "frames": frames,
    }
    if as_json:
        print(json.dumps(info, indent=2))
        return
    t = Table(title=f"{escape(os.path.basename(bundle))}: bundle {h.seq} ({h.kind})", show_header=False)
    t.add_column("field", style="bold")
    t.add_column("value")
    sender = h.sender or f"the wiki of key {h.signer}… (-C verifies)"  # §Compact form: the signer's wiki
    t.add_row("from → to", f"{sender} → {h.receiver}")
    t.add_row("builds on", f"checkpoint {h.basis_seq}" + (f" ({h.basis.hex()})" if h.basis_seq else " (nothing: a first bundle)"))
    t.add_row("leads to", f"checkpoint {h.seq} ({info['checkpoint']})")
    t.add_row("made", f"{info['created']} by {escape(h.tool or '—')} from {escape(h.source or '—')}")
    t.add_row("signer", h.signer + ("" if verified is None else f"  [green]{escape(verified)}[/]"))
    t.add_row("latest only", "yes" if h.latest_only else "no (full history)")
    t.add_row("format", _format(info["format_version"], frames))
    if h.ack_seq:
        t.add_row("acknowledges", f"bundle {h.ack_seq} from the receiver, applied by the sender")
    for n in h.notices:
        t.add_row("notice", escape(n))
    for k, v in h.counts.to_wire().items():
        t.add_row(k.replace("_", " "), human(v) if k == "text_bytes" else f"{v:,}")
    files = h.breakdown.get("files")
    if files and files.get("versions"):
        t.add_row("files", f"{files.get('versions', 0):,} versions, {files.get('blobs', 0):,} new contents"
                  f" ({human(files.get('bytes', 0))}), {files.get('refs', 0):,} held already or shared")
    if files and (files.get("deleted") or files.get("moved")):
        t.add_row("files deleted/moved", f"{files.get('deleted', 0):,} deleted, {files.get('moved', 0):,} moved"
                  " (with their File: pages, every version)")
    conflicts = [n for n in h.notices if "FILE CONFLICT" in n]
    if conflicts:
        t.add_row("file conflicts", f"{len(conflicts):,} (see the notices)")
    comp = sum(f["compressed"] for f in frames if f["type"] == "records")
    fcomp = sum(f["compressed"] for f in frames if f["type"] != "records")
    t.add_row("size", f"{human(info['bytes'])} ({human(comp)} compressed text frames; {human(fcomp)} files;"
              f" {human(info['bytes'] - comp - fcomp)} header, index and signature)")
    out.print(t)
    _where_the_bytes_go(h, comp, frames)


def _format(version: int, frames: list[dict]) -> str:
    """The container version and how many records frames each coder coded."""
    coders = Counter(f["coder"] for f in frames if f["type"] == "records")
    form = {1: "long form", 2: "compact form"}.get(version, "")
    return f"version {version} ({form})" + "".join(f"; {n:,} {'frame' if n == 1 else 'frames'} {c}" for c, n in sorted(coders.items()))


def _where_the_bytes_go(h, comp: int, frames: list[dict]) -> None:
    """Text and metadata: shares of the uncompressed payload, applied to the
    compressed size, an estimate (they compress differently), labelled as one.
    Files: exact, from the frame index (metadata frames and blob bytes)."""
    b = h.breakdown
    if not b or not (b.get("namespaces") or b.get("files")):
        return
    inserted, metadata = b.get("inserted", 0), b.get("metadata", 0)
    total = max(1, inserted + metadata)
    t = Table(title="where the bytes go (estimated from uncompressed shares)")
    t.add_column("part")
    t.add_column("revisions", justify="right")
    t.add_column("uncompressed", justify="right")
    t.add_column("≈ in the bundle", justify="right")
    names = {0: "(main)", 1: "Talk", 2: "User", 3: "User talk", 4: "Project", 6: "File", 8: "MediaWiki", 10: "Template", 12: "Help", 14: "Category", 828: "Module"}
    for ns, (revs, chars) in sorted(b.get("namespaces", {}).items(), key=lambda kv: -kv[1][1]):
        t.add_row(f"text, namespace {ns} {names.get(ns, '')}", f"{revs:,}", human(chars), human(int(comp * chars / total)))
    if b.get("namespaces"):
        t.add_row("metadata (ids, times, users, comments, titles, delta operations)", "", human(metadata), human(int(comp * metadata / total)))
    f = b.get("files")
    if f:
        meta = [x for x in frames if x["type"] == "files"]
        t.add_row(f"file metadata ({f.get('versions', 0):,} versions)", "", human(sum(x["uncompressed"] for x in meta)),
                  human(sum(x["compressed"] for x in meta)))
        for key, label in (("raw", "as they are (compressed media)"), ("zstd", "zstd"), ("deltas", "deltas against older versions")):
            if f.get(key):
                t.add_row(f"file bytes: {f[key]:,} {label}", "", "", "")
        t.add_row(f"file bytes ({f.get('blobs', 0):,} new contents; {f.get('refs', 0):,} held already or shared: 0 bytes)", "",
                  human(f.get("bytes", 0)), human(sum(x["compressed"] for x in frames if x["type"] == "blob")))
    out.print(t)


def _frame_index(r: BundleReader) -> list[dict]:
    """Frame sizes from the frame headers only (hops over bodies; nothing decompressed)."""
    from ..container import FRAME_BLOB, FRAME_FILES, FRAME_RECORDS
    from ..errors import TruncatedError

    res = []
    pos = r.header_end
    kinds = {FRAME_RECORDS: "records", FRAME_FILES: "files", FRAME_BLOB: "blob"}
    try:
        while True:
            ftype, meta_len, comp_len, raw_len, fixed_len = r.frame_fixed(pos)
            if ftype not in kinds:
                break
            r.f.seek(pos + fixed_len)
            meta = r.read_meta(ftype, r.f.read(meta_len), what="frame meta")
            res.append(
                {
                    "type": kinds[ftype],
                    "offset": pos,
                    "compressed": comp_len,
                    "uncompressed": raw_len,
                    "revisions": meta.get("revisions"),
                    # held revisions the frame builds on (entries ≤ 0 name primer parts, not texts)
                    "base_texts": _held_entries(meta.get("dict")),
                    "coder": (str(meta.get("coder", "zstd"))[:40] if ftype == FRAME_RECORDS else None),
                }
            )
            pos += fixed_len + meta_len + comp_len
    except TruncatedError:
        pass  # the index ends before its end frame: what is there is shown (apply names the damage)
    return res


def _held_entries(d: object) -> int | None:
    return sum(1 for r in d if not (isinstance(r, int) and r <= 0)) if isinstance(d, list) else None

