"""The PPMd frame coder (bundler/coder.py, BUNDLE.md §Coder ppmd7-primed).

The priming trick rests on one property of the 7z range coder that pyppmd does
not document: the bytes ``encode(D)`` returns are final, a prefix of the stream
of D ‖ R. It is checked here on real texts (eslagunanegra's history), and with
an empty dictionary. Then hostile bodies and claims, the writer's choice per
frame, and make → apply on two sides with PPMd frames.
"""

from __future__ import annotations

import os
from functools import cache

import pyppmd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bundler import coder, frame_reader, records, wire
from bundler.container import PPMD_CAPABILITY, BundleReader
from bundler.errors import FormatError, LimitError, UsageError
from bundler.model import Page, PageId, RevId, Revision
from bundler.sources.dump import open_dump
from helpers import LDNONT, data, deadline, dump_history, frame_raw, new_pair, store_history


@cache
def real_texts() -> tuple[bytes, bytes]:
    """(D, R) from a real wiki: older revisions of eslagunanegra's first pages as the
    dictionary, their later revisions as the payload (~200 KB and ~100 KB)."""
    old, new = [], []
    with open_dump(data("eslagunanegra-pages-full.xml.xz")) as d:
        for ph in d:
            texts = [r.text.encode() for r in ph.revisions if r.text]
            half = len(texts) // 2
            old += texts[:half]
            new += texts[half:]
            if sum(map(len, old)) > 200_000:
                break
    return b"".join(old)[:200_000], b"".join(new)[:100_000]


def test_priming_prefix_is_a_prefix_of_the_whole_stream():
    D, R = real_texts()
    mem = coder.memory_for(len(D) + len(R))
    enc = pyppmd.Ppmd7Encoder(coder.ORDER, mem)
    whole = enc.encode(D + R) + enc.flush(endmark=False)
    _, prefix = coder.prime(D, coder.ORDER, mem)
    assert len(prefix) > 1000 and whole.startswith(prefix)
    body = coder.compress(R, D, coder.ORDER, mem)
    assert prefix + body == whole
    assert coder.decompress(body, expected_size=len(R), dictionary=D, order=coder.ORDER, mem=mem, what="t") == R
    # The model's knowledge of D is what the receiver gains: R alone costs more.
    alone = coder.compress(R, b"", coder.ORDER, mem)
    assert len(body) < 0.8 * len(alone)
    # An empty dictionary: P is empty and the body is the whole stream (which starts with 0).
    assert coder.prime(b"", coder.ORDER, mem)[1] == b""
    assert alone[0] == 0
    assert coder.decompress(alone, expected_size=len(R), dictionary=b"", order=coder.ORDER, mem=mem, what="t") == R


@cache
def sample() -> tuple[bytes, bytes, int, bytes]:
    D, R = real_texts()
    D, R = D[:20_000], R[:10_000]
    mem = coder.memory_for(len(D) + len(R))
    return D, R, mem, coder.compress(R, D, coder.ORDER, mem)


@given(st.data())
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_hostile_bodies_raise_only_format_errors_and_never_hang(d):
    D, R, mem, body = sample()
    b = bytearray(body)
    kind = d.draw(st.sampled_from(["flip", "cut", "insert", "append", "random", "params", "dictionary", "size"]), label="kind")
    order, size, dictionary = coder.ORDER, len(R), D
    if kind == "flip":
        for i in d.draw(st.sets(st.integers(0, len(b) - 1), min_size=1, max_size=4)):
            b[i] ^= d.draw(st.integers(1, 255))  # never the same byte again
    elif kind == "cut":
        b = b[: d.draw(st.integers(0, len(b) - 1))]
    elif kind == "insert":
        at = d.draw(st.integers(0, len(b)))
        b[at:at] = d.draw(st.binary(min_size=1, max_size=8))
    elif kind == "append":
        b += d.draw(st.binary(min_size=1, max_size=8))
    elif kind == "random":
        b = bytearray(d.draw(st.binary(max_size=3000)))
        dictionary = d.draw(st.sampled_from([b"", D]))
    elif kind == "params":
        # Other models: low orders, or memory so small the model restarts. (An order or
        # memory that codes to the same stream is not wrong: BUNDLE.md says so.)
        order = d.draw(st.sampled_from([coder.MIN_ORDER, 3, 4, 6, 8, coder.ORDER]))
        mem = d.draw(st.sampled_from([coder.MIN_MEM, 1 << 14] + ([mem] if order != coder.ORDER else [])))
    elif kind == "dictionary":
        i = d.draw(st.integers(0, len(D) - 1))
        dictionary = D[:i] + bytes([D[i] ^ 0x20]) + D[i + 1:]
    else:
        size = d.draw(st.integers(0, len(R) - 1))
    with deadline(20):
        try:
            got = coder.decompress(bytes(b), expected_size=size, dictionary=dictionary, order=order, mem=mem, what="t")
        except FormatError:
            return
    # Only a shorter declared size may pass the coder: the payload's last symbols were so
    # probable that coding them left the stream unchanged. What passes is then R's prefix,
    # which the payload's msgpack check refuses (raw_len is signed; BUNDLE.md says so).
    assert kind == "size" and got == R[:size]


