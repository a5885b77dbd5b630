#!/usr/bin/env python3
"""Write the golden vectors of formats/BUNDLE.md and formats/MANIFEST.md.

    .venv/bin/python formats/vectors/generate.py [OUTDIR]     (default: this directory)

Every vector is one scenario: ``NAME.bundle`` (or ``NAME.wbm`` for a manifest)
and ``NAME.expect``, a short header saying what a reader must do with it (see
README.md here). The output is deterministic: keys come from fixed 32-byte seeds,
wiki ids, checkpoint ids and times are fixed, Ed25519 signatures are
deterministic and so is zstd for the same level and parameters. Running this
twice gives byte-identical files; ``tests/test_vectors.py`` checks that too.

The ``ok-*`` bundles are made by the real ``bundler.make.make_bundle`` from real
dump excerpts (tests/data). The malformed ones are assembled here by hand with the
struct definitions of ``bundler.container`` and signed with the fixed keys, so
that each fails exactly the check it is about and no earlier one: a bundle meant
to fail the capability check carries a valid hash and signature.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import tempfile
from contextlib import ExitStack
from unittest import mock

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ROOT)

from bundler import compact, container, errors, manifest, wire  # noqa: E402
from bundler.apply import apply_bundle  # noqa: E402
from bundler.container import (  # noqa: E402
    EMPTY_CHECKPOINT,
    FRAME_END,
    FRAME_FIXED,
    FRAME_RECORDS,
    HEADER_FIXED,
    MAGIC,
    SIGNATURE,
    SIGNATURE_CONTEXT,
    TRAILER,
    TRAILER_MAGIC,
    VERSION,
)
from bundler.make import make_bundle  # noqa: E402
from bundler.files_import import decode_files_frame  # noqa: E402
from bundler.model import Deleted, FileVersion, Page, PageHistory, PageId, RevId, Revision, SiteInfo, Slot, format_timestamp, text_sha1  # noqa: E402
from bundler.sources import EveryPage  # noqa: E402
from bundler.frame_reader import decode_frame  # noqa: E402
from bundler.records import FrameBuilder  # noqa: E402
from bundler.signing import PublicKey, SecretKey  # noqa: E402
from bundler.sources.dump import open_dump  # noqa: E402
from bundler.state import Side  # noqa: E402

DATA = os.path.join(ROOT, "tests", "data")


def _h(label: str) -> bytes:
    return hashlib.sha256(b"wikibundle test vectors: " + label.encode()).digest()


# --- fixed identities -------------------------------------------------------------
# Test keys only: their seeds are public, here. Never trust them outside a test.
SENDER_WIKI = _h("sender wiki").hex()[:32]
RECEIVER_WIKI = _h("receiver wiki").hex()[:32]
ALLY_WIKI = _h("ally wiki").hex()[:32]  # a second trusted peer of the receiver
OTHER_WIKI = _h("other wiki").hex()[:32]  # a wiki the receiver is not
MALLORY_WIKI = _h("mallory wiki").hex()[:32]  # nobody trusts it

SEEDS = {name: _h(f"{name} key") for name in ("sender", "receiver", "ally", "mallory")}  # Ed25519 secret keys
SENDER_KEY = SecretKey(SEEDS["sender"])
RECEIVER_KEY = SecretKey(SEEDS["receiver"])
ALLY_KEY = SecretKey(SEEDS["ally"])
MALLORY_KEY = SecretKey(SEEDS["mallory"])

CREATED = 1793491200  # 2026-11-01T00:00:00Z: every "created" and every clock reading


def checkpoint(n: int) -> bytes:
    return _h(f"checkpoint {n}")[:16]


def pub(key: SecretKey, wiki: str, label: str) -> PublicKey:
    return PublicKey(wiki, key.public, label)


SENT = f"peer={RECEIVER_WIKI} seq=1 checkpoint={checkpoint(101).hex()}"  # the manifest reader's state

SENDER_PUB = pub(SENDER_KEY, SENDER_WIKI, "sender")
RECEIVER_PUB = pub(RECEIVER_KEY, RECEIVER_WIKI, "receiver")
ALLY_PUB = pub(ALLY_KEY, ALLY_WIKI, "ally")
MALLORY_PUB = pub(MALLORY_KEY, MALLORY_WIKI, "mallory")


def fixed_side(path: str, wiki_id: str, seed: bytes, label: str, peers: list[PublicKey]) -> Side:
    """A side with this wiki id and key (Side.create draws both at random)."""
    Side.create(path, os.path.join(path, "wiki.sqlite"), label).state.db.close()
    cfg = os.path.join(path, "config.json")
    with open(cfg) as f:
        config = json.load(f)
    config["wiki_id"] = wiki_id
    with open(cfg, "w") as f:
        json.dump(config, f, indent=2)
    keyfile = os.path.join(path, "key.secret")
    os.chmod(keyfile, 0o600)
    with open(keyfile, "wb") as f:
        f.write(seed)
    side = Side.open(path)
    side.store(create=True).close()
    with side.state.transaction():
        for p in peers:
            side.state.add_peer(p)
    return side


# --- hand assembly, with the container's own structs ---------------------------------


@dataclasses.dataclass
class Parts:
    version: int
    header: dict
    frames: list[list]  # [type, meta (dict or raw bytes), comp, raw_len]


def split(data: bytes) -> Parts:
    """Take a well-formed bundle apart (trusted input: our own ok vectors)."""
    magic, version, hlen = HEADER_FIXED.unpack_from(data)
    at = HEADER_FIXED.size
    header = wire.unpackb(data[at : at + hlen], what="header")
    at += hlen
    frames = []
    while True:
        ftype, mlen, clen, rlen = FRAME_FIXED.unpack_from(data, at)
        at += FRAME_FIXED.size
        if ftype == FRAME_END:
            break
        meta = wire.unpackb(data[at : at + mlen], what="meta")
        comp = data[at + mlen : at + mlen + clen]
        at += mlen + clen
        frames.append([ftype, meta, comp, rlen])
    return Parts(version, header, frames)


def assemble(
    header: dict | bytes,
    frames: list,
    key: SecretKey,
    *,
    magic: bytes = MAGIC,
    version: int = VERSION,
    header_len: int | None = None,
    end_frame: bool = True,
    after_end: bytes = b"",
    key_id: bytes | None = None,
) -> bytes:
    """Header || Frame* || EndFrame || Trailer || Signature, signed with ``key``."""
    hb = header if isinstance(header, bytes) else wire.packb(header)
    body = bytearray(HEADER_FIXED.pack(magic, version, len(hb) if header_len is None else header_len))
    body += hb
    for ftype, meta, comp, raw_len in frames:
        mb = meta if isinstance(meta, bytes) else wire.packb(meta)
        body += FRAME_FIXED.pack(ftype, len(mb), len(comp), raw_len) + mb + comp
    if end_frame:
        body += FRAME_FIXED.pack(FRAME_END, 0, 0, 0)
    body += after_end
    trailer = TRAILER.pack(TRAILER_MAGIC, len(body), hashlib.sha256(body).digest())
    sig = key.sign(SIGNATURE_CONTEXT + trailer)
    return bytes(body) + trailer + SIGNATURE.pack(key_id or bytes.fromhex(key.key_id), sig)


def rebuild(parts: Parts, key: SecretKey = SENDER_KEY, **kw) -> bytes:
    kw.setdefault("version", parts.version)
    return assemble(parts.header, parts.frames, key, **kw)


def header(seq: int = 1, basis_seq: int = 0, *, counts: dict | None = None, key: SecretKey = SENDER_KEY, **over) -> dict:
    h = container.Header(
        sender=SENDER_WIKI,
        receiver=RECEIVER_WIKI,
        seq=seq,
        basis_seq=basis_seq,
        basis=checkpoint(basis_seq) if basis_seq else EMPTY_CHECKPOINT,
        checkpoint=checkpoint(100 + seq),
        created=CREATED,
        signer=key.key_id,
        counts=container.Counts(**(counts or {})),
        source="vectors",
        tool="wikibundle vectors",
    ).to_wire()
    h.update(over)
    return h


def payload_frame(payload: dict, *, revisions: int = 0, dict_revs=(), dict_texts=(), text_sha256: bytes | None = None,
                  raw_len: int | None = None, comp: bytes | None = None) -> list:
    raw = wire.packb(payload)
    dictionary = b"".join(t.encode() for t in dict_texts)
    meta = {
        "dict": list(dict_revs),
        "dict_sha256": hashlib.sha256(dictionary).digest(),
        "text_sha256": text_sha256 if text_sha256 is not None else hashlib.sha256().digest(),
        "revisions": revisions,
    }
    if comp is None:
        comp = wire.compress(raw, level=19, dictionary=dictionary)
    return [FRAME_RECORDS, meta, comp, len(raw) if raw_len is None else raw_len]


def empty_payload(**over) -> dict:
    p = {"site": None, "pages": [], "users": [], "models": [], "revs": {k: [] for k in _REV_COLS},
         "moves": [], "deletes": [], "updates": []}
    p.update(over)
    return p


_REV_COLS = ("pg", "id", "par", "ts", "u", "cm", "fl", "mf", "b", "n", "sc", "ins", "hs", "sl")


def one_page_frame(title: str, text: str = "Hello.\n", page_id: int = 7, rev_id: int = 70,
                   coder_choice: str | None = None) -> tuple[list, dict]:
    """A frame with one page and one revision, built by the real FrameBuilder."""
    fb = FrameBuilder()
    page = Page(PageId(page_id), 0, title)
    fb.add_revision(page, Revision(RevId(rev_id), PageId(page_id), CREATED - 86400, text, user="Vector", user_id=1,
                                   comment="vector"), None, None)
    meta, body, raw_len = fb.build(coder=coder_choice)
    return [FRAME_RECORDS, meta, body, raw_len], {"pages": 1, "revisions": 1, "frames": 1, "text_bytes": len(text.encode())}


# --- the sources of the ok vectors ----------------------------------------------------


def dump_pages() -> tuple[list[PageHistory], object]:
    pages = []
    siteinfo = None
    for name in ("article-pear.xml", "pair-0.10.xml"):
        with open_dump(os.path.join(DATA, name)) as r:
            if siteinfo is None:
                siteinfo = r.siteinfo
            for ph in r:
                revs = list(ph.revisions)
                pages.append(PageHistory(ph.page, revs, len(revs)))
    return pages, siteinfo


def earlier(pages: list[PageHistory], keep: dict[str, int]) -> list[PageHistory]:
    """The same wiki as an earlier dump showed it: the first ``keep[title]`` revisions."""
    out = []
    for ph in pages:
        revs = list(ph.revisions)[: keep.get(ph.page.title, 0)]
        if revs:
            out.append(PageHistory(ph.page, revs, len(revs)))
    return out


def later(pages: list[PageHistory]) -> list[PageHistory]:
    """A later dump: one page renamed, one deleted, one old revision's comment hidden."""
    out = []
    for ph in pages:
        revs = list(ph.revisions)
        if ph.page.title == "Talk:Çullu, Agdam":
            continue  # deleted
        page = ph.page
        if page.title == "Çullu, Agdam":
            page = dataclasses.replace(page, title="Çullu (Agdam)")
        if ph.page.title == "Pear":
            revs[0] = dataclasses.replace(revs[0], comment=None, deleted=revs[0].deleted | Deleted.COMMENT)
        out.append(PageHistory(page, revs, len(revs)))
    return out


# --- writing ------------------------------------------------------------------------

VECTORS: list[tuple[str, dict]] = []


