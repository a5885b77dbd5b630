"""The golden vectors of formats/vectors/ against the real reader.

Each ``NAME.expect`` says what a side must do with ``NAME.bundle`` (or
``NAME.wbm``): which side reads it (``side:``, a wiki id), which keys it trusts,
which ok vectors it has applied before (``requires:``), and the outcome —
``ok`` with the decoded content listed below the header, or one error kind. A
failure must be exactly that error class (a parse error may not hide behind a
signature error, nor the reverse), and must leave the store's bytes, the
received checkpoints and the manifests untouched.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

from bundler import errors, parts
from bundler.apply import apply_bundle
from bundler.container import FRAME_BLOB, FRAME_RECORDS, SLOT_DELTA_CAPABILITY, BundleReader
from bundler.files_import import decode_files_frame
from bundler.make import apply_manifest
from bundler.manifest import read_manifest
from bundler.model import format_timestamp, text_sha1
from bundler.frame_reader import decode_frame
from bundler.signing import parse_key_line
from bundler.state import Sent, Side

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VECTORS = os.path.join(ROOT, "formats", "vectors")

KINDS = {
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


def _names(ext: str) -> list[str]:
    return sorted(f[: -len(".expect")] for f in os.listdir(VECTORS) if f.endswith(".expect")
                  and os.path.exists(os.path.join(VECTORS, f[: -len(".expect")] + ext)))


def load_expect(name: str) -> tuple[dict[str, str], list[str]]:
    with open(os.path.join(VECTORS, f"{name}.expect"), encoding="utf-8") as f:
        head, _, rest = f.read().partition("\n\n")
    fields = dict(line.split(": ", 1) for line in head.splitlines())
    return fields, [ln for ln in rest.splitlines() if ln]


def requires(exp: dict) -> list[str]:
    return [] if exp["requires"] == "-" else exp["requires"].split()


def make_side(path: str, wiki_id: str, trusts: str) -> Side:
    """A side with the vector's wiki id (Side.create draws one at random) trusting the named keys."""
    Side.create(path, os.path.join(path, "wiki.sqlite"), "vectors").state.db.close()
    cfg = os.path.join(path, "config.json")
    with open(cfg) as f:
        config = json.load(f)
    config["wiki_id"] = wiki_id
    with open(cfg, "w") as f:
        json.dump(config, f)
    side = Side.open(path)
    side.store(create=True).close()
    with side.state.transaction():
        for rel in trusts.split():
            with open(os.path.join(VECTORS, rel)) as f:
                side.state.add_peer(parse_key_line(f.read(), source=rel))
    return side


def snapshot(side: Side) -> tuple:
    """The bytes of the store's files, the received checkpoints, the manifests written."""
    files = {}
    for fn in sorted(os.listdir(side.path)):
        if fn.startswith("wiki.sqlite") and not fn.endswith("-shm"):
            with open(os.path.join(side.path, fn), "rb") as f:
                files[fn] = f.read()
    received = side.state.db.execute("SELECT * FROM received ORDER BY sender, seq").fetchall()
    mdir = os.path.join(side.path, "manifests")
    manifests = sorted(os.listdir(mdir)) if os.path.isdir(mdir) else []
    return files, received, manifests


def decoded(side: Side, path: str) -> list[str]:
    """The summary lines of formats/vectors/README.md, from the real reader and decoder."""
    out = []
    store = side.store()
    try:
        with BundleReader(path) as r:
            r.verify(side.state.peer_by_key_id)
            h, c = r.header, r.header.counts
            out.append(f"header seq={h.seq} basis_seq={h.basis_seq} basis={h.basis.hex()} checkpoint={h.checkpoint.hex()}")
            out.append(
                f"counts pages={c.pages} revisions={c.revisions} moves={c.moves} deletions={c.deletions}"
                f" updates={c.updates} frames={c.frames} text_bytes={c.text_bytes}"
            )
            for i, fr in enumerate(r.frames()):
                if fr.type != FRAME_RECORDS:
                    out += files_decoded(i, fr)
                    continue
                fc = decode_frame(fr.meta, fr.body, fr.raw_len, store.get_text, what=f"frame {i}", get_title=store.live_title,
                                  compact=fr.compact, get_slots=store.get_slots,
                                  slot_deltas=SLOT_DELTA_CAPABILITY in h.capabilities)
                out.append(f"frame {i} dict={fr.meta['dict']} raw_len={fr.raw_len}")
                q = lambda s: json.dumps(s, ensure_ascii=False)  # noqa: E731
                out += [f"page {p.page_id} ns={p.namespace} title={q(p.title)}" for p in fc.pages]
                for v in fc.revisions:
                    out.append(f"rev {v.rev_id} page={v.page_id} ts={format_timestamp(v.timestamp)} sha1={v.sha1}"
                               f" text={'hidden' if v.text is None else len(v.text.encode())}")
                    out += [f"slot {v.rev_id} role={sl.role} model={sl.model} format={sl.format}"
                            f" sha1={'hidden' if sl.text is None else text_sha1(sl.text)}" for sl in v.slots]
                out += [f"move {m.page_id} from={q(m.old_title)} to={q(m.new_title)}" for m in fc.moves]
                out += [f"delete {d.page_id} title={q(d.title)}" for d in fc.deletes]
                out += [f"update {u.rev_id} deleted={int(u.deleted)} comment={q(u.comment)}" for u in fc.updates]
    finally:
        store.close()
    return out


