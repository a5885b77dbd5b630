"""Round trips and 'malformed input raises only our errors', with hypothesis."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bundler import wire
from bundler.delta import apply_delta, text_delta
from bundler.errors import BundleError
from bundler.model import Page, Revision
from bundler.frame_reader import decode_frame
from bundler.records import FrameBuilder

lines = st.lists(
    st.sampled_from(["a\n", "b\n", "", "c", "\r\n", "é\n", "x\ry", "== H ==\n", "\u2028", "word ", "other, ", "[[Link|x]]", "😀"]), max_size=30
).map("".join)


@given(lines, lines)
@settings(max_examples=400)
def test_char_delta_round_trips(a, b):
    assert apply_delta(a, text_delta(a, b), what="t") == b


@given(lines, lines)
@settings(max_examples=200)
def test_char_delta_round_trips_on_the_greedy_path(a, b):
    import bundler.delta as d

    old = d.MAX_MATCH_TOKENS
    d.MAX_MATCH_TOKENS = 0  # every replaced block goes through the trigram matcher
    try:
        assert apply_delta(a, text_delta(a, b), what="t") == b
    finally:
        d.MAX_MATCH_TOKENS = old


def test_delta_keeps_words_of_an_edited_paragraph():
    base = "== Intro ==\n" + "The quick brown fox jumps over the lazy dog. " * 20 + "\n"
    new = base.replace("lazy dog. The quick", "lazy cat. The quick", 1)
    ops = text_delta(base, new)
    assert sum(len(t) for _, t, _ in ops) < 10


@given(st.text(max_size=200), st.lists(st.tuples(st.integers(-3, 40), st.text(max_size=5), st.integers(-3, 40)), max_size=8))
def test_hostile_delta_ops_raise_only_our_errors(base, ops):
    try:
        out = apply_delta(base, ops, what="t")
    except BundleError:
        return
    assert len(out) <= len(base) + sum(len(t) for _, t, _ in ops)  # no amplification


def _frame(texts, coder="zstd"):
    fb = FrameBuilder()
    page = Page(1, 0, "Page", None)
    base_id, base_text = None, None
    for i, t in enumerate(texts, 1):
        parent = None if i == 1 else (i - 1 if i % 3 else 1)  # mostly the base; sometimes an older one
        fb.add_revision(page, Revision(rev_id=i, page_id=1, timestamp=1000 + i, text=t, user="U", user_id=1, parent_id=parent), base_id, base_text)
        base_id, base_text = i, t
    return fb.build(level=3, coder=coder)


@pytest.mark.parametrize("coder", ["zstd", "ppmd"])
@given(texts=st.lists(lines, min_size=1, max_size=6))
@settings(max_examples=100, deadline=None)  # PPMd decodes in a thread of its own: slower to start under load
def test_frames_round_trip(coder, texts):
    meta, body, raw_len = _frame(texts, coder)
    assert ("coder" in meta) == (coder == "ppmd")
    content = decode_frame(meta, body, raw_len, lambda r: None, what="f")
    revs = list(content.revisions)
    assert [r.text for r in revs] == texts
    assert [r.parent_id for r in revs] == [None if i == 1 else (i - 1 if i % 3 else 1) for i in range(1, len(texts) + 1)]


@given(st.binary(max_size=300))
def test_msgpack_garbage_raises_only_our_errors(data):
    try:
        wire.unpackb(data, what="x")
    except BundleError:
        pass


@given(st.data())
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_mutated_frames_raise_only_our_errors(d):
    meta, body, raw_len = _frame(["a\nb\n", "a\nB\nc\n", "x\n"])
    raw = bytearray(wire.decompress(body, expected_size=raw_len, what="f"))
    for _ in range(d.draw(st.integers(1, 4))):
        i = d.draw(st.integers(0, len(raw) - 1))
        raw[i] = d.draw(st.integers(0, 255))
    body2 = wire.compress(bytes(raw), level=1)
    try:
        decode_frame(meta, body2, len(raw), lambda r: None, what="f")
    except BundleError:
        pass


def test_zstd_bomb_is_capped():
    """A frame that declares less than it decompresses to is refused, never expanded."""
    big = wire.compress(b"\0" * (50 << 20), level=1)
    assert len(big) < 100_000
    for declared in (10, (50 << 20) + 1):
        try:
            wire.decompress(big, expected_size=declared, what="f")
        except BundleError:
            continue
        raise AssertionError("bomb accepted")


def test_msgpack_nesting_bomb():
    nested = b"\x91" * 10_000 + b"\xc0"
    try:
        wire.unpackb(nested, what="x")
    except BundleError:
        return
    raise AssertionError("nesting bomb accepted")