@pytest.mark.parametrize("order,mem,error", [
    (1, 16 << 20, FormatError), (65, 16 << 20, FormatError), (True, 16 << 20, FormatError), (32.0, 16 << 20, FormatError),
    (32, coder.MIN_MEM - 1, FormatError), (32, None, FormatError), (32, coder.MAX_MEM + 1, LimitError), (32, 1 << 40, LimitError),
])
def test_claims_are_checked_before_a_model_is_allocated(order, mem, error):
    with pytest.raises(error):
        coder.check_params(order, mem, what="t")
    assert coder.check_params(coder.MAX_ORDER, coder.MAX_MEM, what="t") == (coder.MAX_ORDER, coder.MAX_MEM)


def test_input_over_the_limit_is_refused_before_decoding(monkeypatch):
    D, R, mem, body = sample()
    monkeypatch.setattr(coder, "MAX_INPUT", len(D) + len(R) - 1)
    with pytest.raises(LimitError):
        coder.decompress(body, expected_size=len(R), dictionary=D, order=coder.ORDER, mem=mem, what="t")
    assert not coder.fits(len(D), len(R))


def _builder(texts: list[str], with_base: bool) -> records.FrameBuilder:
    """One page's history of real texts; the first revision is held by the receiver when ``with_base``."""
    fb = records.FrameBuilder()
    page = Page(PageId(1), 0, "Page")
    base_id, base_text = (1, texts[0]) if with_base else (None, None)
    for i, t in enumerate(texts[1:] if with_base else texts, 2):
        fb.add_revision(page, Revision(RevId(i), PageId(1), 1000 + i, t, user="U", user_id=1, comment=f"edit {i}"), base_id, base_text)
        base_id, base_text = i, t
    return fb


def test_the_writer_keeps_the_smaller_coder_and_the_reader_follows(monkeypatch):
    D, R = real_texts()
    texts = [D[i:i + 20_000].decode(errors="ignore") for i in range(0, 100_000, 20_000)]
    fb = _builder(texts, with_base=True)
    sizes = {}
    for choice in ("zstd", "ppmd", "best"):
        meta, body, raw_len = fb.build(coder=choice)
        sizes[choice] = len(body)
        assert meta.get("coder") == (None if choice == "zstd" else coder.CODER)
        content = frame_reader.decode_frame(meta, body, raw_len, lambda r: texts[0] if r == 1 else None, what="t")
        assert [r.text for r in content.revisions] == texts[1:]
    assert sizes["best"] == min(sizes["zstd"], sizes["ppmd"]) == sizes["ppmd"]
    # The environment picks the coder; a frame too large for the reader's PPMd limit stays zstd.
    monkeypatch.setenv("WIKIBUNDLE_CODER", "zstd")
    assert "coder" not in fb.build()[0]
    monkeypatch.setenv("WIKIBUNDLE_CODER", "ppmd")
    monkeypatch.setattr(coder, "MAX_INPUT", 1000)
    assert "coder" not in fb.build()[0]
    monkeypatch.setenv("WIKIBUNDLE_CODER", "lzma")
    with pytest.raises(UsageError):
        fb.build()


