"""MCR slots as deltas (capability slot-delta-v1, formats/BUNDLE.md §Payload, column ``sl``).

On the real Commons sample (a file page whose ``mediainfo`` slot, JSON, grows from 393
to 2,011 characters over 26 revisions; tests/data/README.md), cut before its newest
revision as the size benchmark cuts it: the second bundle carries that revision's slot
as a delta against the slot of the revision the receiver holds. Checked on the embedded
store and on a real MediaWiki 1.39 that holds a second slot role (configured in its
LocalSettings.php as WikibaseMediaInfo would define it, with core's JSON content handler:
the extension is not packaged for Debian), and the reader's refusals.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bundler import wire
from bundler.container import SLOT_DELTA_CAPABILITY, BundleReader
from bundler.errors import BundleError, ContentError, FormatError
from bundler.model import Page, PageId, RevId, Revision, Slot, parse_timestamp, text_sha1
from bundler.frame_reader import FrameReader, decode_frame
from bundler.records import FrameBuilder
from bundler.sources.dump import open_dump
from helpers import data, embedded_to_wiki_sides, pair, run_cli  # noqa: F401

COMMONS = data("MediawikiDumperOutputTest.Commonswiki.Sample.xml")
NEWEST = parse_timestamp("2025-09-03T16:06:02Z")  # the newest revision: a zh-hant label added to the mediainfo slot


def dump_revisions() -> list[Revision]:
    with open_dump(COMMONS) as d:
        return [r for ph in d for r in ph.revisions]


def slot_columns(path: str, store) -> list:
    """Each records frame's ``sl`` column, decompressed as the receiver would."""
    out = []
    with BundleReader(path) as r:
        r.verified = True  # (our own bundle: only its frames are read here)
        for fr in r.frames():
            reader = FrameReader(fr.meta, store.get_text, what="test", compact=fr.compact)
            dict_revs = reader.frame_meta()
            assert reader.coder is None, "the writer chose PPMd for a one-revision frame"
            payload = reader.payload(fr.body, fr.raw_len, dict_revs, reader.dictionary(dict_revs, reader.base_texts(dict_revs)))
            out.append(payload["revs"]["sl"])
    return out


def test_the_newest_mediainfo_slot_travels_as_a_delta_and_lands_as_it_was(pair, tmp_path):
    made1, _ = pair.carry(COMMONS, 1, until=NEWEST - 1)
    with BundleReader(made1.path) as r:
        assert SLOT_DELTA_CAPABILITY in r.header.capabilities  # within bundle 1, on the previous rows (b = 0)
    made2, applied = pair.carry(COMMONS, 2)
    assert made2.counts.revisions == 1 and applied.revisions_added == 1
    with BundleReader(made2.path) as r:
        assert SLOT_DELTA_CAPABILITY in r.header.capabilities
    store = pair.school.store()
    try:
        (sl,) = slot_columns(made2.path, store)
        [[_row, [[role, model, fmt, ops]]]] = sl
        assert (role, model, fmt) == ("mediainfo", None, None) and isinstance(ops, list)
        assert sum(len(x) for x in ops[1::3]) < 200  # the label, not the 2,011-character slot
        held = {r.rev_id: r.slots for ph in store.pages() for r in ph.revisions}
    finally:
        store.close()
    src = {r.rev_id: r.slots for r in dump_revisions()}
    assert held == src and src[max(src)][0].text.count("zh-hant") == 2

    # The same update for a receiver that asked for version 1: the slot whole, no capability.
    made_v1 = pair.make(COMMONS, "b2-v1.bundle", since=str(tmp_path / "m1.wbm"), format_version=1)
    with BundleReader(made_v1.path) as r:
        assert SLOT_DELTA_CAPABILITY not in r.header.capabilities
    assert made2.size < made_v1.size - 400


# --- the reader's refusals, on one frame built by the real writer ------------------------

BASE = Revision(RevId(10), PageId(1), 1_700_000_000, "text\n", user="A", user_id=1,
                slots=(Slot("mediainfo", "wikibase-mediainfo", "application/json", '{"labels":{},"statements":[]}'),))
NEW_SLOT = '{"labels":{"en":{"language":"en","value":"A label"}},"statements":[]}'


