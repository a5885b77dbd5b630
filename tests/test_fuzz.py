"""Hostile bundles: ``apply`` raises only our errors, never hangs, and changes nothing.

Two layers, both on a real delta bundle (ldnont bundle 2, built on bundle 1):

- the whole file mutated by hypothesis — byte flips, overwrites, inserts,
  deletes, splices of one region over another, frame lengths set to edge
  values — either as someone without the key would (the hash or the signature
  stops it), or **re-signed** with the sender's real key, as a compromised or
  buggy sender would, so the mutation reaches the header parser, the frame
  reader and the decoder;
- the **decompressed** frame payload (and frame meta) mutated — bytes, or a
  node of the decoded msgpack tree replaced by a hostile value — then
  re-compressed with the frame's dictionary by the frame's coder (zstd, or
  PPMd primed with the dictionary), re-framed and re-signed, so the mutation
  gets past the coder into ``frame_reader.decode_frame``.

Every example either applies (a validly signed bundle may say anything the
format can express; the store is then checked for consistency and restored) or
raises a ``BundleError`` subclass, after which store, sync state and manifest
are exactly as before. A SIGALRM deadline turns a hang into a failure.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections import Counter
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unittest import mock

from bundler import container, errors, wire
from bundler.apply import apply_bundle
from bundler.container import (
    FRAME_END,
    FRAME_FIXED,
    FRAME_RECORDS,
    MAX_COMP_LEN,
    MAX_META_LEN,
    MAX_RAW_LEN,
    SIGNATURE,
    SIGNATURE_CONTEXT,
    TAIL_LEN,
    TRAILER,
    TRAILER_MAGIC,
    VERSION,
    BundleReader,
)
from bundler.signing import SecretKey
from bundler.state import Side
from helpers import deadline, delta_bundle, frame_body, frame_raw, record_counts, store_digest

DEADLINE = 10  # seconds per example; the whole bundle applies in ~10 ms
EXAMPLES_FILE = 400
EXAMPLES_PAYLOAD = 300


@dataclass
class Frame:
    offset: int
    meta: dict
    raw: bytes  # the decompressed payload
    dictionary: bytes


@dataclass(repr=False)
class Target:
    tmp: str
    school: Side
    key: SecretKey  # the sender's real signing key
    data: bytes  # bundle 2, as made
    header_end: int
    frames: list[Frame]
    before: str  # store digest
    rows: list[tuple]  # received rows
    pristine: dict[str, str]  # database file -> pristine copy
    seen: Counter

    @property
    def body(self) -> bytes:
        return self.data[:-TAIL_LEN]


def resign(body: bytes, key: SecretKey) -> bytes:
    """Trailer and signature for ``body``, as the holder of ``key`` would write them."""
    trailer = TRAILER.pack(TRAILER_MAGIC, len(body), hashlib.sha256(body).digest())
    return body + trailer + SIGNATURE.pack(bytes.fromhex(key.key_id), key.sign(SIGNATURE_CONTEXT + trailer))


def received_rows(side: Side) -> list[tuple]:
    return side.state.db.execute("SELECT sender, seq, checkpoint, basis_seq, sha256 FROM received ORDER BY seq").fetchall()


@pytest.fixture(scope="module")
def target(tmp_path_factory) -> Target:
    tmp = str(tmp_path_factory.mktemp("fuzz"))
    # The long form (version 1), whose layout ``resign`` and ``reframe`` write; the compact
    # form's checks are pinned by the compact-* vectors and tests/test_tamper.py.
    with mock.patch.object(container, "WRITE_VERSION", VERSION):
        pair, data = delta_bundle(tmp)
    store = pair.school.store()
    frames = []
    with BundleReader(os.path.join(tmp, "b2.bundle")) as r:
        r.verify(pair.school.state.peer_by_key_id)
        header_end = r.header_end
        for fr in r.frames():
            dictionary = b"".join(store.get_text(i).encode("utf-8") for i in fr.meta["dict"])
            raw = frame_raw(fr.meta, fr.body, fr.raw_len, dictionary)
            frames.append(Frame(fr.offset, fr.meta, raw, dictionary))
    store.close()
    assert frames and any(f.meta["dict"] for f in frames), "want a frame that builds on texts the school holds"
    return Target(tmp, pair.school, pair.hq.secret_key(), data, header_end, frames,
                  store_digest(pair.school), received_rows(pair.school), snapshot_databases(pair.school), Counter())


def snapshot_databases(side: Side) -> dict[str, str]:
    """Copies of the side's wiki and state, which ``restore`` puts back after an apply."""
    pristine = {}
    for name in (side.wiki_path, os.path.join(side.path, "state.sqlite")):
        copy = name + ".pristine"
        src, dst = sqlite3.connect(name), sqlite3.connect(copy)
        src.backup(dst)
        src.close(), dst.close()
        pristine[name] = copy
    return pristine