def files_decoded(i: int, fr) -> list[str]:
    if fr.type == FRAME_BLOB:
        return [f"blob frame {i} sha1={fr.meta['sha1'].hex()} off={fr.meta['off']} bytes={len(fr.body)}"]
    versions, blobs = decode_files_frame(fr, f"frame {i}")
    q = lambda s: json.dumps(s, ensure_ascii=False)  # noqa: E731
    return (
        [f"files frame {i} versions={len(versions)} blobs={len(blobs)} raw_len={fr.raw_len}"]
        + [f"file {q(v.name)} ts={format_timestamp(v.timestamp)} sha1={v.sha1} size={v.size}" for v in versions]
        + [f"blob {sha} size={size} enc={enc} base={base or '-'} stored={stored}" for sha, size, enc, base, stored in blobs]
    )


def check_store(side: Side, summary: list[str]) -> None:
    """What the summary says the bundle carries is what the store now holds."""
    store = side.store()
    try:
        for line in summary:
            kind, _, rest = line.partition(" ")
            ident = int(rest.split(" ", 1)[0]) if kind in ("page", "rev", "delete", "update") else None
            f = dict(kv.split("=", 1) for kv in rest.split(" ")[1:] if "=" in kv) if kind in ("rev", "update") else {}
            if kind == "page":
                page, deleted = store.page(ident)
                assert json.dumps(page.title, ensure_ascii=False) == rest.split("title=", 1)[1]
            elif kind == "rev":
                assert store.revision_sha1(ident) == f["sha1"]
                assert store.db.execute("SELECT page_id FROM revision WHERE rev_id=?", (ident,)).fetchone()[0] == int(f["page"])
            elif kind == "slot":  # the slot is held as the sender sent it (rebuilt from a delta, or whole)
                f = dict(kv.split("=", 1) for kv in rest.split(" ")[1:])
                if f["sha1"] == "hidden":
                    continue  # (get_slots gives nothing of a revision whose text is hidden)
                held = {sl.role: sl for sl in store.get_slots(int(rest.split(" ", 1)[0])) or ()}
                sl = held[f["role"]]
                assert (sl.model, sl.format, "hidden" if sl.text is None else text_sha1(sl.text)) == (f["model"], f["format"], f["sha1"])
            elif kind == "delete":
                assert store.page(ident)[1] is True
            elif kind == "file":  # the version is there, and so are its bytes, whole
                name = json.loads(rest.split(" ts=", 1)[0])
                sha1 = rest.split("sha1=", 1)[1].split(" ", 1)[0]
                assert sha1 in {v.sha1 for v in store.file_versions(name)}
                assert hashlib.sha1(store.blob_bytes(sha1)).hexdigest() == sha1
            elif kind == "update":
                deleted, comment = store.db.execute("SELECT deleted, comment FROM revision WHERE rev_id=?", (ident,)).fetchone()
                assert deleted == int(f["deleted"])
                assert json.dumps(comment, ensure_ascii=False) == rest.split("comment=", 1)[1]
    finally:
        store.close()


@pytest.mark.parametrize("name", _names(".bundle"))
def test_bundle_vector(name, tmp_path, request):
    exp, summary = load_expect(name)
    if "known-bug" in exp:  # a vector the code fails today; strict: fixing the code makes this test say so
        request.applymarker(pytest.mark.xfail(reason=exp["known-bug"], strict=True))
    kind = KINDS[exp["expect"]]
    assert int(exp["exit"]) == (kind.exit_code if kind else 0)
    side = make_side(str(tmp_path / "side"), exp["side"], exp["trusts"])
    for req in requires(exp):
        assert not apply_bundle(side, os.path.join(VECTORS, f"{req}.bundle"), manifest_out=str(tmp_path / f"{req}.wbm")).already
    path = os.path.join(VECTORS, f"{name}.bundle")
    before = snapshot(side)
    if kind is None:
        if summary:
            assert decoded(side, path) == summary
        res = apply_bundle(side, path, manifest_out=str(tmp_path / "out.wbm"))
        if exp.get("already") == "yes":
            assert res.already
            assert snapshot(side)[:2] == before[:2]
            return
        assert not res.already
        check_store(side, summary)
        counts = dict(kv.split("=") for kv in summary[1].split()[1:])
        assert res.revisions_added == int(counts["revisions"])
        assert (res.pages, len(res.moves), len(res.deletions)) == (int(counts["pages"]), int(counts["moves"]), int(counts["deletions"]))
        assert side.state.last_received(res.header.sender).checkpoint.hex() == summary[0].split("checkpoint=")[1]
        assert res.header.sender == exp.get("sender", res.header.sender)  # compact form: the signer's wiki
        return
    with pytest.raises(errors.BundleError) as e:
        apply_bundle(side, path, manifest_out=str(tmp_path / "out.wbm"))
    assert type(e.value) is kind, f"expected {kind.__name__}, got {type(e.value).__name__}: {e.value}"
    assert e.value.exit_code == int(exp["exit"])
    assert snapshot(side) == before
    assert not os.path.exists(tmp_path / "out.wbm")