def frame(slot_deltas: bool = True, base_slots: tuple[Slot, ...] = BASE.slots):
    fb = FrameBuilder(slot_deltas=slot_deltas)
    rev = Revision(RevId(11), PageId(1), 1_700_000_100, "text\nmore\n", user="A", user_id=1, parent_id=RevId(10),
                   slots=(dataclasses.replace(BASE.slots[0], text=NEW_SLOT),))
    fb.add_revision(Page(PageId(1), 6, "File:X.jpg"), rev, 10, BASE.text, None, base_slots)
    return fb, fb.build(coder="zstd")


def decode(built, held_slots, *, slot_deltas: bool = True):
    meta, body, raw_len = built
    return list(decode_frame(meta, body, raw_len, {10: BASE.text}.get, what="frame", get_slots=held_slots.get,
                             slot_deltas=slot_deltas).revisions)


def test_a_slot_delta_rebuilds_the_slot_and_keeps_the_base_model():
    fb, built = frame()
    assert fb.used_slot_deltas and isinstance(fb.cols["sl"][0][1][0][3], list)
    (rev,) = decode(built, {10: BASE.slots})
    assert rev.slots == (dataclasses.replace(BASE.slots[0], text=NEW_SLOT),)
    fb, _built = frame(slot_deltas=False)  # the writer of version 1: whole
    assert not fb.used_slot_deltas and fb.cols["sl"][0][1][0][3] == NEW_SLOT


def test_slot_delta_refusals():
    _fb, built = frame()
    with pytest.raises(FormatError, match="does not list slot-delta-v1"):
        decode(built, {10: BASE.slots}, slot_deltas=False)
    with pytest.raises(ContentError, match="whose slot of that role this side does not hold"):
        decode(built, {10: ()})
    with pytest.raises(ContentError, match="whose slot of that role this side does not hold"):
        decode(built, {})  # the revision itself not held (or its text hidden)
    other = (dataclasses.replace(BASE.slots[0], text='{"labels":[],"statements":{}}'),)  # same length, other bytes
    with pytest.raises(ContentError, match="rebuilt texts do not match the sender's"):
        decode(built, {10: other})
    short = (dataclasses.replace(BASE.slots[0], text="{}"),)
    with pytest.raises(ContentError):
        decode(built, {10: short})  # the operations run past this base


@pytest.mark.parametrize("ops, error", [
    ([0, "x"], "triples"),
    ([0, 5, 3], "expected"),
    ([0.0, "", 3], "expected"),
])
def test_malformed_slot_delta_operations_are_format_errors(ops, error):
    fb, _ = frame()
    fb.cols["sl"][0][1][0][3] = ops
    with pytest.raises(FormatError):
        decode(fb.build(coder="zstd"), {10: BASE.slots})


def history_frame(slot_texts: list[str | None], deltas: bool = True):
    """One page whose revisions each carry a ``mediainfo`` slot (None: a revision without one),
    every revision on the previous (b = 0), as ``Filler`` adds them."""
    fb = FrameBuilder(slot_deltas=deltas)
    page = Page(PageId(1), 6, "File:X.jpg")
    prev: Revision | None = None
    for i, t in enumerate(slot_texts, 1):
        slots = () if t is None else (Slot("mediainfo", "wikibase-mediainfo", "application/json", t),)
        rev = Revision(RevId(i), PageId(1), 1000 + i, f"text {i}\n", user="U", user_id=1, slots=slots)
        fb.add_revision(page, rev, prev and prev.rev_id, prev and prev.text, None, prev and prev.slots)
        prev = rev
    return fb, fb.build(level=3, coder="zstd")


json_texts = st.lists(st.sampled_from(['"a":1', '"b":[1,2,3]', '"label":"Pear"', '"p":{"x":"yz"}', '"q":null']), max_size=8).map(
    lambda kv: "{" + ",".join(kv) + "}")