def check_apply(t: Target, data: bytes, what: str) -> str:
    """Apply ``data``; only our errors, nothing changed on error. Returns the outcome's name."""
    path = os.path.join(t.tmp, "fuzzed.bundle")
    manifest = os.path.join(t.tmp, "fuzzed.wbm")
    with open(path, "wb") as f:
        f.write(data)
    try:
        with deadline(DEADLINE):
            apply_bundle(t.school, path, manifest_out=manifest)
    except errors.BundleError as e:
        assert store_digest(t.school) == t.before, f"{what}: {type(e).__name__} left the store changed"
        assert received_rows(t.school) == t.rows, f"{what}: {type(e).__name__} left the state changed"
        assert not os.path.exists(manifest), f"{what}: manifest written despite {type(e).__name__}"
        outcome = type(e).__name__
    else:  # validly signed and well formed: applied whole, or already applied
        outcome = "applied" if received_rows(t.school) != t.rows else "already applied"
        store = t.school.store()
        try:
            assert store.db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            store.check_titles()
        finally:
            store.close()
        restore(t)
        if os.path.exists(manifest):
            os.unlink(manifest)
    t.seen[(what, outcome)] += 1
    return outcome


def restore(t: Target) -> None:
    """Bring the school back to before bundle 2 (SQLite's backup API: safe with open connections)."""
    for live, copy in t.pristine.items():
        src = sqlite3.connect(copy)
        dst = t.school.state.db if live.endswith("state.sqlite") else sqlite3.connect(live)
        src.backup(dst)
        src.close()
        if dst is not t.school.state.db:
            dst.close()
    assert store_digest(t.school) == t.before and received_rows(t.school) == t.rows


# --- byte-level mutations --------------------------------------------------------------

EDGE_U32 = [0, 1, 13, 0x7F, 0xFF, 0x7FFF_FFFF, 0xFFFF_FFFF, MAX_META_LEN, MAX_META_LEN + 1,
            MAX_RAW_LEN, MAX_RAW_LEN + 1, MAX_COMP_LEN, MAX_COMP_LEN + 1]


def mutate(d, buf: bytes, frame_offsets: list[int]) -> bytes:
    """1-3 random edits of ``buf``: flips, overwrites, inserts, deletes, splices, frame lengths."""
    b = bytearray(buf)
    for _ in range(d.draw(st.integers(1, 3), label="edits")):
        kind = d.draw(st.sampled_from(["flip", "set", "insert", "delete", "splice", "length"]), label="kind")
        n = len(b)
        if n == 0:
            b += d.draw(st.binary(min_size=1, max_size=16))
            continue
        i = d.draw(st.integers(0, n - 1), label="at")
        if kind == "flip":
            b[i] ^= 1 << d.draw(st.integers(0, 7))
        elif kind == "set":
            b[i] = d.draw(st.integers(0, 255))
        elif kind == "insert":
            b[i:i] = d.draw(st.binary(min_size=1, max_size=32))
        elif kind == "delete":
            del b[i : i + d.draw(st.integers(1, 64))]
        elif kind == "splice":  # a region copied over another (or duplicated into it)
            j = d.draw(st.integers(0, n - 1))
            region = bytes(b[j : j + d.draw(st.integers(1, 256))])
            if d.draw(st.booleans()):
                b[i : i + len(region)] = region
            else:
                b[i:i] = region
        elif kind == "length" and frame_offsets:  # a frame's meta_len, comp_len or raw_len set to an edge value
            at = d.draw(st.sampled_from(frame_offsets)) + 1 + 4 * d.draw(st.integers(0, 2))
            if at + 4 <= len(b):
                b[at : at + 4] = d.draw(st.sampled_from(EDGE_U32)).to_bytes(4, "big")
    return bytes(b)


@given(st.data())
@settings(max_examples=EXAMPLES_FILE, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_mutated_bundles_raise_only_our_errors_and_change_nothing(target, d):
    t = target
    offsets = [f.offset for f in t.frames] + [len(t.body) - FRAME_FIXED.size]
    if d.draw(st.booleans(), label="re-signed"):
        # a holder of the sender's key: the mutation gets past hash and signature
        data = resign(mutate(d, t.body, offsets), t.key)
        what = "re-signed"
    else:
        data = mutate(d, t.data, offsets)
        what = "unsigned"
    if data == t.data:
        return
    outcome = check_apply(t, data, what)
    if what == "unsigned":
        assert outcome not in ("applied", "already applied", "ContentError"), f"an unsigned mutation got through: {outcome}"


# --- payload-level mutations ------------------------------------------------------------

HOSTILE = st.one_of(
    st.sampled_from([0, -1, 1, 2, 255, 2**31, 2**32, 2**40, 2**53, 2**63 - 1, 2**63, 2**64 - 1, -(2**63)]),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.none(),
    st.booleans(),
    st.floats(),
    st.text(max_size=24),
    st.sampled_from(["", "\x00", "a|b", "../x", "\u2028", "x" * 2000]),
    st.binary(max_size=24),
    st.lists(st.integers(-3, 3), max_size=4),
    st.dictionaries(st.sampled_from(["sitename", "namespaces", "case", "x"]), st.integers(-(2**63), 2**64 - 1), max_size=2),
)


def _paths(obj, path=()):
    yield path
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, path + (i,))