def test_ppmd_payload_layout_only_reorders_keys():
    D, R = real_texts()
    fb = _builder([R[:3000].decode(errors="ignore"), R[3000:6000].decode(errors="ignore")], with_base=False)
    meta, body, raw_len = fb.build(coder="ppmd")
    payload = wire.unpackb(frame_raw(meta, body, raw_len), what="t")
    assert list(payload)[0] == "revs" and list(payload["revs"])[:2] == ["ins", "sc"]
    zmeta, zbody, zraw_len = fb.build(coder="zstd")
    assert zraw_len == raw_len and wire.unpackb(frame_raw(zmeta, zbody, zraw_len), what="t") == payload


def test_make_apply_with_ppmd_frames_on_two_stores(tmp_path, monkeypatch):
    """Real ldnont dumps: bundle 1 (no dictionary) and bundle 2 (deltas on the texts
    of bundle 1) coded as the writer chooses: PPMd where smaller. The school then
    holds the same history as the dump; a second school, given the same bundles
    made with zstd forced, holds the same, and the zstd bundles are larger."""
    monkeypatch.delenv("WIKIBUNDLE_CODER", raising=False)
    pair = new_pair(str(tmp_path / "a"))
    sizes = []
    for n, dump in ((1, LDNONT[0]), (2, LDNONT[3])):
        made, applied = pair.carry(dump, n)
        with BundleReader(made.path) as r:
            r.verify(pair.school.state.peer_by_key_id)
            metas = [fr.meta for fr in r.frames()]
            # Every reader of the compact form reads PPMd frames: the capability is implied, never
            # listed. Bundle 1 (no dictionary) is a toss-up between the coders; bundle 2 is not.
            assert PPMD_CAPABILITY in r.header.capabilities
            if n == 2:
                assert any(m.get("coder") == coder.CODER and m["dict"] for m in metas), "want a primed frame"
        sizes.append(os.path.getsize(made.path))
        assert store_history(pair.school) == dump_history(dump)

    monkeypatch.setenv("WIKIBUNDLE_CODER", "zstd")
    other = new_pair(str(tmp_path / "b"))
    for n, dump in ((1, LDNONT[0]), (2, LDNONT[3])):
        made, _ = other.carry(dump, n)
        with BundleReader(made.path) as r:
            r.verify(other.school.state.peer_by_key_id)
            assert not any("coder" in fr.meta for fr in r.frames())
        size = os.path.getsize(made.path)
        assert size > sizes[1] if n == 2 else size >= sizes[0]
        assert store_history(other.school) == dump_history(dump)


def test_pyppmd_reports_the_end_of_this_real_stream_early():
    """A pin on the library: tests/data/ppmd-early-eof.body is the PPMd body of a real
    frame (eslagunanegra's history up to 2017-01-31T02:43:28Z, exported by
    benchmarks/sizes.py, one frame of 1,478,191 bytes, no dictionary, order 32,
    128 MiB), as pyppmd's encoder wrote it. pyppmd's decoder stops after 371,410
    bytes with ``eof`` set, every time. If this test fails, pyppmd has changed:
    see whether ``coder.reads_back`` is still needed."""
    with open(data("ppmd-early-eof.body"), "rb") as f:
        body = f.read()
    with pytest.raises(FormatError, match="decodes to 371410 of its 1478191 bytes"):
        coder._decode(body, 1478191, 32, 128 << 20, what="pin")
    assert not coder.reads_back(body, bytes(1478191), b"", 32, 128 << 20)


def test_a_frame_pyppmd_cannot_read_back_is_sent_with_zstd(tmp_path, monkeypatch):
    """The writer checks every PPMd body it would send (``coder.reads_back``); where
    pyppmd cannot give the payload back (the stream above) it sends the frame with
    zstd, and the school still ends with the history. Without the check, apply of the
    bundle holding the stream above refused it (exit 20)."""
    monkeypatch.delenv("WIKIBUNDLE_CODER", raising=False)
    asked = []

    def cannot(body, raw, *params):
        asked.append(len(raw))
        return False

    monkeypatch.setattr(coder, "reads_back", cannot)
    pair = new_pair(str(tmp_path))
    for n, dump in ((1, LDNONT[0]), (2, LDNONT[3])):
        made, _ = pair.carry(dump, n)
        with BundleReader(made.path) as r:
            r.verify(pair.school.state.peer_by_key_id)
            assert all("coder" not in fr.meta for fr in r.frames())
        assert store_history(pair.school) == dump_history(dump)
    assert asked, "want a frame where PPMd was smaller and so checked"