@given(st.lists(st.one_of(st.none(), json_texts), min_size=1, max_size=6))
@settings(max_examples=100, deadline=None)
def test_slot_histories_round_trip(slot_texts):
    _fb, (meta, body, raw_len) = history_frame(slot_texts)
    revs = list(decode_frame(meta, body, raw_len, lambda r: None, what="f", slot_deltas=True).revisions)
    assert [r.slots[0].text if r.slots else None for r in revs] == slot_texts
    assert all(s.model == "wikibase-mediainfo" for r in revs for s in r.slots)


@given(st.data())
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_mutated_slot_delta_frames_raise_only_our_errors(d):
    texts = ['{"labels":{},"statements":{"P180":[{"id":"Q1"}]}}', '{"labels":{"en":"Pear"},"statements":{"P180":[{"id":"Q1"}]}}',
             '{"labels":{"en":"Pear","fr":"Poire"},"statements":{"P180":[{"id":"Q1"}]}}']
    fb, (meta, body, raw_len) = history_frame(texts)
    assert fb.used_slot_deltas
    raw = bytearray(wire.decompress(body, expected_size=raw_len, what="f"))
    for _ in range(d.draw(st.integers(1, 4))):
        raw[d.draw(st.integers(0, len(raw) - 1))] = d.draw(st.integers(0, 255))
    try:
        list(decode_frame(meta, wire.compress(bytes(raw), level=1), len(raw), lambda r: None, what="f", slot_deltas=True).revisions)
    except BundleError:
        pass


# --- a real MediaWiki that holds a second slot role -------------------------------------

# As WikibaseMediaInfo defines the role on Commons, with core's JSON handler for its model
# (a MediaWiki without them refuses the whole import: "Undefined slot role mediainfo").
MEDIAINFO_ROLE = r"""
$wgContentHandlers['wikibase-mediainfo'] = [ 'class' => JsonContentHandler::class, 'args' => [ 'wikibase-mediainfo' ] ];
$wgHooks['MediaWikiServices'][] = static function ( $services ) {
	$services->addServiceManipulator( 'SlotRoleRegistry', static function ( $registry ) {
		$registry->defineRoleWithModel( 'mediainfo', 'wikibase-mediainfo', [ 'display' => 'none' ] );
	} );
};
"""


@pytest.mark.mediawiki
def test_slot_deltas_apply_to_a_mediawiki_that_holds_the_role(mediawiki_factory, tmp_path, monkeypatch):
    wiki = mediawiki_factory("mcr", start=False)
    with open(wiki.conf, "a", encoding="utf-8") as f:
        f.write(MEDIAINFO_ROLE)
    wiki.start()
    hq, school, client = embedded_to_wiki_sides(wiki, tmp_path, monkeypatch)
    run_cli("import", "-C", hq, COMMONS)
    cut = "2025-09-03T16:06:01Z"
    run_cli("make", "-C", hq, "--until", cut, "--out", tmp_path / "b1.bundle")
    run_cli("apply", "-C", school, tmp_path / "b1.bundle", "--manifest-out", tmp_path / "m1.wbm")
    made = json.loads(run_cli("make", "-C", hq, "--since", tmp_path / "m1.wbm", "--out", tmp_path / "b2.bundle", "--json").output)
    assert made["revisions"] == 1
    with BundleReader(str(tmp_path / "b2.bundle")) as r:
        assert SLOT_DELTA_CAPABILITY in r.header.capabilities
    run_cli("apply", "-C", school, tmp_path / "b2.bundle")
    # Read back over the API, every slot: the wiki holds each revision's mediainfo slot as the dump has it.
    src = {(r.timestamp, r.sha1): r.slots for r in dump_revisions()}
    title = next(iter({p.title for p, _r in client.iter_allrevisions() if p.namespace == 6}))
    ids = [r.rev_id for r in client.page_revisions(title, content=False)]
    got = {(r.timestamp, text_sha1(r.text)): r.slots for _p, r in client.revisions_by_id(ids, all_slots=True)}
    assert set(src) <= set(got)  # every revision landed (found by its main slot's sha1: slotsha1)
    newest = max(src)
    assert [(s.role, text_sha1(s.text)) for s in got[newest]] == [(s.role, text_sha1(s.text)) for s in src[newest]]
    assert {k: [(s.role, s.text) for s in got[k]] for k in src} == {k: [(s.role, s.text) for s in v] for k, v in src.items()}