@pytest.mark.parametrize("name", _names(".wbm"))
def test_manifest_vector(name, tmp_path):
    exp, summary = load_expect(name)
    kind = KINDS[exp["expect"]]
    assert int(exp["exit"]) == (kind.exit_code if kind else 0)
    side = make_side(str(tmp_path / "side"), exp["side"], exp["trusts"])
    sent = dict(kv.split("=") for kv in exp["sent"].split())
    with side.state.transaction():
        side.state.record_sent(Sent(sent["peer"], int(sent["seq"]), bytes.fromhex(sent["checkpoint"]), 0, 0, "", False, None))
    path = os.path.join(VECTORS, f"{name}.wbm")
    if kind is None:
        m, key = read_manifest(path, side.state.peer_by_key_id)
        held = [f"files_held {' '.join(m.held_sha1s())}"] if m.files_held else []
        assert summary == [f"manifest wiki={m.wiki} peer={m.peer} seq={m.seq} checkpoint={m.checkpoint.hex()}", *held]
        assert apply_manifest(side, path) == (sent["peer"], int(sent["seq"]))
        assert side.state.confirmed_seq(sent["peer"]) == int(sent["seq"])
        reported = sorted(r[0] for r in side.state.db.execute("SELECT sha1 FROM reported_files WHERE peer=?", (m.wiki,)))
        assert reported == m.held_sha1s()
        return
    with pytest.raises(errors.BundleError) as e:
        apply_manifest(side, path)
    assert type(e.value) is kind, f"expected {kind.__name__}, got {type(e.value).__name__}: {e.value}"
    assert side.state.confirmed_seq(sent["peer"]) == 0


@pytest.mark.parametrize("name", _names(".part1"))
def test_parts_vector(name, tmp_path):
    """``NAME.part1``, ``NAME.part2``, …: a bundle's parts as a reader is given them (BUNDLE.md §Parts)."""
    exp, _ = load_expect(name)
    kind = KINDS[exp["expect"]]
    given = sorted(os.path.join(VECTORS, f) for f in os.listdir(VECTORS) if f.startswith(f"{name}.part"))
    out = tmp_path / "joined.bundle"
    if kind is None:
        parts.reassemble(parts.collect(given), str(out))
        with open(os.path.join(VECTORS, f"{exp['bundle']}.bundle"), "rb") as f:
            assert out.read_bytes() == f.read()
        return
    with pytest.raises(errors.BundleError) as e:
        parts.reassemble(parts.collect(given), str(out))
    assert type(e.value) is kind, f"expected {kind.__name__}, got {type(e.value).__name__}: {e.value}"
    assert e.value.exit_code == int(exp["exit"])
    assert exp["names"] in str(e.value)
    assert os.listdir(tmp_path) == []  # nothing written, not even a temporary file


def test_index_lists_every_vector():
    with open(os.path.join(VECTORS, "INDEX")) as f:
        listed = {line.split("\t")[0] for line in f if line.strip()}
    assert listed == set(_names(".bundle")) | set(_names(".wbm")) | set(_names(".part1"))
    for name in listed:
        for req in requires(load_expect(name)[0]):
            assert load_expect(req)[0]["expect"] == "ok", f"{name} requires {req}, which is not an ok vector"


def test_every_error_kind_has_a_vector():
    kinds = {load_expect(n)[0]["expect"] for n in _names(".bundle")}
    assert kinds == set(KINDS)


def test_generator_is_deterministic_and_matches_the_committed_vectors(tmp_path):
    """Regenerating gives the committed bytes: the writer did not drift, and the vectors are reproducible."""
    out = tmp_path / "v"
    subprocess.run([sys.executable, os.path.join(VECTORS, "generate.py"), str(out)], check=True, cwd=ROOT)
    produced = sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs)
    committed = sorted(
        os.path.relpath(os.path.join(d, f), VECTORS)
        for d, _, fs in os.walk(VECTORS)
        for f in fs
        if f not in ("generate.py", "README.md") and "__pycache__" not in d
    )
    assert produced == committed
    for rel in produced:
        with open(out / rel, "rb") as a, open(os.path.join(VECTORS, rel), "rb") as b:
            assert a.read() == b.read(), f"{rel} differs from a fresh generation (run formats/vectors/generate.py and review)"