def put(out: str, name: str, data: bytes | None, *, expect: str, description: str, requires: tuple[str, ...] = (),
        ext: str = "bundle", summary: list[str] | None = None, extra: dict | None = None,
        side: str = RECEIVER_WIKI, trusts: str = "keys/sender.pub keys/ally.pub") -> None:
    cls = _KINDS[expect]
    if data is not None:  # None: the vector's input files are written by the caller (parts)
        with open(os.path.join(out, f"{name}.{ext}"), "wb") as f:
            f.write(data)
    lines = [
        f"expect: {expect}",
        f"error: {cls.__name__ if cls else '-'}",
        f"exit: {cls.exit_code if cls else 0}",
        f"description: {description}",
        f"side: {side}",
        f"trusts: {trusts}",
        f"requires: {' '.join(requires) if requires else '-'}",
    ]
    for k, v in (extra or {}).items():
        lines.append(f"{k}: {v}")
    if summary:
        lines.append("")
        lines.extend(summary)
    with open(os.path.join(out, f"{name}.expect"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    VECTORS.append((name, {"expect": expect, "requires": requires}))


_KINDS = {
    "ok": None,
    "format error": errors.FormatError,
    "truncated": errors.TruncatedError,
    "version error": errors.VersionError,
    "limit error": errors.LimitError,
    "integrity error": errors.IntegrityError,
    "signature error": errors.SignatureError,
    "untrusted key": errors.UntrustedKeyError,
    "wrong peer": errors.WrongPeerError,
    "basis error": errors.BasisError,
    "stale": errors.StaleBundleError,
    "content error": errors.ContentError,
}


def summarize(receiver: Side, path: str) -> list[str]:
    """The decoded content of a bundle, as the receiver (holding its basis) sees it."""
    lines: list[str] = []
    store = receiver.store()
    try:
        with container.BundleReader(path) as r:
            r.verify(receiver.state.peer_by_key_id)
            h = r.header
            lines.append(f"header seq={h.seq} basis_seq={h.basis_seq} basis={h.basis.hex()} checkpoint={h.checkpoint.hex()}")
            c = h.counts
            lines.append(
                f"counts pages={c.pages} revisions={c.revisions} moves={c.moves} deletions={c.deletions}"
                f" updates={c.updates} frames={c.frames} text_bytes={c.text_bytes}"
            )
            for i, fr in enumerate(r.frames()):
                if fr.type != FRAME_RECORDS:
                    lines += files_lines(i, fr)
                    continue
                fc = decode_frame(fr.meta, fr.body, fr.raw_len, store.get_text, what=f"frame {i}", get_title=store.live_title,
                                  compact=fr.compact, get_slots=store.get_slots,
                                  slot_deltas=container.SLOT_DELTA_CAPABILITY in h.capabilities)
                lines.append(f"frame {i} dict={fr.meta['dict']} raw_len={fr.raw_len}")
                for p in fc.pages:
                    lines.append(f"page {p.page_id} ns={p.namespace} title={json.dumps(p.title, ensure_ascii=False)}")
                for rv in fc.revisions:
                    lines.append(
                        f"rev {rv.rev_id} page={rv.page_id} ts={format_timestamp(rv.timestamp)}"
                        f" sha1={rv.sha1} text={'hidden' if rv.text is None else len(rv.text.encode())}"
                    )
                    lines += [f"slot {rv.rev_id} role={sl.role} model={sl.model} format={sl.format}"
                              f" sha1={'hidden' if sl.text is None else text_sha1(sl.text)}" for sl in rv.slots]
                for m in fc.moves:
                    lines.append(f"move {m.page_id} from={json.dumps(m.old_title, ensure_ascii=False)} to={json.dumps(m.new_title, ensure_ascii=False)}")
                for d in fc.deletes:
                    lines.append(f"delete {d.page_id} title={json.dumps(d.title, ensure_ascii=False)}")
                for u in fc.updates:
                    lines.append(f"update {u.rev_id} deleted={int(u.deleted)} comment={json.dumps(u.comment, ensure_ascii=False)}")
    finally:
        store.close()
    return lines


def files_lines(i: int, fr) -> list[str]:
    """Summary lines of a files frame (its versions and announced blobs) or a blob frame."""
    if fr.type == container.FRAME_BLOB:
        return [f"blob frame {i} sha1={fr.meta['sha1'].hex()} off={fr.meta['off']} bytes={len(fr.body)}"]
    versions, blobs = decode_files_frame(fr, f"frame {i}")
    out = [f"files frame {i} versions={len(versions)} blobs={len(blobs)} raw_len={fr.raw_len}"]
    out += [f"file {json.dumps(v.name, ensure_ascii=False)} ts={format_timestamp(v.timestamp)} sha1={v.sha1} size={v.size}" for v in versions]
    out += [f"blob {sha} size={size} enc={enc} base={base or '-'} stored={stored}" for sha, size, enc, base, stored in blobs]
    return out


class ListFiles:
    """A file source from (version, bytes) pairs."""

    def __init__(self, items: list[tuple[FileVersion, bytes]]):
        self.items = items
        self.data = {v.sha1: b for v, b in items}

    def versions(self):
        return sorted((v for v, _ in self.items), key=lambda v: (v.name, v.timestamp, v.sha1))

    def open(self, sha1: str):
        import io

        return io.BytesIO(self.data[sha1]) if sha1 in self.data else None


def file_version(name: str, ts: int, path: str, comment: str) -> tuple[FileVersion, bytes]:
    with open(os.path.join(DATA, "files", path), "rb") as f:
        b = f.read()
    return FileVersion(name, ts, hashlib.sha1(b).hexdigest(), len(b), "Vector", 1, comment), b


def files_vectors(out: str, tmp: str, recv: Side) -> tuple[bytes, bytes]:
    """Bundles with files (capability files-v1), from the ally (its own sequence)."""
    ally = fixed_side(os.path.join(tmp, "ally"), ALLY_WIKI, SEEDS["ally"], "ally", [RECEIVER_PUB])
    jpg = file_version("Headbg.jpg", CREATED - 3 * 86400, "headbg.jpg", "MonoBook header")
    svg1 = file_version("Wikitext_editor.svg", CREATED - 2 * 86400, "betafeatures-icon-WikitextEditor-ltr.svg", "icon")
    svg2 = file_version("Wikitext_editor.svg", CREATED - 86400, "betafeatures-icon-WikitextEditor-rtl.svg", "mirrored")
    copy = dataclasses.replace(jpg[0], name="Header_copy.jpg", timestamp=CREATED - 3600, comment="the same bytes again")
    b1 = os.path.join(tmp, "f1.bundle")
    first = make(ally, b1, [], SiteInfo(sitename="ally"), 1, files=ListFiles([jpg, svg1]))
    put(out, "ok-files-first", first, expect="ok", summary=summarize(recv, b1),
        description="bundle 1 of the ally: two files (a real JPEG, raw; a real SVG, zstd) in a files frame and blob frames")
    m1 = os.path.join(tmp, "f1.wbm")
    apply_bundle(recv, b1, manifest_out=m1)
    b2 = os.path.join(tmp, "f2.bundle")
    second = make(ally, b2, [], SiteInfo(sitename="ally"), 2, since=m1, files=ListFiles([jpg, svg1, svg2, (copy, jpg[1])]))
    put(out, "ok-files-delta", second, expect="ok", requires=("ok-files-first",), summary=summarize(recv, b2),
        description="bundle 2 of the ally: a new version of the SVG as a zstd delta against the held one, and the JPEG's bytes under a new name as a reference only (no blob)")

    p = split(first)
    frames = p.frames
    at = next(i for i, fr in enumerate(frames) if fr[0] == container.FRAME_BLOB and fr[1]["sha1"].hex() == jpg[0].sha1)
    bad = bytearray(frames[at][2])
    bad[len(bad) // 2] ^= 0x01
    frames_bad = [list(fr) for fr in frames]
    frames_bad[at][2] = bytes(bad)
    put(out, "files-bad-sha1", rebuild(Parts(p.version, p.header, frames_bad), key=ALLY_KEY), expect="content error",
        description="ok-files-first with one bit of the raw JPEG's bytes flipped, re-signed: the blob's sha1 does not match; nothing is stored")
    put(out, "files-blob-missing", rebuild(Parts(p.version, p.header, [fr for i, fr in enumerate(frames) if i != at]), key=ALLY_KEY),
        expect="format error", description="ok-files-first without the JPEG's blob frame: the bytes the files frame announced never arrive")
    no_cap = dict(p.header, capabilities=list(container.WRITTEN_CAPABILITIES))
    put(out, "files-without-capability", rebuild(Parts(p.version, no_cap, frames), key=ALLY_KEY), expect="format error",
        description="ok-files-first with files-v1 left out of the capabilities: frame types 2 and 3 are unknown frame types")
    return first, second


def make(side: Side, out: str, pages, siteinfo, seq: int, **kw) -> bytes:
    real = os.urandom
    with mock.patch("os.urandom", side_effect=lambda n: checkpoint(100 + seq) if n == 16 else real(n)):
        make_bundle(side, out, EveryPage(pages), siteinfo=siteinfo, source_name="vectors", **kw)
    with open(out, "rb") as f:
        return f.read()


def generate(out: str) -> None:
    VECTORS.clear()
    os.makedirs(os.path.join(out, "keys"), exist_ok=True)
    for name, p in (("sender", SENDER_PUB), ("ally", ALLY_PUB), ("receiver", RECEIVER_PUB), ("mallory", MALLORY_PUB)):
        with open(os.path.join(out, "keys", f"{name}.pub"), "w") as f:
            f.write(p.line() + "\n")

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        stack.enter_context(mock.patch("time.time", return_value=float(CREATED)))
        # The long form (version 1) for every vector but the compact-* ones: readers keep reading it.
        stack.enter_context(mock.patch.object(container, "WRITE_VERSION", VERSION))
        # The vectors made before the PPMd coder stay byte for byte what they were: the
        # writer's coder is pinned to zstd, except where ppmd_vectors asks for PPMd.
        # Likewise the primer (BUNDLE.md §Primer) is off, except where primer_vectors asks for it.
        stack.enter_context(mock.patch.dict(os.environ, {"WIKIBUNDLE_CODER": "zstd", "WIKIBUNDLE_PRIMER": "0"}))
        sender = fixed_side(os.path.join(tmp, "sender"), SENDER_WIKI, SEEDS["sender"], "sender", [RECEIVER_PUB])
        recv = fixed_side(os.path.join(tmp, "receiver"), RECEIVER_WIKI, SEEDS["receiver"], "receiver", [SENDER_PUB, ALLY_PUB])
        pages, siteinfo = dump_pages()

        first, delta, manifest1 = ok_series(out, tmp, sender, recv, pages, siteinfo, "", (
            "bundle 1 (basis 0): 3 pages, 4 revisions from real dumps (article-pear.xml, pair-0.10.xml); full texts, one line delta against the previous revision",
            "bundle 2 (basis 1): the rest of the histories, as line deltas against texts of bundle 1 (meta dict) and of the previous revision in the frame",
            "bundle 3 (basis 2): one page moved, one deleted, one held revision's comment hidden (an update); no texts"))

        # Manifests (MANIFEST.md).
        put(out, "manifest-ok", manifest1, ext="wbm", expect="ok", side=SENDER_WIKI, trusts="keys/receiver.pub",
            description="the manifest the receiver wrote after applying ok-first: seq 1, signed by the receiver",
            extra={"sent": SENT},
            summary=[f"manifest wiki={RECEIVER_WIKI} peer={SENDER_WIKI} seq=1 checkpoint={checkpoint(101).hex()}"])
        manifest_vectors(out, manifest1)
        fresh = fixed_side(os.path.join(tmp, "fresh"), RECEIVER_WIKI, SEEDS["receiver"], "fresh", [SENDER_PUB, ALLY_PUB])
        hand_built(out, tmp, first, delta, fresh)
        files_first, files_second = files_vectors(out, tmp, recv)
        spec_vectors(out, tmp, first, fresh)
        more_spec_vectors(out, tmp, first, fresh, recv)
        files_spec_vectors(out, tmp, files_first, files_second, fresh)
        parts_vectors(out, tmp, files_first)
        compact_vectors(out, os.path.join(tmp, "compact"), pages, siteinfo)
        ppmd_vectors(out, tmp, pages, siteinfo, first, os.path.join(tmp, "m1.wbm"), recv, fresh)
        slot_vectors(out, tmp)
        primer_vectors(out, os.path.join(tmp, "primer"), pages, siteinfo)
    with open(os.path.join(out, "INDEX"), "w") as f:
        for name, v in VECTORS:
            f.write(f"{name}\t{v['expect']}\t{' '.join(v['requires']) or '-'}\n")


def ok_series(out: str, tmp: str, sender: Side, recv: Side, pages, siteinfo, prefix: str,
              descriptions: tuple[str, str, str]) -> tuple[bytes, bytes, bytes]:
    """PREFIXok-first, PREFIXok-delta and PREFIXok-moves, made by the real make_bundle and each
    applied by ``recv``: (first, delta, the manifest ``recv`` wrote after first)."""
    # ok-first: an earlier dump of three pages (Pear 2 of 4 revisions, the pair 1 of 2 each).
    b1 = os.path.join(tmp, "b1.bundle")
    first = make(sender, b1, earlier(pages, {"Pear": 2, "Çullu, Agdam": 1, "Talk:Çullu, Agdam": 1}), siteinfo, 1)
    put(out, f"{prefix}ok-first", first, expect="ok", summary=summarize(recv, b1), description=descriptions[0])
    m1 = os.path.join(tmp, "m1.wbm")
    apply_bundle(recv, b1, manifest_out=m1)
    with open(m1, "rb") as f:
        manifest1 = f.read()

    # ok-delta: the full dumps since manifest 1; texts travel against bundle 1's.
    b2 = os.path.join(tmp, "b2.bundle")
    delta = make(sender, b2, pages, siteinfo, 2, since=m1)
    put(out, f"{prefix}ok-delta", delta, expect="ok", requires=(f"{prefix}ok-first",), summary=summarize(recv, b2),
        description=descriptions[1])
    m2 = os.path.join(tmp, "m2.wbm")
    apply_bundle(recv, b2, manifest_out=m2)

    # ok-moves: a later dump with a rename, a deletion, a hidden comment.
    b3 = os.path.join(tmp, "b3.bundle")
    moves = make(sender, b3, later(pages), siteinfo, 3, since=m2)
    put(out, f"{prefix}ok-moves", moves, expect="ok", requires=(f"{prefix}ok-first", f"{prefix}ok-delta"),
        summary=summarize(recv, b3), description=descriptions[2])
    return first, delta, manifest1


def hand_built(out: str, tmp: str, first: bytes, delta: bytes, fresh: Side) -> None:
    """Bundles assembled by hand: each fails one check (or, for a title, passes one)."""
    p1, p2 = split(first), split(delta)
    assert rebuild(p1) == first and rebuild(p2) == delta, "hand assembly differs from BundleWriter"

    put(out, "reapply-first", first, expect="ok", requires=("ok-first",), extra={"already": "yes"},
        description="the bytes of ok-first again, after ok-first: already applied, nothing changes")
    put(out, "replay-older-applied", first, expect="ok", requires=("ok-first", "ok-delta"), extra={"already": "yes"},
        description="the bytes of ok-first again, after ok-delta: it was applied, so it is a no-op, not an error")
    q = split(first)
    q.header.update(seq=5, checkpoint=checkpoint(105))
    put(out, "ok-full-seq5", rebuild(q), expect="ok", summary=_summary(fresh, tmp, rebuild(q)),
        description="a full bundle 5 (basis 0) with ok-first's content, as 'bundle make --full' writes after bundles the receiver never got")
    put(out, "stale-older", first, expect="stale", requires=("ok-full-seq5",),
        description="the bytes of ok-first (seq 1, never applied) after the full bundle 5: older, superseded")
    q = split(first)
    q.header["created"] += 1
    put(out, "stale-same-seq-different-bundle", rebuild(q), expect="stale", requires=("ok-first",),
        description="another, validly signed bundle 1 from the same sender after ok-first (differs in 'created'): refused")
    put(out, "basis-missing", delta, expect="basis error",
        description="the bytes of ok-delta (seq 2, basis 1) on a side that has applied nothing: apply bundle 1 first")
    q = split(delta)
    q.header["basis"] = checkpoint(999)
    put(out, "basis-other-checkpoint", rebuild(q), expect="basis error", requires=("ok-first",),
        description="ok-delta re-signed with a basis checkpoint id other than the one bundle 1 led to")
    q = split(first)
    q.header["basis"] = checkpoint(999)
    put(out, "basis-zero-nonzero-id", rebuild(q), expect="format error",
        description="basis_seq 0 with a non-zero basis checkpoint id, validly signed")

    bad = bytearray(first)
    bad[1:8] = b"XBUNDL\n"
    put(out, "bad-magic", bytes(bad), expect="format error", description="magic is 89 'XBUNDL' 0A instead of 89 'WBUNDL' 0A")
    put(out, "version-3", rebuild(p1, version=3), expect="version error",
        description="format version 3 in the fixed header, validly signed")
    q = split(first)
    q.header["capabilities"] = q.header["capabilities"] + ["frobnicate-v9"]
    put(out, "unknown-mandatory-capability", rebuild(q), expect="version error",
        description="capabilities list names 'frobnicate-v9', unknown to v1 readers; hash and signature are valid")
    q = split(first)
    q.header["kind"] = "sideways"
    put(out, "unknown-kind", rebuild(q), expect="format error", description="header kind 'sideways', validly signed")
    q = split(first)
    q.header["ack"] = [1, b"\x01" * 15]
    put(out, "ack-short-checkpoint", rebuild(q), expect="format error",
        description="header ack [1, 15-byte checkpoint id]; ids are 16 bytes, validly signed")
    q = split(first)
    q.header["notices"] = ["merged", 7]
    put(out, "notices-not-strings", rebuild(q), expect="format error",
        description="header notices holds an integer; it must be a list of strings, validly signed")
    q = split(first)
    q.header["seq"] = 0
    put(out, "seq-zero", rebuild(q), expect="format error", description="seq 0 (basis_seq must be < seq), validly signed")
    q = split(first)
    del q.header["receiver"]
    put(out, "header-missing-field", rebuild(q), expect="format error", description="header without 'receiver', validly signed")

    hlen = HEADER_FIXED.unpack_from(first)[2]
    cuts = {
        "truncated-fixed-header": (10, "the first 10 bytes only: less than the 14-byte fixed header"),
        "truncated-in-header": (HEADER_FIXED.size + hlen - 3, "cut 3 bytes before the end of the header map"),
        "truncated-in-frames": (len(first) // 2, f"cut at half the file ({len(first) // 2} of {len(first)} bytes)"),
        "truncated-no-signature": (len(first) - SIGNATURE.size, "ends after the trailer: the signature block is missing"),
        "truncated-last-byte": (len(first) - 1, "the last byte (of the signature) is missing"),
    }
    for name, (n, why) in cuts.items():
        put(out, name, first[:n], expect="truncated", description=f"ok-first {why}")
    put(out, "missing-end-frame", rebuild(p1, end_frame=False), expect="truncated",
        description="no end frame before the trailer, validly signed: the body ends before its end frame")

    frame_at = HEADER_FIXED.size + hlen
    mlen, clen = FRAME_FIXED.unpack_from(first, frame_at)[1:3]
    bad = bytearray(first)
    bad[frame_at + FRAME_FIXED.size + mlen + clen // 2] ^= 0x01
    put(out, "flipped-body-byte", bytes(bad), expect="integrity error",
        description="one bit flipped in the middle of frame 0's zstd data: the body's SHA-256 differs from the trailer's")
    tool_at = first.index(b"wikibundle 0")
    bad = bytearray(first)
    bad[tool_at] ^= 0x20
    put(out, "flipped-header-byte", bytes(bad), expect="integrity error",
        description="one bit flipped in the header's 'tool' string: the header parses, the hash does not match")
    body_len = len(first) - container.TAIL_LEN
    bad = bytearray(first)
    bad[body_len + 12 + 5] ^= 0x01
    put(out, "flipped-trailer-hash", bytes(bad), expect="integrity error",
        description="one bit flipped in the trailer's SHA-256: hash checked before signature")
    bad = bytearray(first)
    bad[-10] ^= 0x01
    put(out, "flipped-signature", bytes(bad), expect="signature error",
        description="one bit flipped in the Ed25519 signature (key id intact, trusted)")
    q = split(first)
    q.header["signer"] = ALLY_KEY.key_id
    put(out, "signer-mismatch", rebuild(q), expect="signature error",
        description="header names the ally's key as signer, the signature block holds the sender's key (validly signed by it)")
    q = split(first)
    q.header["signer"] = MALLORY_KEY.key_id
    put(out, "untrusted-signer", rebuild(q, MALLORY_KEY), expect="untrusted key",
        description="well formed and validly signed, by a key the receiver does not trust (keys/mallory.pub)")
    q = split(first)
    q.header["receiver"] = OTHER_WIKI
    put(out, "wrong-receiver", rebuild(q), expect="wrong peer",
        description=f"validly signed by the trusted sender, but made for wiki {OTHER_WIKI}")
    q = split(first)
    q.header["signer"] = ALLY_KEY.key_id
    put(out, "impersonated-sender", rebuild(q, ALLY_KEY), expect="wrong peer",
        description="validly signed by a trusted key (ally) whose key line binds another wiki id than the header's sender")

    put(out, "header-len-over-limit", rebuild(p1, header_len=container.MAX_HEADER_LEN + 1), expect="limit error",
        description=f"fixed header declares header_len {container.MAX_HEADER_LEN + 1} > {container.MAX_HEADER_LEN}")
    deep: object = 0
    for _ in range(100):
        deep = [deep]
    q = split(first)
    q.header["source"] = deep
    put(out, "header-nesting-bomb", rebuild(q), expect="limit error",
        description="header value nested 100 arrays deep (limit 32), validly signed")
    fr = payload_frame(empty_payload())
    put(out, "frame-meta-over-limit",
        _with_frame_sizes(first, fr, meta_len=container.MAX_META_LEN + 1), expect="limit error",
        description=f"a frame whose fixed header declares meta_len {container.MAX_META_LEN + 1} > {container.MAX_META_LEN}, validly signed")

    zeros = bytes(100 << 20)
    bomb = wire.compress(zeros, level=1)
    put(out, "zstd-bomb-over-limit", assemble(header(counts={"frames": 1}), [[FRAME_RECORDS, fr[1], bomb, len(zeros)]], SENDER_KEY),
        expect="limit error",
        description=f"{len(bomb)} bytes of zstd that honestly declare 100 MiB (raw_len and zstd content size): over MAX_RAW_LEN 64 MiB, refused before decompression")
    small = wire.compress(bytes(32 << 20), level=1)
    put(out, "zstd-bomb-over-declared", assemble(header(counts={"frames": 1}), [[FRAME_RECORDS, fr[1], small, 1024]], SENDER_KEY),
        expect="format error",
        description=f"{len(small)} bytes of zstd whose frame header says 32 MiB while the container's raw_len says 1024: refused before decompression")
    raw = wire.packb(empty_payload())
    import zstandard  # only to write a frame without content size, which wire.py never does

    cobj = zstandard.ZstdCompressor(level=3, write_content_size=False).compressobj()
    streamed = cobj.compress(raw) + cobj.flush()
    put(out, "zstd-no-content-size", assemble(header(counts={"frames": 1}), [[FRAME_RECORDS, fr[1], streamed, len(raw)]], SENDER_KEY),
        expect="format error", description="a zstd frame that does not declare its content size")
    nested: object = None
    for _ in range(100):
        nested = [nested]
    put(out, "msgpack-nesting-bomb",
        assemble(header(counts={"frames": 1}), [payload_frame(empty_payload(site={"namespaces": nested}))], SENDER_KEY),
        expect="limit error",
        description="a payload (after zstd) nested 100 arrays deep; readers cap nesting at 32")

    put(out, "site-malformed",
        assemble(header(counts={"frames": 1}), [payload_frame(empty_payload(site={"namespaces": [[1, 2]]}))], SENDER_KEY),
        expect="format error",
        description="a payload whose site.namespaces entry has 2 elements instead of 3, validly signed")
    fr, counts = one_page_frame("../../etc/passwd\x00")
    put(out, "hostile-title", assemble(header(counts=counts), [fr], SENDER_KEY), expect="format error",
        description="a page titled '../../etc/passwd' + NUL: check_title refuses NUL (and other control characters, <>[]{}|#)")
    fr, counts = one_page_frame("Foo|bar")
    put(out, "hostile-title-pipe", assemble(header(counts=counts), [fr], SENDER_KEY), expect="format error",
        description="a page titled 'Foo|bar': '|' is not a legal MediaWiki title character")
    fr, counts = one_page_frame("../x")
    rel = assemble(header(counts=counts), [fr], SENDER_KEY)
    put(out, "title-relative-path", rel, expect="ok", summary=_summary(fresh, tmp, rel),
        description="a page titled '../x' is ACCEPTED by v1 readers (titles are never paths here); MediaWiki itself refuses it (title-invalid-relative)")

    q = split(delta)
    q.frames[0][1] = dict(q.frames[0][1], dict_sha256=hashlib.sha256(b"not the texts").digest())
    put(out, "dict-mismatch", rebuild(q), expect="content error", requires=("ok-first",),
        description="ok-delta with a dict_sha256 that does not match the receiver's base texts, validly signed")
    q = split(delta)
    q.frames[0][1] = dict(q.frames[0][1], dict=[q.frames[0][1]["dict"][0] + 999999])
    put(out, "dict-unknown-revision", rebuild(q), expect="content error", requires=("ok-first",),
        description="ok-delta naming a base revision the receiver does not hold, validly signed")
    q = split(delta)
    q.frames[0][1] = dict(q.frames[0][1], text_sha256=hashlib.sha256(b"other").digest())
    put(out, "text-mismatch", rebuild(q), expect="content error", requires=("ok-first",),
        description="ok-delta whose text_sha256 differs from the rebuilt texts', validly signed")
    q = split(first)
    q.header["counts"]["revisions"] += 1
    put(out, "counts-mismatch", rebuild(q), expect="format error",
        description="ok-first claiming one more revision than it carries: found after import, the whole apply is rolled back")
    put(out, "data-after-end-frame", rebuild(p1, after_end=b"\x00"), expect="format error",
        description="one byte between the end frame and the trailer, validly signed")
    q = split(first)
    q.frames[0][0] = 2
    put(out, "unknown-frame-type", rebuild(q), expect="format error", description="frame type 2, validly signed")

    # A delta that reaches past its base: bundle 2's payload with one copy count made larger.
    put(out, "delta-past-base", _delta_past_base(delta), expect="content error", requires=("ok-first",),
        description="ok-delta whose first copy operation copies more lines than its base has, validly signed")


# --- vectors that pin what BUNDLE.md once left to guesswork ----------------------------


def retouch(fr: list, change) -> list:
    """A records frame without a dictionary, its payload changed by ``change(payload)`` and recompressed."""
    payload = wire.unpackb(wire.decompress(fr[2], expected_size=fr[3], what="vector"), what="vector")
    change(payload)
    raw = wire.packb(payload)
    return [fr[0], fr[1], wire.compress(raw, level=19), len(raw)]


def nested(depth: int) -> object:
    """``depth`` arrays, one inside the other."""
    o: object = 0
    for _ in range(depth):
        o = [o]
    return o


def with_dict_id(zframe: bytes, dict_id: int = 5) -> bytes:
    """The zstd frame with a one-byte dictionary id in its header (writers omit it)."""
    b = bytearray(zframe)
    assert b[4] & 3 == 0, "the frame already has a dictionary id"
    b[4] |= 1  # Dictionary_ID_Flag = 1: one byte, right after the descriptor (single segment: no window byte)
    return bytes(b[:5]) + bytes([dict_id]) + bytes(b[5:])


def hidden_history_frame() -> tuple[list, dict]:
    """One redirect page, three revisions: a full text with a second slot, a revision whose
    text is hidden (``hs``), and a text built on the first one (``b`` = 0: the hidden row
    is not "the previous text") whose parent is the hidden one (``par`` ≠ 0)."""
    fb = FrameBuilder()
    page = Page(PageId(9), 0, "Pear (fruit)", redirect="Pear")
    t1, t3 = "#REDIRECT [[Pear]]\n", "#REDIRECT [[Pear]]\n[[Category:Redirects]]\n"
    slot = Slot("mediainfo", "wikibase-mediainfo", "application/json", '{"labels":{}}')
    r1 = Revision(RevId(90), PageId(9), CREATED - 3 * 86400, t1, user="Vector", user_id=1, comment="redirect", slots=(slot,))
    r2 = Revision(RevId(91), PageId(9), CREATED - 2 * 86400, None, user="Vector", user_id=1, comment=None,
                  parent_id=RevId(90), deleted=Deleted.TEXT | Deleted.COMMENT, sha1=text_sha1("a text hidden by an admin"))
    r3 = Revision(RevId(95), PageId(9), CREATED - 86400, t3, user="Vector", user_id=1, comment="category", parent_id=RevId(91))
    fb.add_revision(page, r1, None, None)
    fb.add_revision(page, r2, None, None)
    fb.add_revision(page, r3, 90, t1)
    meta, body, raw_len = fb.build()
    assert fb.cols["b"] == [-1, -1, 0] and fb.cols["par"] == [None, 1, 4], fb.cols
    return [FRAME_RECORDS, meta, body, raw_len], {"pages": 1, "revisions": 3, "frames": 1,
                                                  "text_bytes": len(t1.encode()) + len(t3.encode())}


def spec_vectors(out: str, tmp: str, first: bytes, fresh: Side) -> None:
    """Records frames and headers: one vector for each choice that decides a verdict."""
    fr, counts = hidden_history_frame()
    data = assemble(header(counts=counts), [fr], SENDER_KEY)
    put(out, "ok-hidden-slots-redirect", data, expect="ok", summary=_summary(fresh, tmp, data),
        description="a redirect page; rows: a text with a second slot (sl), a hidden text (hs, its sha1 only),"
        " a text on base 0 = the first row's text (a hidden row is never the previous text), parent the hidden row (par 4)")

    fb = FrameBuilder()  # the hidden row first, then a full text (b = -1) turned into b = 0
    page = Page(PageId(9), 0, "Pear (fruit)")
    fb.add_revision(page, Revision(RevId(91), PageId(9), CREATED - 2 * 86400, None, user="Vector", user_id=1,
                                   deleted=Deleted.TEXT, sha1=text_sha1("a text hidden by an admin")), None, None)
    fb.add_revision(page, Revision(RevId(95), PageId(9), CREATED - 86400, "Pears.\n", user="Vector", user_id=1), None, None)
    meta, body, raw_len = fb.build()
    fr2 = retouch([FRAME_RECORDS, meta, body, raw_len], lambda pl: pl["revs"]["b"].__setitem__(1, 0))
    put(out, "hidden-row-not-previous",
        assemble(header(counts={"pages": 1, "revisions": 2, "frames": 1, "text_bytes": 7}), [fr2], SENDER_KEY), expect="format error",
        description="a hidden row (hs), then a row of the same page with b = 0 whose operations build the text from an empty base:"
        " a hidden row is never the previous text, so the base is missing, validly signed")

    fr, counts = one_page_frame("Base")
    put(out, "base-below-minus-one", assemble(header(counts=counts), [retouch(fr, lambda pl: pl["revs"]["b"].__setitem__(0, -2))],
                                              SENDER_KEY), expect="format error",
        description="a row with base code b = -2 (only -1, 0 and 1..len(dict) exist), validly signed")

    def negative_n(pl: dict) -> None:
        cols = pl["revs"]
        for k in cols:  # a second row, on the same page, with n = +3 so that the sum of n still matches
            if k in ("pg", "id", "par", "ts", "u", "cm", "fl", "mf", "b"):
                cols[k].append(cols[k][0] if k not in ("id", "ts", "par") else (1 if k != "par" else None))
        cols["b"][1] = -1
        cols["n"] = [-1, cols["n"][0] + 2]  # -1 + 3 = 2 = len(ins)
        cols["sc"] += [0, 0]
        cols["ins"] += [""]
    fr, counts = one_page_frame("Negative")
    fr = retouch(fr, negative_n)
    fr[1] = dict(fr[1], revisions=2)
    put(out, "negative-op-count", assemble(header(counts=dict(counts, revisions=2)), [fr], SENDER_KEY), expect="format error",
        description="a row with n = -1 (the column sums still match len(ins)): refused, validly signed")

    fr, counts = one_page_frame("Float")
    put(out, "float-in-column", assemble(header(counts=counts), [retouch(fr, lambda pl: pl["revs"]["ts"].__setitem__(0, 1.5e9))],
                                         SENDER_KEY), expect="format error",
        description="a timestamp delta written as a msgpack float: 'int' never accepts a float, validly signed")

    fr, counts = one_page_frame("No hs")
    put(out, "payload-missing-column", assemble(header(counts=counts), [retouch(fr, lambda pl: pl["revs"].pop("hs"))],
                                                SENDER_KEY), expect="format error",
        description="a payload whose revs map has no 'hs' column: all fourteen columns are required, even empty, validly signed")

    fr, counts = one_page_frame("Twice")

    def page_twice(pl: dict) -> None:
        pl["pages"].append(list(pl["pages"][0]))
    put(out, "page-twice-in-frame", assemble(header(counts=counts), [retouch(fr, page_twice)], SENDER_KEY), expect="ok",
        summary=_summary(fresh, tmp, assemble(header(counts=counts), [retouch(fr, page_twice)], SENDER_KEY)),
        description="a frame whose pages array names page 7 twice: v1 readers accept it, apply both records in order and count the page once")

    q = split(first)
    del q.header["kind"]
    put(out, "header-missing-kind", rebuild(q), expect="format error",
        description="header without 'kind': it is required (there is no default), validly signed")
    q = split(first)
    q.header["sender"] = q.header["sender"].upper()
    put(out, "header-uppercase-sender", rebuild(q), expect="format error",
        description="header sender in upper-case hex: wiki ids are 32 lower-case hex digits, validly signed")
    q = split(first)
    q.header["capabilities"] = []
    data = rebuild(q)
    put(out, "ok-no-capabilities", data, expect="ok", summary=_summary(fresh, tmp, data),
        description="ok-first with an empty capabilities list: records frames and character deltas are v1 itself,"
        " a v1 reader reads them whether or not records-v1 and char-delta-v1 are listed")
    put(out, "frame-header-cut-short", rebuild(split(first), end_frame=False, after_end=bytes([FRAME_RECORDS, 0, 0, 0, 1])),
        expect="truncated", description="the body ends 5 bytes into a frame's 13-byte fixed part (no end frame), validly signed")

    fr, counts = one_page_frame("Dictionary id")
    put(out, "zstd-dict-id", assemble(header(counts=counts), [[fr[0], fr[1], with_dict_id(fr[2]), fr[3]]], SENDER_KEY),
        expect="format error", description="a zstd frame whose header names dictionary id 5 (writers omit it): refused, validly signed")
    fr, counts = one_page_frame("No checksum")
    raw = wire.decompress(fr[2], expected_size=fr[3], what="vector")
    import zstandard

    plain = zstandard.ZstdCompressor(level=19, write_checksum=False, write_content_size=True).compress(raw)
    data = assemble(header(counts=counts), [[fr[0], fr[1], plain, fr[3]]], SENDER_KEY)
    put(out, "ok-zstd-no-checksum", data, expect="ok", summary=_summary(fresh, tmp, data),
        description="a zstd frame without the content checksum (writers set it; readers do not require it)")
    fr, counts = one_page_frame("Corrupt")
    bad = bytearray(fr[2])
    bad[len(bad) // 2] ^= 0xFF
    put(out, "zstd-corrupt", assemble(header(counts=counts), [[fr[0], fr[1], bytes(bad), fr[3]]], SENDER_KEY),
        expect="format error", description="one byte of a frame's zstd data changed before signing: the zstd checksum or decoding fails")

    # The nesting boundary: the payload map is depth 0, its values depth 1.
    for depth, expect in ((32, "ok"), (33, "limit error")):
        fr, counts = one_page_frame(f"Depth {depth}")
        fr = retouch(fr, lambda pl: pl.__setitem__("x-unknown", nested(depth)))
        fr[1] = dict(fr[1], **{"x-unknown": 1})
        data = assemble(header(counts=counts, **{"x-unknown": "ignored"}), [fr], SENDER_KEY)
        put(out, f"nesting-depth-{depth}", data, expect=expect, summary=_summary(fresh, tmp, data) if expect == "ok" else None,
            description=f"an unknown payload key whose value is {depth} arrays deep: the innermost at depth {depth}"
            + (" (the limit: accepted; unknown keys in header, meta and payload are ignored)" if expect == "ok" else " (over the limit of 32)"))


def files_spec_vectors(out: str, tmp: str, first: bytes, second: bytes, fresh: Side) -> None:
    """Files and blob frames: a blob in several pieces, a piece out of place, a delta whose base is not held."""
    p = split(first)
    at = next(i for i, fr in enumerate(p.frames) if fr[0] == container.FRAME_BLOB and fr[1]["off"] == 0 and fr[3] > 6000)
    sha, data = p.frames[at][1]["sha1"], p.frames[at][2]

    def pieces(offsets: list[int], cuts: list[int]) -> bytes:
        frames = [list(fr) for fr in p.frames]
        ends = cuts[1:] + [len(data)]
        frames[at : at + 1] = [[container.FRAME_BLOB, {"sha1": sha, "off": off}, data[a:b], b - a]
                               for off, a, b in zip(offsets, cuts, ends)]
        return rebuild(Parts(p.version, p.header, frames), key=ALLY_KEY)

    ok = pieces([0, 3000, 6000], [0, 3000, 6000])
    put(out, "ok-files-blob-in-pieces", ok, expect="ok", summary=_summary(fresh, tmp, ok),
        description="ok-files-first with the raw JPEG's 7881 bytes in three blob frames (off 0, 3000, 6000), as a writer cuts a large blob")
    put(out, "files-blob-piece-gap", pieces([0, 3001, 6000], [0, 3000, 6000]), expect="format error",
        description="ok-files-first with the JPEG in three blob frames, the second claiming off 3001 after 3000 bytes: a lost or reordered piece, validly signed")

    q = split(second)
    files_at = next(i for i, fr in enumerate(q.frames) if fr[0] == container.FRAME_FILES)
    fr = q.frames[files_at]
    payload = wire.unpackb(wire.decompress(fr[2], expected_size=fr[3], what="vector"), what="vector")
    payload["blobs"][0][3] = hashlib.sha1(b"a file the receiver never had").digest()
    raw = wire.packb(payload)
    q.frames[files_at] = [fr[0], fr[1], wire.compress(raw, level=19), len(raw)]
    put(out, "files-delta-base-missing", rebuild(q, key=ALLY_KEY), expect="content error", requires=("ok-files-first",),
        description="ok-files-delta whose delta blob names a base sha1 the receiver does not hold: refused before decoding, nothing stored")


def more_spec_vectors(out: str, tmp: str, first: bytes, fresh: Side, recv: Side) -> None:
    """A repeated map key, a dictionary naming one revision twice, a new page coded against
    other pages' revisions, a return with ack and notices."""
    h = split(first).header
    import msgpack

    raw = b"\xde" + (len(h) + 1).to_bytes(2, "big") + wire.packb("kind") + wire.packb("sideways")
    raw += b"".join(wire.packb(k) + wire.packb(v) for k, v in h.items())
    assert msgpack.unpackb(raw) == h
    data = assemble(raw, split(first).frames, SENDER_KEY)
    put(out, "header-duplicate-key", data, expect="ok", summary=_summary(fresh, tmp, data),
        description="ok-first whose header map holds 'kind' twice, first 'sideways', then 'update': the last occurrence counts")

    pages, _ = dump_pages()
    base = next(r for ph in pages for r in ph.revisions if r.rev_id == 185185)
    text = base.text + "\n[[Category:Pears]]\n"
    fb = FrameBuilder()
    fb.add_revision(Page(PageId(24278), 0, "Pear"), Revision(RevId(999999001), PageId(24278), CREATED - 86400, text,
                                                              user="Vector", user_id=1, comment="category", parent_id=RevId(185185)),
                    185185, base.text)
    meta, _body, _raw_len = fb.build()
    assert meta["dict"] == [185185] and fb.cols["b"] == [1]
    twice = base.text.encode() * 2
    payload = {"site": None, "pages": fb.pages, "users": [list(u) for u in fb.users], "models": [list(m) for m in fb.models],
               "revs": dict(fb.cols, b=[2], par=[0]), "moves": [], "deletes": [], "updates": []}
    rawp = wire.packb(payload)
    meta = dict(meta, dict=[185185, 185185], dict_sha256=hashlib.sha256(twice).digest())
    fr = [FRAME_RECORDS, meta, wire.compress(rawp, level=19, dictionary=twice), len(rawp)]
    data = assemble(header(seq=2, basis_seq=1, basis=checkpoint(101), counts={"pages": 1, "revisions": 1, "frames": 1, "text_bytes": len(text.encode())}),
                    [fr], SENDER_KEY)
    put(out, "dict-same-revision-twice", data, expect="ok", requires=("ok-first",), summary=_summary(recv, tmp, data),
        description="a frame whose dict names revision 185185 twice (the dictionary holds its text twice); the row builds on b = 2, the second copy")

    other = next(r for ph in pages for r in ph.revisions if r.rev_id == 237382916)
    fr_text = base.text.replace("pear", "poire").replace("Pear", "Poire")
    fb = FrameBuilder()
    fb.add_context(other.rev_id, other.text)
    fb.add_revision(Page(PageId(999999002), 0, "Pear/fr"), Revision(RevId(999999002), PageId(999999002), CREATED - 86400, fr_text,
                                                                     user="Vector", user_id=1, comment="traduction"),
                    185185, base.text)
    meta, body, raw_len = fb.build()
    assert meta["dict"] == [237382916, 185185] and fb.cols["b"] == [2]
    data = assemble(header(seq=2, basis_seq=1, basis=checkpoint(101),
                           counts={"pages": 1, "revisions": 1, "frames": 1, "text_bytes": len(fr_text.encode())}),
                    [[FRAME_RECORDS, meta, body, raw_len]], SENDER_KEY)
    put(out, "ok-cross-page-base", data, expect="ok", requires=("ok-first",), summary=_summary(recv, tmp, data),
        description="a new page Pear/fr whose text is a delta against revision 185185 of another page, Pear (b = 2), in a frame "
        "whose dict also names revision 237382916 of a third page, which no row uses (context only)")

    ret = assemble(header(kind="return", ack=[3, checkpoint(7)], notices=["Pear: merged the offline edits", "Talk:Pear: edit conflict"]),
                   [], SENDER_KEY)
    put(out, "ok-return-ack-notices", ret, expect="ok", summary=_summary(fresh, tmp, ret),
        description="a return bundle with no frames whose ack names a bundle 3 this side never made (ignored: no error) and two notices (shown)")


def ppmd_vectors(out: str, tmp: str, pages, siteinfo, first: bytes, m1: str, recv: Side, fresh: Side) -> None:
    """Frames coded by ``ppmd7-primed`` (capability ``ppmd7-primed-v1``, BUNDLE.md §Frame meta, Coder)."""
    from bundler import coder

    # ok-ppmd-delta: ok-delta's content, made by the real writer with the PPMd coder: a
    # second sender with the same wiki id and key makes ok-first again (the same bytes),
    # then bundle 2 since the receiver's manifest 1.
    again = fixed_side(os.path.join(tmp, "sender-ppmd"), SENDER_WIKI, SEEDS["sender"], "sender", [RECEIVER_PUB])
    assert make(again, os.path.join(tmp, "b1-again.bundle"), earlier(pages, {"Pear": 2, "Çullu, Agdam": 1, "Talk:Çullu, Agdam": 1}),
                siteinfo, 1) == first
    b2 = os.path.join(tmp, "b2-ppmd.bundle")
    with mock.patch.dict(os.environ, {"WIKIBUNDLE_CODER": "ppmd"}):
        delta = make(again, b2, pages, siteinfo, 2, since=m1)
    p = split(delta)
    assert p.frames[0][1]["coder"] == coder.CODER and container.PPMD_CAPABILITY in p.header["capabilities"]
    put(out, "ok-ppmd-delta", delta, expect="ok", requires=("ok-first",), summary=_summary(recv, tmp, delta),
        description="ok-delta's content with its frame coded ppmd7-primed (order 32): a PPMd var.H model primed with the three base texts")

    # ok-ppmd-no-dict: a frame with an empty dictionary (the prefix P is empty).
    fr, counts = one_page_frame("Pear (PPMd)", "A pear is a fruit.\n" * 20, coder_choice="ppmd")
    assert fr[1]["coder"] == coder.CODER and fr[1]["dict"] == []
    data = assemble(header(counts=counts, capabilities=[*container.WRITTEN_CAPABILITIES, container.PPMD_CAPABILITY]), [fr], SENDER_KEY)
    put(out, "ok-ppmd-no-dict", data, expect="ok", summary=_summary(fresh, tmp, data),
        description="one page, one full text, coded ppmd7-primed with an empty dictionary: the body is the whole PPMd stream")

    def variant(name: str, expect: str, description: str, *, meta: dict | None = None, body=None, caps=None) -> None:
        q = split(delta)
        if meta is not None:
            q.frames[0][1] = dict(q.frames[0][1], **meta)
        if body is not None:
            q.frames[0][2] = body(q.frames[0][2])
        if caps is not None:
            q.header["capabilities"] = caps
        put(out, name, rebuild(q), expect=expect, requires=("ok-first",), description=description)

    variant("ppmd-without-capability", "format error", caps=list(container.WRITTEN_CAPABILITIES),
            description="ok-ppmd-delta whose header does not list ppmd7-primed-v1, validly signed: a frame that names a coder needs it")
    variant("ppmd-unknown-coder", "format error", meta={"coder": "ppmd8-primed"},
            description="ok-ppmd-delta whose frame meta names coder 'ppmd8-primed', which no capability defines")
    variant("ppmd-order-out-of-range", "format error", meta={"order": 65},
            description="ok-ppmd-delta claiming PPMd order 65 (the range is 2-64): refused before any model is built")
    variant("ppmd-mem-over-limit", "limit error", meta={"mem": coder.MAX_MEM + 1},
            description="ok-ppmd-delta claiming a PPMd model of 256 MiB + 1 byte: refused before any model is allocated")
    variant("ppmd-mem-not-int", "format error", meta={"mem": float(p.frames[0][1]["mem"])},
            description="ok-ppmd-delta whose meta mem is a float holding the right value: ints only")
    variant("ppmd-wrong-order", "format error", meta={"order": 2},
            description="ok-ppmd-delta claiming order 2 (it was coded with 32): the stream decodes to other bytes, refused"
                        " (a claim that codes to the same stream, such as 31 for this small frame, is not wrong)")
    variant("ppmd-wrong-mem", "format error", meta={"mem": coder.MIN_MEM},
            description=f"ok-ppmd-delta claiming a 2 KiB model (coded with {p.frames[0][1]['mem'] >> 20} MiB): the model restarts at other points, refused")
    variant("ppmd-body-cut", "format error", body=lambda b: b[:-1],
            description="ok-ppmd-delta with the last byte of its PPMd body removed (comp_len adjusted), validly signed")
    variant("ppmd-byte-appended", "format error", body=lambda b: b + b"\x00",
            description="ok-ppmd-delta with a zero byte after its PPMd body: the body must be exactly the encoder's output")
    variant("ppmd-flipped-byte", "format error", body=lambda b: b[:10] + bytes([b[10] ^ 0x40]) + b[11:],
            description="ok-ppmd-delta with one bit of its PPMd body flipped, validly signed")
    variant("ppmd-dict-mismatch", "content error", meta={"dict_sha256": hashlib.sha256(b"not the texts").digest()},
            description="ok-ppmd-delta with a dict_sha256 that does not match the receiver's base texts: found before decoding")


SLOT_SEEN = '{"labels":{}}'  # rev 90's mediainfo slot in ok-hidden-slots-redirect


def slot_frame(base_id: int, base_text: str, base_slot_text: str, *, edit=None, key: str = "labels") -> tuple[list, dict]:
    """Page 9 of ok-hidden-slots-redirect gains two revisions whose ``mediainfo`` slots travel as
    deltas (capability slot-delta-v1): rev 96 on ``base_id`` (b = k: the receiver's slot of that
    revision, which the sender believes is ``base_slot_text``), rev 97 on rev 96 (b = 0).
    ``edit(fb)`` changes the frame builder's columns before the frame is built (tamper vectors)."""
    fb = FrameBuilder(slot_deltas=True)
    page = Page(PageId(9), 0, "Pear (fruit)", redirect="Pear")
    fb.known_pages.add(9)
    model, fmt = "wikibase-mediainfo", "application/json"
    en = '{"%s":{"en":{"language":"en","value":"Pear (fruit)"}}}' % key
    fr = '{"%s":{"en":{"language":"en","value":"Pear (fruit)"},"fr":{"language":"fr","value":"Poire (fruit)"}}}' % key
    t96, t97 = base_text + "[[Category:Pears]]\n", base_text + "[[Category:Pears]]\n[[Category:Fruit]]\n"
    r96 = Revision(RevId(96), PageId(9), CREATED - 3600, t96, user="Vector", user_id=1, comment="label en", parent_id=RevId(base_id),
                   slots=(Slot("mediainfo", model, fmt, en),))
    r97 = Revision(RevId(97), PageId(9), CREATED - 60, t97, user="Vector", user_id=1, comment="label fr", parent_id=RevId(96),
                   slots=(Slot("mediainfo", model, fmt, fr),))
    fb.add_revision(page, r96, base_id, base_text, None, (Slot("mediainfo", model, fmt, base_slot_text),))
    fb.add_revision(page, r97, 96, t96, None, r96.slots)
    assert fb.used_slot_deltas and all(isinstance(e[3], list) for _row, ss in fb.cols["sl"] for e in ss), fb.cols["sl"]
    if edit is not None:
        edit(fb)
    meta, body, raw_len = fb.build()
    return [FRAME_RECORDS, meta, body, raw_len], {"pages": 1, "revisions": 2, "frames": 1,
                                                  "text_bytes": len(t96.encode()) + len(t97.encode())}


def slot_vectors(out: str, tmp: str) -> None:
    """Slots as deltas (capability ``slot-delta-v1``, BUNDLE.md §Payload, column ``sl``), on the
    receiver of ok-hidden-slots-redirect (rev 90 holds a mediainfo slot, rev 95 none)."""
    recv = fixed_side(os.path.join(tmp, "slots-receiver"), RECEIVER_WIKI, SEEDS["receiver"], "slots", [SENDER_PUB, ALLY_PUB])
    fr, counts = hidden_history_frame()
    apply_bundle(recv, _write(tmp, "hidden-slots", assemble(header(counts=counts), [fr], SENDER_KEY)))
    t1 = "#REDIRECT [[Pear]]\n"
    caps = [*container.WRITTEN_CAPABILITIES, container.SLOT_DELTA_CAPABILITY]

    def bundle(frame: tuple[list, dict], capabilities=caps) -> bytes:
        return assemble(header(seq=2, basis_seq=1, basis=checkpoint(101), counts=frame[1], capabilities=capabilities),
                        [frame[0]], SENDER_KEY)

    ok = bundle(slot_frame(90, t1, SLOT_SEEN))
    put(out, "ok-slot-delta", ok, expect="ok", requires=("ok-hidden-slots-redirect",), summary=_summary(recv, tmp, ok),
        description="two revisions of page 9 whose mediainfo slots travel as deltas (slot-delta-v1): rev 96 on rev 90's"
        " slot (b = 1, dict [90]: the receiver's), rev 97 on rev 96's (b = 0); model and format nil: the base slot's")
    put(out, "slot-delta-without-capability", bundle(slot_frame(90, t1, SLOT_SEEN), list(container.WRITTEN_CAPABILITIES)),
        expect="format error", requires=("ok-hidden-slots-redirect",),
        description="ok-slot-delta whose header does not list slot-delta-v1, validly signed: a slot delta needs it")

    def no_base(fb: FrameBuilder) -> None:
        # rev 96's text rebuilt from nothing (b = -1, one insert), its slot still a delta: no base revision
        fb.cols["b"][0], fb.cols["par"][0] = -1, 96 - 90
        fb.cols["sc"][:2 * fb.cols["n"][0]] = [0, 0]
        fb.cols["ins"][:fb.cols["n"][0]] = [t1 + "[[Category:Pears]]\n"]
        fb.cols["n"][0] = 1

    put(out, "slot-delta-no-base", bundle(slot_frame(90, t1, SLOT_SEEN, edit=no_base)), expect="format error",
        requires=("ok-hidden-slots-redirect",),
        description="ok-slot-delta whose first row has b = -1 (a full text) but a delta slot: no base revision, validly signed")
    t3 = "#REDIRECT [[Pear]]\n[[Category:Redirects]]\n"
    put(out, "slot-delta-base-lacks-slot", bundle(slot_frame(95, t3, SLOT_SEEN)), expect="content error",
        requires=("ok-hidden-slots-redirect",),
        description="a slot delta on revision 95, which the receiver holds without a mediainfo slot: named, nothing changes")
    put(out, "slot-delta-wrong-base", bundle(slot_frame(90, t1, '{"lebals":{}}', key="lebals")), expect="content error",
        requires=("ok-hidden-slots-redirect",),
        description="slot deltas made against a rev 90 slot '{\"lebals\":{}}' while the receiver holds '{\"labels\":{}}'"
        " (same length, the copied part differs): the rebuilt slots differ, so text_sha256 does not match; nothing changes")


def parts_vectors(out: str, tmp: str, bundle: bytes) -> None:
    """ok-files-first cut into parts of 4096 bytes (BUNDLE.md §Parts): NAME.part1, NAME.part2, … as given to a reader."""
    from bundler import parts

    path = os.path.join(tmp, "parts.bundle")
    with open(path, "wb") as f:
        f.write(bundle)
    pieces = []
    for name in parts.split_bundle(path, parts.MIN_PART_SIZE):
        with open(name, "rb") as f:
            pieces.append(f.read())
    assert len(pieces) == 3

    def write(name: str, files: dict[str, bytes]) -> None:
        for suffix, data in files.items():
            with open(os.path.join(out, f"{name}.{suffix}"), "wb") as f:
                f.write(data)

    write("parts-ok", {"part1": pieces[2], "part2": pieces[0], "part3": pieces[1], "part4": pieces[0]})
    put(out, "parts-ok", None, ext="part1", expect="ok", extra={"bundle": "ok-files-first"},
        description="ok-files-first in its three parts, given in another order and part 1 twice: reassembled, the bytes of ok-files-first")
    write("parts-missing", {"part1": pieces[0], "part2": pieces[2]})
    put(out, "parts-missing", None, ext="part1", expect="integrity error", extra={"bundle": "ok-files-first", "names": "missing: 2"},
        description="parts 1 and 3 of ok-files-first's three: part 2 is named missing, nothing is written")
    bad = bytearray(pieces[1])
    bad[len(bad) // 2] ^= 0x01
    write("parts-damaged", {"part1": pieces[0], "part2": bytes(bad), "part3": pieces[2]})
    put(out, "parts-damaged", None, ext="part1", expect="integrity error", extra={"bundle": "ok-files-first", "names": "damaged: 2"},
        description="the three parts of ok-files-first, one bit of part 2's payload flipped: its sha256 fails, part 2 is named damaged")


def _summary(side: Side, tmp: str, data: bytes) -> list[str]:
    path = os.path.join(tmp, "summary.bundle")
    with open(path, "wb") as f:
        f.write(data)
    return summarize(side, path)


def _with_frame_sizes(first: bytes, fr: list, *, meta_len: int) -> bytes:
    """ok-first with an extra frame whose fixed header lies about meta_len."""
    p = split(first)
    mb = wire.packb(fr[1])
    raw_frame = FRAME_FIXED.pack(FRAME_RECORDS, meta_len, len(fr[2]), fr[3]) + mb + fr[2]
    hb = wire.packb(p.header)
    body = bytearray(HEADER_FIXED.pack(MAGIC, VERSION, len(hb)) + hb)
    for ftype, meta, comp, raw_len in p.frames:
        m = wire.packb(meta)
        body += FRAME_FIXED.pack(ftype, len(m), len(comp), raw_len) + m + comp
    body += raw_frame + FRAME_FIXED.pack(FRAME_END, 0, 0, 0)
    trailer = TRAILER.pack(TRAILER_MAGIC, len(body), hashlib.sha256(body).digest())
    return bytes(body) + trailer + SIGNATURE.pack(bytes.fromhex(SENDER_KEY.key_id), SENDER_KEY.sign(SIGNATURE_CONTEXT + trailer))


def _delta_past_base(delta: bytes) -> bytes:
    # Decompress with the dictionary the receiver would build after ok-first; the
    # generator knows those texts from the dumps.
    q = split(delta)
    meta = q.frames[0][1]
    pages, _ = dump_pages()
    texts = {r.rev_id: r.text for ph in pages for r in ph.revisions}
    dictionary = b"".join(texts[r].encode() for r in meta["dict"])
    payload = wire.unpackb(wire.decompress(q.frames[0][2], expected_size=q.frames[0][3], dictionary=dictionary, what="x"), what="x")
    sc = payload["revs"]["sc"]
    sc[1] += 1000  # first op's copy count
    raw = wire.packb(payload)
    q.frames[0][2] = wire.compress(raw, level=19, dictionary=dictionary)
    q.frames[0][3] = len(raw)
    return rebuild(q)


def manifest_vectors(out: str, ok: bytes) -> None:
    fixed, sig = manifest.FIXED, manifest.SIG
    body = ok[fixed.size : len(ok) - sig.size]
    m = wire.unpackb(body, what="manifest")

    def signed(head: bytes, b: bytes, key: SecretKey = RECEIVER_KEY) -> bytes:
        s = key.sign(manifest.SIGNATURE_CONTEXT + head + b)
        return head + b + sig.pack(bytes.fromhex(key.key_id), s)

    def mk(name, data, expect, description, **kw):
        put(out, name, data, ext="wbm", expect=expect, description=description, side=SENDER_WIKI,
            trusts="keys/receiver.pub", extra={"sent": SENT}, **kw)

    mk("manifest-bad-magic", b"\x89WBMANX\n" + ok[8:], "format error", "magic 89 'WBMANX' 0A")
    mk("manifest-version-2", signed(fixed.pack(manifest.MAGIC, 2, len(body)), body), "version error", "version 2, validly signed")
    mk("manifest-truncated", ok[:-1], "truncated", "the last byte of the signature is missing")
    mk("manifest-extra-byte", ok + b"\x00", "truncated", "one byte after the signature")
    bad = bytearray(ok)
    bad[-5] ^= 1
    mk("manifest-flipped-signature", bytes(bad), "signature error", "one bit flipped in the signature")
    bad = bytearray(ok)
    bad[fixed.size + 3] ^= 1
    mk("manifest-flipped-body-byte", bytes(bad), "signature error", "one bit flipped in the body: manifests have no separate hash, the signature fails")
    mk("manifest-untrusted", signed(ok[: fixed.size], body, MALLORY_KEY), "untrusted key", "validly signed by a key the reader does not trust")
    b2 = wire.packb(dict(m, wiki=OTHER_WIKI))
    mk("manifest-wrong-wiki", signed(fixed.pack(manifest.MAGIC, 1, len(b2)), b2), "wrong peer",
       "validly signed by the receiver's key, but speaks for another wiki")
    b3 = wire.packb(dict(m, peer=OTHER_WIKI))
    mk("manifest-other-peer", signed(fixed.pack(manifest.MAGIC, 1, len(b3)), b3), "wrong peer",
       "validly signed by the receiver, reports a checkpoint of another sender (apply_manifest refuses it)")
    b4 = wire.packb(dict(m, checkpoint=checkpoint(999)))
    mk("manifest-unknown-checkpoint", signed(fixed.pack(manifest.MAGIC, 1, len(b4)), b4), "basis error",
       "validly signed, names checkpoint 1 with an id the sender never made")
    b6 = wire.packb(dict(m, wiki=RECEIVER_WIKI.upper()))
    b5 = wire.packb(dict(m, seq="1"))
    mk("manifest-bad-field", signed(fixed.pack(manifest.MAGIC, 1, len(b5)), b5), "format error", "seq is a string, validly signed")
    mk("manifest-uppercase-wiki", signed(fixed.pack(manifest.MAGIC, 1, len(b6)), b6), "wrong peer",
       "validly signed by the receiver, its wiki id in upper-case hex: compared with the key's wiki id, not parsed")
    # files_held (MANIFEST.md §Held files): the sha1s of "" and of "abc".
    held = ["da39a3ee5e6b4b0d3255bfef95601890afd80709", "a9993e364706816aba3e25717850c26c9cd0d89d"]
    b7 = wire.packb(dict(m, files_held=manifest.pack_sha1s(held)))
    mk("manifest-files-held", signed(fixed.pack(manifest.MAGIC, 1, len(b7)), b7), "ok",
       "the receiver reports two file contents it holds: the sender records them and never sends their bytes",
       summary=[f"manifest wiki={RECEIVER_WIKI} peer={SENDER_WIKI} seq=1 checkpoint={checkpoint(101).hex()}",
                "files_held " + " ".join(sorted(held))])
    b8 = wire.packb(dict(m, files_held=b"".join(bytes.fromhex(h) for h in reversed(sorted(held)))))
    mk("manifest-files-held-unsorted", signed(fixed.pack(manifest.MAGIC, 1, len(b8)), b8), "format error",
       "files_held lists its two sha1s in descending order, validly signed: a reader cannot trust it")


# --- the compact form (BUNDLE.md §Compact form, version 2) ---------------------------------


def split_compact(data: bytes) -> Parts:
    """Take a well-formed compact bundle apart (trusted input: our own ok vectors)."""
    at = container.COMPACT_FIXED.size
    hlen, at = container.read_uvarint(data, at, "fixed")
    _flen, at = container.read_uvarint(data, at, "fixed")
    header = wire.unpackb(data[at : at + hlen], what="header", int_keys=True)
    at += hlen
    frames = []
    while data[at] != FRAME_END:
        ftype = data[at]
        mlen, at = container.read_uvarint(data, at + 1, "frame")
        clen, at = container.read_uvarint(data, at, "frame")
        rlen, at = container.read_uvarint(data, at, "frame")
        meta = wire.unpackb(data[at : at + mlen], what="meta", int_keys=ftype == container.FRAME_RECORDS)
        frames.append([ftype, meta, data[at + mlen : at + mlen + clen], rlen])
        at += mlen + clen
    return Parts(container.VERSION_COMPACT, header, frames)


def assemble_compact(header: dict | bytes, frames: list, key: SecretKey = SENDER_KEY, *, header_len: int | None = None,
                     frames_len_delta: int = 0, end_frame: bytes = bytes([FRAME_END]), fixed_tail: bytes = b"") -> bytes:
    """Header || Frame* || EndFrame || Check || KeyHint || Signature in the compact form, signed with ``key``."""
    uv = container.uvarint
    hb = header if isinstance(header, bytes) else wire.packb(header)
    framed = bytearray()
    for ftype, meta, comp, raw_len in frames:
        mb = meta if isinstance(meta, bytes) else wire.packb(meta)
        framed += bytes([ftype]) + (fixed_tail or uv(len(mb)) + uv(len(comp)) + uv(raw_len)) + mb + comp
    framed += end_frame
    body = (container.COMPACT_FIXED.pack(MAGIC, container.VERSION_COMPACT) + uv(len(hb) if header_len is None else header_len)
            + uv(len(framed) + frames_len_delta) + hb + framed)
    return body + container.tail(hashlib.sha256(body).digest(), len(body), key, True)


def with_fields(header: list, change: dict) -> list:
    """A compact header with fields replaced: numbers 0-5 in the array, the others in its optional map."""
    n = compact.HEADER_CORE
    core, more = list(header[:n]), dict(header[n]) if len(header) > n else {}
    for k, v in change.items():
        if isinstance(k, int) and k < n:
            core[k] = v
        else:
            more[k] = v
    return core + [more] if more else core


def compact_vectors(out: str, tmp: str, pages, siteinfo) -> None:
    """ok-first, ok-delta and ok-moves again, written compact, and a failure of each compact check."""
    os.makedirs(tmp)
    sender = fixed_side(os.path.join(tmp, "sender"), SENDER_WIKI, SEEDS["sender"], "sender", [RECEIVER_PUB])
    recv = fixed_side(os.path.join(tmp, "receiver"), RECEIVER_WIKI, SEEDS["receiver"], "receiver", [SENDER_PUB, ALLY_PUB])
    with mock.patch.object(container, "WRITE_VERSION", container.VERSION_COMPACT):
        first, _delta, _m1 = ok_series(out, tmp, sender, recv, pages, siteinfo, "compact-", (
            "ok-first's content in the compact form (version 2): the same header fields, frames and records",
            "ok-delta's content in the compact form: texts as deltas against bundle 1's, 4- and 8-byte frame checks",
            "ok-moves's content in the compact form: a move, a deletion, an update"))
        compact_ppmd_vectors(out, tmp, pages, siteinfo, first)
    p = split_compact(first)
    assert assemble_compact(p.header, p.frames) == first, "hand assembly differs from BundleWriter (compact)"
    put(out, "compact-reapply-first", first, expect="ok", requires=("compact-ok-first",), extra={"already": "yes"},
        description="the bytes of compact-ok-first again, after it: already applied, nothing changes")

    cuts = {
        "compact-truncated-fixed-header": (11, "the first 11 bytes: cut inside the fixed part's header_len"),
        "compact-truncated-in-frames": (len(first) // 2, f"cut at half the file ({len(first) // 2} of {len(first)} bytes)"),
        "compact-truncated-last-byte": (len(first) - 1, "the last byte (of the signature) is missing"),
    }
    for name, (n, why) in cuts.items():
        put(out, name, first[:n], expect="truncated", description=f"compact-ok-first {why}")
    put(out, "compact-appended-byte", first + b"\x00", expect="truncated",
        description="compact-ok-first and one more byte: the fixed part's lengths no longer add up to the file size")
    put(out, "compact-frames-len-short", assemble_compact(p.header, p.frames, frames_len_delta=-1), expect="truncated",
        description="frames_len one less than the frames take, validly signed: the declared lengths do not add up to the file size")
    put(out, "compact-header-len-over-limit", assemble_compact(p.header, p.frames, header_len=container.MAX_HEADER_LEN + 1),
        expect="limit error", description=f"header_len {container.MAX_HEADER_LEN + 1} > {container.MAX_HEADER_LEN}")
    overlong = bytearray(first)
    overlong[container.COMPACT_FIXED.size : container.COMPACT_FIXED.size + 1] = bytes([overlong[container.COMPACT_FIXED.size] | 0x80, 0])
    put(out, "compact-overlong-length", bytes(overlong), expect="format error",
        description="header_len written in two bytes (its last byte 00) where one does: lengths have one form only")
    for name, at, expect, why in (
        ("compact-flipped-body-byte", len(first) - container.COMPACT_TAIL_LEN - 40, "integrity error",
         "in the last frame's data: the body's SHA-256 differs from the trailer's"),
        ("compact-flipped-trailer-check", len(first) - container.COMPACT_TAIL_LEN + 2, "integrity error",
         "in the trailer's check (the body's SHA-256, its first 4 bytes): checked before the signature"),
        ("compact-flipped-key-hint", len(first) - container.COMPACT_SIGNATURE.size + 1, "untrusted key",
         "in the signature block's key hint: no trusted key's id begins so"),
        ("compact-flipped-signature", len(first) - 10, "signature error",
         "in the Ed25519 signature (over the v2 context and the body's whole SHA-256)"),
    ):
        bad = bytearray(first)
        bad[at] ^= 0x01
        put(out, name, bytes(bad), expect=expect, description=f"one bit flipped {why}")
    v1_signed = bytearray(first)
    v1_signed[-64:] = SENDER_KEY.sign(SIGNATURE_CONTEXT + hashlib.sha256(first[: -container.COMPACT_TAIL_LEN]).digest())
    put(out, "compact-signed-with-v1-context", bytes(v1_signed), expect="signature error",
        description="the signature is over the version-1 context string: a signature never carries over between versions")
    put(out, "compact-untrusted-signer", assemble_compact(p.header, p.frames, MALLORY_KEY), expect="untrusted key",
        description="well formed and validly signed by mallory: the signer is the signature block's key, the header names none")
    by_ally = assemble_compact(p.header, p.frames, ALLY_KEY)
    put(out, "compact-signed-by-ally", by_ally, expect="ok", extra={"sender": ALLY_WIKI},
        description="compact-ok-first's bytes signed by the ally, also trusted: a compact header names no sender,"
        " so this is the ally's first bundle (no trusted key can sign in another wiki's name)",
        summary=summarize(fresh_receiver(tmp, "ally"), _write(tmp, "ally", by_ally)))
    h = with_fields(p.header, {0: bytes.fromhex(OTHER_WIKI)[: container.ID_LEN]})
    put(out, "compact-wrong-receiver", assemble_compact(h, p.frames), expect="wrong peer",
        description=f"validly signed, made for wiki {OTHER_WIKI[:16]}…")
    for name, change, expect, why in (
        ("compact-header-hex-receiver", {0: RECEIVER_WIKI[:16]}, "format error", "receiver as 16 hex characters, not 8 bytes"),
        ("compact-header-whole-receiver", {0: bytes.fromhex(RECEIVER_WIKI)}, "format error",
         "receiver as the wiki id's 16 bytes, not its first 8"),
        ("compact-header-unknown-kind", {6: 2}, "format error", "kind 2 (0 update, 1 return)"),
        ("compact-header-short-counts", {5: [1, 4, 0, 0, 0, 1]}, "format error", "counts with 6 entries, not 7"),
        ("compact-header-unknown-capability", {7: ["frobnicate-v9"]}, "version error", "an unknown capability"),
        ("compact-header-unknown-keys", {99: "later", "note": [1.5]}, "ok",
         "keys no reader knows in the optional map (an int and a str): ignored"),
    ):
        h = with_fields(p.header, change)
        put(out, name, assemble_compact(h, p.frames), expect=expect, description=f"{why}, validly signed",
            summary=summarize(fresh_receiver(tmp, name), _write(tmp, name, assemble_compact(h, p.frames))) if expect == "ok" else None)
    packer = msgpack.Packer(use_bin_type=True)
    core, more = p.header[: compact.HEADER_CORE], p.header[compact.HEADER_CORE :]
    bool_key = (packer.pack_array_header(len(core) + 1) + b"".join(wire.packb(v) for v in core)
                + packer.pack_map_pairs([*(more[0].items() if more else ()), (True, 1)]))
    put(out, "compact-header-bool-key", assemble_compact(bool_key, p.frames), expect="format error",
        description="an optional-map key true (a bool, not the int 1), validly signed")
    put(out, "compact-header-missing-counts", assemble_compact(core[:5], p.frames), expect="format error",
        description="a header array of 5 elements (no counts), validly signed")
    as_map = {i: v for i, v in enumerate(core)} | (more[0] if more else {})
    put(out, "compact-header-as-map", assemble_compact(as_map, p.frames), expect="format error",
        description="the header as one map of fields 0-13: the compact header is an array of six, then the optional map")
    put(out, "compact-header-optional-not-a-map", assemble_compact(core + [[6, 1]], p.frames), expect="format error",
        description="a seventh element that is an array, not the optional fields' map, validly signed")

    fr = p.frames[0]
    def with_meta(meta) -> bytes:
        return assemble_compact(p.header, [[fr[0], meta, fr[2], fr[3]], *p.frames[1:]])
    put(out, "compact-meta-as-map", with_meta(container.expand_meta(fr[1], "m")), expect="format error",
        description="a records frame meta written as the long form's map: compact records frames take the array")
    full = list(fr[1])
    full[1] = full[1] + bytes(4)
    put(out, "compact-meta-8-byte-dict-check", with_meta(full), expect="format error",
        description="dict_sha256 of 8 bytes in a compact frame meta: it must be the first 4 bytes of the SHA-256")
    below = list(fr[1])
    below[0] = [4]  # 4 is even: the difference -2, from 0
    put(out, "compact-dict-difference-below-one", with_meta(below), expect="format error",
        description="a dict whose one entry codes the difference -2 from 0: revision id -2, below 1 (a primer part is"
                    " written as itself, never as a difference)")
    put(out, "compact-meta-extra-keys", with_meta(list(fr[1]) + [{"later": 1}]), expect="ok",
        description="a fifth element, a map of keys no reader knows: ignored",
        summary=summarize(fresh_receiver(tmp, "mx"), _write(tmp, "mx", with_meta(list(fr[1]) + [{"later": 1}]))))
    wrong = list(fr[1])
    wrong[2] = bytes(container.COMPACT_CHECK_LEN)
    put(out, "compact-text-check-mismatch", with_meta(wrong), expect="content error",
        description="text_sha256 all zero: the rebuilt texts' check fails after decoding; nothing is kept")
    put(out, "compact-frame-cut-in-lengths", assemble_compact(p.header, [[fr[0], b"", b"", 0]], end_frame=b"",
        fixed_tail=b"\x80"), expect="truncated",
        description="the body ends inside a frame's meta_len (its byte says more follows), validly signed")
    put(out, "compact-end-frame-not-last", assemble_compact(p.header, p.frames, end_frame=bytes([FRAME_END, FRAME_END])),
        expect="format error", description="a second end frame byte after the end frame, validly signed")


def primer_vectors(out: str, tmp: str, pages, siteinfo) -> None:
    """Frames that name the primer (capability primer-v1, BUNDLE.md §Primer), in the compact form:
    compact-ok-delta's content made again with the primer, by zstd and by PPMd, and the checks."""
    from bundler import coder

    os.makedirs(tmp)
    recv = fixed_side(os.path.join(tmp, "receiver"), RECEIVER_WIKI, SEEDS["receiver"], "receiver", [SENDER_PUB, ALLY_PUB])
    with open(os.path.join(out, "compact-ok-first.bundle"), "rb") as f:
        first = f.read()
    b1, m1 = os.path.join(tmp, "b1.bundle"), os.path.join(tmp, "m1.wbm")
    made = {}
    with mock.patch.object(container, "WRITE_VERSION", container.VERSION_COMPACT):
        for name, env in (("compact-ok-primer", {"WIKIBUNDLE_PRIMER": "1"}),
                          ("compact-ok-primer-ppmd", {"WIKIBUNDLE_PRIMER": "1", "WIKIBUNDLE_CODER": "ppmd"})):
            # A second sender with the same wiki id and key makes compact-ok-first again (the same
            # bytes, without the primer), then bundle 2 since the receiver's manifest 1, with it.
            sender = fixed_side(os.path.join(tmp, name), SENDER_WIKI, SEEDS["sender"], "sender", [RECEIVER_PUB])
            again = make(sender, b1, earlier(pages, {"Pear": 2, "Çullu, Agdam": 1, "Talk:Çullu, Agdam": 1}), siteinfo, 1)
            assert again == first, "compact-ok-first made again differs"
            if not os.path.exists(m1):
                apply_bundle(recv, b1, manifest_out=m1)
            with mock.patch.dict(os.environ, env):
                made[name] = make(sender, os.path.join(tmp, f"{name}.bundle"), pages, siteinfo, 2, since=m1)
    for name, what in (("compact-ok-primer", "zstd, its body without zstd's magic number"),
                       ("compact-ok-primer-ppmd", "ppmd7-primed, the model primed with the base texts and the primer")):
        p = split_compact(made[name])
        # the capability is implied by version 2 (§Compact form): the header lists none
        assert p.frames[0][1][0][-1:] == [coder.PRIMER_COMMON] and len(p.header) == compact.HEADER_CORE
        entries = [r for r in p.frames[0][1][0] if r <= 0]
        put(out, name, made[name], expect="ok", requires=("compact-ok-first",), summary=_summary(recv, tmp, made[name]),
            description=f"compact-ok-delta's content, its frame naming primer parts {entries} after the base texts"
                        f" (0: the common part; the writer found no language part smaller); coded {what}")

    p = split_compact(made["compact-ok-primer"])
    fr = p.frames[0]

    def variant(name: str, expect: str, description: str, *, meta=None, body=None) -> None:
        put(out, name, assemble_compact(p.header, [[fr[0], meta or fr[1], fr[2] if body is None else body, fr[3]]]),
            expect=expect, requires=("compact-ok-first",), description=f"compact-ok-primer {description}, validly signed")

    dict_revs = fr[1][0]
    variant("primer-unknown-part", "format error", meta=[dict_revs[:-1] + [-50], *fr[1][1:]],
            description="whose dict names primer part -50 (primer-v1 has parts 0 to -49)")
    variant("primer-dict-mismatch", "content error", meta=[dict_revs[:-1] + [-1], *fr[1][1:]],
            description="whose last dict entry names part -1 (German) where the frame was coded with 0 (the common part):"
                        " dict_sha256 (over the base texts and the primer parts) differs, found before decoding")
    variant("primer-with-magic", "format error", body=wire.ZSTD_MAGIC + fr[2],
            description="with zstd's magic number before its body: a primed zstd body has none, so the frame reads as damaged")
    # A row whose b names the primer's entry: the payload re-coded with the same dictionary.
    store = recv.store()
    try:
        dictionary = b"".join(store.get_text(r).encode() if r > 0 else coder.primer_part(r, "vector")
                              for r in compact.dict_summed(dict_revs, "vector"))  # (the meta holds differences)
    finally:
        store.close()
    arr = wire.unpackb(wire.decompress(fr[2], expected_size=fr[3], dictionary=dictionary, what="v", magic=False), what="v")
    b_col = arr[4][_REV_COLS.index("b")]
    b_col[b_col.index(1)] = len(dict_revs)  # the first row built on dict[0] now names the primer entry
    raw = wire.packb(arr)
    body = wire.compress(raw, level=19, dictionary=dictionary, checksum=False, magic=False)
    put(out, "primer-as-base", assemble_compact(p.header, [[fr[0], fr[1], body, len(raw)]]), expect="format error",
        requires=("compact-ok-first",),
        description="compact-ok-primer re-coded with one row's b naming the primer's entry: a primer part is no text, validly signed")


def compact_ppmd_vectors(out: str, tmp: str, pages, siteinfo, first: bytes) -> None:
    """compact-ok-delta's content with its frame coded ppmd7-primed: the coder by number in the
    meta's fifth element, its capability implied; and a coder number no reader knows."""
    from bundler import coder

    again = fixed_side(os.path.join(tmp, "sender-ppmd"), SENDER_WIKI, SEEDS["sender"], "sender", [RECEIVER_PUB])
    assert make(again, os.path.join(tmp, "b1-again.bundle"), earlier(pages, {"Pear": 2, "Çullu, Agdam": 1, "Talk:Çullu, Agdam": 1}),
                siteinfo, 1) == first
    with mock.patch.dict(os.environ, {"WIKIBUNDLE_CODER": "ppmd"}):
        ppmd = make(again, os.path.join(tmp, "b2-ppmd.bundle"), pages, siteinfo, 2, since=os.path.join(tmp, "m1.wbm"))
    q = split_compact(ppmd)
    fr = q.frames[0]
    assert fr[1][4][0] == 1 and compact.CODERS[1] == coder.CODER and len(q.header) == compact.HEADER_CORE
    r = fresh_receiver(tmp, "ppmd")
    apply_bundle(r, _write(tmp, "ppmd-first", first))
    put(out, "compact-ok-ppmd-delta", ppmd, expect="ok", requires=("compact-ok-first",),
        summary=summarize(r, _write(tmp, "ppmd", ppmd)),
        description="compact-ok-delta's content with its frame coded ppmd7-primed: the meta's fifth element"
        " {0: 1 (the coder's number), 1: order, 2: mem}; the capability is implied, not listed")
    meta = [*fr[1][:4], {**fr[1][4], 0: 7}]
    put(out, "compact-ppmd-unknown-coder", assemble_compact(q.header, [[fr[0], meta, fr[2], fr[3]]]), expect="format error",
        requires=("compact-ok-first",), description="compact-ok-ppmd-delta whose meta names coder number 7, which no reader knows")


def fresh_receiver(tmp: str, name: str) -> Side:
    return fixed_side(os.path.join(tmp, f"r-{name}"), RECEIVER_WIKI, SEEDS["receiver"], "receiver", [SENDER_PUB, ALLY_PUB])


def _write(tmp: str, name: str, data: bytes) -> str:
    path = os.path.join(tmp, f"{name}.bundle")
    with open(path, "wb") as f:
        f.write(data)
    return path


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else HERE
    generate(target)