def mutate_tree(d, obj):
    """Replace, delete, duplicate or add one node of a decoded msgpack tree."""
    paths = [p for p in _paths(obj) if p]
    path = d.draw(st.sampled_from(paths), label="node")
    parent = obj
    for k in path[:-1]:
        parent = parent[k]
    k = path[-1]
    action = d.draw(st.sampled_from(["replace", "replace", "delete", "duplicate", "add"]), label="action")
    if action == "replace":
        parent[k] = d.draw(HOSTILE, label="value")
    elif action == "delete":
        del parent[k]
    elif action == "duplicate" and isinstance(parent, list):
        parent.insert(k, parent[k])
    elif isinstance(parent, list):
        parent.insert(k, d.draw(HOSTILE, label="value"))
    else:
        parent[d.draw(st.text(max_size=4), label="key")] = d.draw(HOSTILE, label="value")
    return obj


def reframe(t: Target, k: int, meta: dict, raw: bytes) -> bytes:
    """Bundle 2 with frame ``k``'s meta and payload replaced: re-compressed with the
    frame's own dictionary, lengths fixed, re-signed with the sender's key."""
    parts = [t.body[: t.header_end]]
    for i, fr in enumerate(t.frames):
        m = wire.packb(meta if i == k else fr.meta)
        r = raw if i == k else fr.raw
        body = frame_body(fr.meta, r, fr.dictionary)  # the writer's coder, whatever the mutated meta says
        parts.append(FRAME_FIXED.pack(FRAME_RECORDS, len(m), len(body), len(r)) + m + body)
    parts.append(FRAME_FIXED.pack(FRAME_END, 0, 0, 0))
    return resign(b"".join(parts), t.key)


def decoded(obj) -> dict:
    return wire.unpackb(wire.packb(obj) if not isinstance(obj, bytes) else obj, what="fixture")


@given(st.data())
@settings(max_examples=EXAMPLES_PAYLOAD, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_mutated_payloads_resigned_raise_only_our_errors_and_change_nothing(target, d):
    t = target
    k = d.draw(st.integers(0, len(t.frames) - 1), label="frame")
    meta, raw = t.frames[k].meta, t.frames[k].raw
    layer = d.draw(st.sampled_from(["payload bytes", "payload tree", "payload tree", "meta tree"]), label="layer")
    if layer == "payload bytes":
        raw = mutate(d, raw, [])
    elif layer == "payload tree":
        raw = wire.packb(mutate_tree(d, decoded(raw)))
    else:
        meta = mutate_tree(d, decoded(meta))
    outcome = check_apply(t, reframe(t, k, meta, raw), "payload")
    assert outcome not in ("IntegrityError", "SignatureError", "UntrustedKeyError", "TruncatedError")


def _set(path, value):
    def edit(payload: dict, meta: dict) -> None:
        obj = meta if path[0] == "meta" else payload
        for key in path[1:-1]:
            obj = obj[key]
        obj[path[-1]] = value(obj[path[-1]])

    return edit


@pytest.mark.parametrize(
    "edit",
    [
        _set(("payload", "pages", 0, 0), lambda v: 2**63),  # page_id
        _set(("payload", "pages", 0, 1), lambda v: 2**64 - 1),  # namespace
        _set(("payload", "revs", "id", 0), lambda v: v + 2**63),  # rev_id (delta-coded)
        _set(("payload", "revs", "ts", 0), lambda v: 2**64 - 1),  # timestamp
        _set(("payload", "users", 0), lambda v: [v[0], 2**63]),  # user_id
        _set(("meta", "dict", 0), lambda v: 2**64 - 1),  # a base text no store can hold
    ],
    ids=["page_id", "namespace", "rev_id", "timestamp", "user_id", "dict-rev_id"],
)
def test_ids_beyond_64_bits_are_refused_not_a_crash(target, edit):
    """Found by the fuzzer above: sqlite3 raised OverflowError (a traceback) for ids
    and times beyond SQLite's signed 64 bits sent by a trusted (buggy) sender."""
    t = target
    k = next(i for i, f in enumerate(t.frames) if f.meta["dict"])
    payload, meta = decoded(t.frames[k].raw), decoded(t.frames[k].meta)
    edit(payload, meta)
    assert check_apply(t, reframe(t, k, meta, wire.packb(payload)), "64-bit") == "ContentError"


def test_record_counts(target):
    """Runs last in this file: what the fuzzers above tried (tests/count_faults.py)."""
    seen = target.seen
    tried = sum(seen.values())
    if tried:
        record_counts("test_fuzz", {f"{what}: {outcome}": n for (what, outcome), n in sorted(seen.items())})
