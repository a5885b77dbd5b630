"""The compact form (formats/BUNDLE.md §Compact form, version 2) against the long form
(version 1), on the London Ontario wiki's real dumps: the same histories arrive, `bundle
inspect` shows the same, a mixed series (long, then compact) applies, and re-signed
mutations of a compact bundle raise only our errors and change nothing."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bundler import compact, container, errors, frame_reader, records, wire
from bundler.container import FRAME_RECORDS, VERSION, VERSION_COMPACT, BundleReader, Layout
from helpers import LDNONT, dump_history, frame_body, frame_raw, new_pair, run_cli, store_digest, store_history
from test_fuzz import Frame, Target, check_apply, mutate, mutate_tree, received_rows, snapshot_databases

VECTORS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "formats", "vectors")
EXAMPLES_FILE = 150
EXAMPLES_PAYLOAD = 100


def carried(tmp: str, version: int):
    """LDNONT[0], then LDNONT[3] since it, made in ``version``: (pair, bundle 2's path)."""
    with mock.patch.object(container, "WRITE_VERSION", version):
        pair = new_pair(tmp)
        pair.carry(LDNONT[0], 1)
        made = pair.make(LDNONT[3], "b2.bundle", since=os.path.join(tmp, "m1.wbm"))
    return pair, made.path


def test_compact_and_long_forms_carry_the_same_content(tmp_path):
    runs = {v: carried(str(tmp_path / f"v{v}"), v) for v in (VERSION, VERSION_COMPACT)}
    for v, (pair, path) in runs.items():
        with BundleReader(path) as r:
            assert r.version == v
        applied = pair.apply(path, "m2.wbm")
        assert applied.revisions_added > 0
        assert store_history(pair.school) == dump_history(LDNONT[3])
    (p1, long_path), (p2, compact_path) = runs.values()
    assert os.path.getsize(compact_path) < os.path.getsize(long_path)


@pytest.mark.parametrize("name", ["ok-first", "ok-delta", "ok-moves"])
def test_the_compact_vectors_decode_to_what_the_long_ones_do(name):
    """formats/vectors: compact-NAME and NAME, as test_vectors decodes and checks them, list the
    same pages, revisions, moves, deletions and updates (only the payload's raw_len differs, and
    the checkpoint ids: the compact form's are the body's hash, its basis their first 8 bytes)."""
    def content(vector: str) -> list[str]:
        with open(os.path.join(VECTORS, f"{vector}.expect"), encoding="utf-8") as f:
            lines = f.read().split("\n\n", 1)[1].splitlines()
        return [re.sub(r" raw_len=\d+| basis=\w+ checkpoint=\w+", "", line) for line in lines]

    assert content(f"compact-{name}") == content(name)
    assert len(content(name)) > 3


def test_inspect_shows_the_same_for_both_forms(tmp_path, monkeypatch):
    """With -C (verified), the same fields; a compact bundle this small (under 4 KiB of frames)
    carries no source, tool or breakdown, and inspect shows "—" for them."""
    monkeypatch.setenv("WIKIBUNDLE_CODER", "zstd")  # version 1 is written with zstd frames only
    monkeypatch.setenv("WIKIBUNDLE_PRIMER", "0")  # and without the primer (a capability and dict entries of its own)
    shown, pairs = {}, {}
    for v in (VERSION, VERSION_COMPACT):
        pairs[v], path = carried(str(tmp_path / f"v{v}"), v)
        shown[v] = json.loads(run_cli("inspect", path, "-C", pairs[v].school.path, "--json").output)
        assert shown[v]["format_version"] == v
        assert "bundle 2" in run_cli("inspect", path).output
    long, compact = shown[VERSION], shown[VERSION_COMPACT]
    assert list(compact) == list(long)  # --json keeps its shape
    for v, s in shown.items():  # each pair has its own keys and wiki ids: each against its own
        hq, school = pairs[v].hq, pairs[v].school
        assert s["sender"] == hq.wiki_id and s["signer_key_id"] == hq.public_key().key_id
        assert school.wiki_id.startswith(s["receiver"]) and len(s["receiver"]) == (32 if v == VERSION else 16)
    assert (compact["source"], compact["tool"], compact["breakdown"].get("namespaces")) == ("", "", {})
    assert long["source"] and long["tool"] and long["breakdown"]["namespaces"]
    # every reader of version 2 reads files, PPMd frames, slot deltas and the primer: the compact form implies them
    assert compact["capabilities"] == ["records-v1", "char-delta-v1", "files-v1", "ppmd7-primed-v1", "slot-delta-v1",
                                       "primer-v1"]
    assert long["capabilities"] == ["records-v1", "char-delta-v1"]
    per_side = {"file", "bytes", "format_version", "sender", "receiver", "basis", "checkpoint", "created",
                "signer_key_id", "verified", "frames", "source", "tool", "breakdown", "capabilities"}
    assert {k: v for k, v in compact.items() if k not in per_side} == {k: v for k, v in long.items() if k not in per_side}
    assert [(f["type"], f["revisions"], f["base_texts"]) for f in compact["frames"]] == \
        [(f["type"], f["revisions"], f["base_texts"]) for f in long["frames"]]
    assert compact["counts"]["revisions"] > 0
    with BundleReader(str(tmp_path / f"v{VERSION_COMPACT}" / "b2.bundle")) as r:
        assert compact["checkpoint"] == r.body_sha256[:16].hex() and compact["basis"] == r.header.basis.hex()
    shown = " ".join(run_cli("inspect", str(tmp_path / f"v{VERSION_COMPACT}" / "b2.bundle")).output.split())
    assert "by — from —" in shown and "the wiki of key" in shown


def test_informational_fields_travel_from_4_kib_of_frames(tmp_path):
    """source, tool and breakdown: in a compact bundle whose frames take 4 KiB or more (the
    first London Ontario bundle), not in a smaller one (test above); inspect shows them."""
    pair = new_pair(str(tmp_path))
    made, _ = pair.carry(LDNONT[0], 1)
    with BundleReader(made.path) as r:
        assert r.compact and r.header_end < r.body_len - compact.INFO_MIN_FRAMES
    shown = json.loads(run_cli("inspect", made.path, "--json").output)
    assert shown["tool"].startswith("wikibundle ") and shown["source"] and shown["breakdown"]["namespaces"]
    assert "where the bytes go" in run_cli("inspect", made.path).output


def test_a_long_form_bundle_then_a_compact_one_apply_in_series(tmp_path):
    """A sender updated between two bundles: the receiver reads both forms."""
    tmp = str(tmp_path)
    with mock.patch.object(container, "WRITE_VERSION", VERSION):
        pair = new_pair(tmp)
        pair.carry(LDNONT[0], 1)
    made, applied = pair.carry(LDNONT[3], 2)
    with BundleReader(made.path) as r:
        assert r.version == VERSION_COMPACT
    assert applied.revisions_added > 0 and store_history(pair.school) == dump_history(LDNONT[3])


# --- re-signed mutations (test_fuzz.py's, on the compact form) -------------------------------


@pytest.fixture(scope="module")
def target(tmp_path_factory) -> Target:
    tmp = str(tmp_path_factory.mktemp("compact-fuzz"))
    pair, path = carried(tmp, VERSION_COMPACT)
    with open(path, "rb") as f:
        data = f.read()
    store = pair.school.store()
    frames = []
    with BundleReader(path) as r:
        r.verify(pair.school.state.peer_by_key_id)
        for fr in r.frames():
            # the base texts; frame_raw and frame_body add the primer parts (entries <= 0) after them
            dictionary = b"".join(store.get_text(i).encode("utf-8") for i in fr.meta["dict"] if i > 0)
            raw = frame_raw(fr.meta, fr.body, fr.raw_len, dictionary)
            frames.append(Frame(fr.offset, fr.meta, raw, dictionary))
        header_end = r.header_end
    store.close()
    assert any(f.meta["dict"] for f in frames), "want a frame that builds on texts the school holds"
    assert any(i <= 0 for f in frames for i in f.meta["dict"]), "want a frame that names the primer"
    return Target(tmp, pair.school, pair.hq.secret_key(), data, header_end, frames, store_digest(pair.school),
                  received_rows(pair.school), snapshot_databases(pair.school), Counter())


@given(st.data())
@settings(max_examples=EXAMPLES_FILE, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_mutated_compact_bundles_raise_only_our_errors_and_change_nothing(target, d):
    """Byte edits of the body, re-signed (the fixed part's lengths left as they are, or
    fixed up so the mutation reaches the frames), or of the whole file unsigned."""
    t = target
    layout = Layout.of(t.data)
    body = layout.body()
    how = d.draw(st.sampled_from(["unsigned", "re-signed", "re-framed"]), label="how")
    if how == "unsigned":
        data = mutate(d, t.data, [])
    elif how == "re-signed":
        data = container.seal(mutate(d, body, []), t.key)
    else:  # one frame's meta or body bytes edited, every length written to match
        k = d.draw(st.integers(0, len(layout.frames) - 1), label="frame")
        part = d.draw(st.sampled_from([1, 2]), label="part")
        layout.frames[k][part] = mutate(d, layout.frames[k][part], [])
        data = layout.signed(t.key)
    if data == t.data:
        return
    outcome = check_apply(t, data, how)
    if how == "unsigned":
        assert outcome not in ("applied", "already applied", "ContentError"), f"an unsigned mutation got through: {outcome}"


@given(st.data())
@settings(max_examples=EXAMPLES_PAYLOAD, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_mutated_compact_payloads_and_metas_resigned_raise_only_our_errors(target, d):
    """The array payload and array meta as trees: nodes replaced, deleted, duplicated, added;
    re-compressed with the frame's dictionary and re-signed."""
    t = target
    layout = Layout.of(t.data)
    k = d.draw(st.integers(0, len(t.frames) - 1), label="frame")
    fr = t.frames[k]
    meta, raw = container.compact_meta(fr.meta), fr.raw
    if d.draw(st.booleans(), label="meta"):
        meta = mutate_tree(d, wire.unpackb(wire.packb(meta), what="t", int_keys=True))
    else:
        raw = wire.packb(mutate_tree(d, wire.unpackb(raw, what="t")))
    layout.frames[k] = [FRAME_RECORDS, wire.packb(meta), frame_body(fr.meta, raw, fr.dictionary), len(raw)]
    outcome = check_apply(t, layout.signed(t.key), "payload")
    assert outcome not in ("IntegrityError", "SignatureError", "UntrustedKeyError", "TruncatedError")


def test_the_compact_payload_is_the_map_by_position():
    """compact_payload and expand_payload are inverses on what FrameBuilder writes."""
    from bundler.model import Page, PageId, RevId, Revision

    fb = records.FrameBuilder()
    fb.add_revision(Page(PageId(1), 0, "A"), Revision(RevId(1), PageId(1), 0, "x\n", user="U", comment="c"), None, None)
    meta, body, raw_len = fb.build(level=1, compact=True, coder="zstd", primer=False)
    arr = wire.unpackb(wire.decompress(body, expected_size=raw_len, what="t"), what="t")
    assert isinstance(arr, list) and records.compact_payload(records.expand_payload(arr, "t")) == arr
    with pytest.raises(errors.FormatError, match="at least 8"):
        records.expand_payload(arr[:7], "t")
    with pytest.raises(errors.FormatError, match="at least 14"):
        records.expand_payload(arr[:4] + [arr[4][:13]] + arr[5:], "t")



def test_compact_page_ids_travel_as_differences_and_come_back_in_any_order():
    """§Compact form, pages: each id is the difference from the row before's; a page
    listed after a higher id (a negative difference) reads back as written."""
    from bundler.model import Page, PageId, RevId, Revision

    fb = records.FrameBuilder()
    for pid, rid in ((1_000_000, 5), (7, 6), (9, 7)):
        fb.add_revision(Page(PageId(pid), 0, f"P{pid}"), Revision(RevId(rid), PageId(pid), 0, f"t{pid}\n", user="U"),
                        None, None)
    meta, body, raw_len = fb.build(level=1, compact=True, coder="zstd", primer=False)
    arr = wire.unpackb(wire.decompress(body, expected_size=raw_len, what="t"), what="t")
    assert [p[0] for p in arr[1]] == [1_000_000, 7 - 1_000_000, 2]
    meta = container.expand_meta(container.compact_meta(meta), "t")  # as the container carries it
    content = frame_reader.decode_frame(meta, body, raw_len, lambda r: None, what="t", compact=True)
    assert [p.page_id for p in content.pages] == [1_000_000, 7, 9]
    assert [(r.page_id, r.text) for r in content.revisions] == [(1_000_000, "t1000000\n"), (7, "t7\n"), (9, "t9\n")]


def test_format_version_1_is_written_for_older_readers(tmp_path):
    """``bundle make --format-version 1``: the long form and zstd frames only — what a
    wikibundle from before the compact form and the PPMd coder reads (the capabilities
    are v1's); the school applies it as any bundle. Without the flag: version 2."""
    pair = new_pair(str(tmp_path))
    pair.carry(LDNONT[0], 1)
    b2 = str(tmp_path / "b2.bundle")
    run_cli("make", "-C", pair.hq.path, "--from", LDNONT[3], "--since", str(tmp_path / "m1.wbm"), "--out", b2,
            "--format-version", "1")
    with BundleReader(b2) as r:
        assert r.version == VERSION
        r.verify(pair.school.state.peer_by_key_id)
        assert set(r.header.capabilities) <= {"records-v1", "char-delta-v1", "files-v1"}
        assert all("coder" not in fr.meta for fr in r.frames())
    shown = " ".join(run_cli("inspect", b2).output.split())
    assert "version 1 (long form); 1 frame zstd" in shown
    pair.apply(b2, "m2.wbm")
    assert store_history(pair.school) == dump_history(LDNONT[3])
    b3 = str(tmp_path / "b3.bundle")
    run_cli("make", "-C", pair.hq.path, "--from", LDNONT[4], "--since", str(tmp_path / "m2.wbm"), "--out", b3)
    with BundleReader(b3) as r:
        assert r.version == VERSION_COMPACT
    assert "version 2 (compact form)" in " ".join(run_cli("inspect", b3).output.split())
    run_cli("make", "-C", pair.hq.path, "--from", LDNONT[4], "--out", b3, "--format-version", "3", code=2)


def test_a_key_whose_hint_a_trusted_key_has_is_refused(tmp_path, monkeypatch):
    """A compact bundle names its signer by the key id's first 4 bytes, so a side never trusts two
    wikis' keys that share them (`bundle trust` says so, exit 40); the same wiki's new key replaces."""
    from bundler import signing

    pair = new_pair(str(tmp_path))
    third = new_pair(str(tmp_path / "t")).hq.public_key()
    real = signing.key_id
    hint = pair.hq.public_key().key_id[:8]
    monkeypatch.setattr(signing, "key_id", lambda public: hint + real(public)[8:] if public == third.public else real(public))
    with pytest.raises(errors.KeyFileError, match="first 8 hex digits") as ei, pair.school.state.transaction():
        pair.school.state.add_peer(third)
    assert ei.value.exit_code == 40
    assert [p.wiki_id for p in pair.school.state.peers()] == [pair.hq.wiki_id]
    with pair.school.state.transaction():  # hq's own new key (same wiki id) is no clash
        assert pair.school.state.add_peer(signing.PublicKey(pair.hq.wiki_id, third.public, "hq"))
