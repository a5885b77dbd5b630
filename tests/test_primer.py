"""The primer (BUNDLE.md §Primer, capability ``primer-v1``): MediaWiki's own edit summaries,
signatures, wikitext and the compact payload's skeleton, put beside a records frame's
dictionary so that a frame of one or two revisions is coded in few bytes.

The file and its hash; each coder with the primer on real revisions (used, smaller, read
back; refused by a reader without the capability); frames that claim the primer wrongly;
the writer's language choice; make → apply on real successive dumps with and without it.
The vectors ``compact-ok-primer*`` and ``primer-*`` pin the same verdicts byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from functools import cache

import pytest

from bundler import coder, container, frame_reader, records, wire
from bundler.container import BundleReader
from bundler.errors import BundleError, ContentError, FormatError, LimitError
from bundler.model import Page, RevId, Revision
from bundler.sources.dump import open_dump
from helpers import LDNONT, ROOT, dump_history, frame_raw, new_pair, run_cli, store_history

PRIMER = os.path.join(ROOT, "formats", "primer-v1.bin")
MEDIAWIKI = "/usr/share/mediawiki"


def test_the_primer_is_the_file_the_spec_names_and_its_script_rebuilds(tmp_path):
    with open(PRIMER, "rb") as f:
        data = f.read()
    digest = hashlib.sha256(data).hexdigest()
    assert digest == coder.PRIMER_SHA256
    with open(os.path.join(ROOT, "formats", "BUNDLE.md"), encoding="utf-8") as f:
        assert f"`{digest}`" in f.read()
    with open(os.path.join(ROOT, "bundler", "primer-v1.bin"), "rb") as f:  # what an installed reader opens
        assert f.read() == data
    parts = coder.primer_parts()
    assert len(parts) == 50 and b"Undo revision 123456 by [[Special:Contributions/" in parts[0]
    assert "Página creada con" in parts[3].decode()  # -3: Spanish
    if shutil.which("php") is None or not os.path.isdir(os.path.join(MEDIAWIKI, "languages", "i18n")):
        pytest.skip("formats/primer.py needs php and Debian's MediaWiki 1.39 to rebuild the primer")
    out = tmp_path / "primer.bin"
    subprocess.run([sys.executable, os.path.join(ROOT, "formats", "primer.py"), "--mediawiki", MEDIAWIKI, "--out", str(out)],
                   check=True, capture_output=True)
    assert out.read_bytes() == data, "formats/primer.py no longer builds formats/primer-v1.bin"


def test_an_installation_with_another_primer_says_so(monkeypatch):
    coder.primer_parts.cache_clear()
    monkeypatch.setattr(coder, "PRIMER_SHA256", "00" * 32)
    try:
        with pytest.raises(BundleError, match="is not the primer") as ei:
            coder.primer_parts()
        assert "reinstall" in ei.value.hint
    finally:
        coder.primer_parts.cache_clear()


@cache
def real_edits() -> list[tuple[Page, Revision, Revision]]:
    """Real small edits of the London Ontario wiki: (page, parent, revision) of each page's
    last revision, the kind a bundle of one or two revisions carries (an undo's automatic
    summary among them)."""
    out = []
    with open_dump(LDNONT[-1]) as d:
        for ph in d:
            revs = list(ph.revisions)
            if len(revs) >= 2 and revs[-1].text is not None and revs[-2].text is not None:
                out.append((ph.page, revs[-2], revs[-1]))
    assert any((r.comment or "").startswith("Undo revision") for _p, _b, r in out)
    return out


def one_edit_frame(page: Page, base: Revision, rev: Revision) -> records.FrameBuilder:
    fb = records.FrameBuilder()
    fb.known_pages = {page.page_id}
    fb.add_revision(page, rev, base.rev_id, base.text)
    return fb


def read(meta: dict, body: bytes, raw_len: int, base: Revision) -> list[str | None]:
    """The frame read as a compact bundle's reader reads it (16-byte checks), holding ``base``."""
    m = container.expand_meta(container.compact_meta(meta), "t")
    content = frame_reader.decode_frame(m, body, raw_len, lambda r: base.text if r == base.rev_id else None, what="t",
                                   get_title=lambda page_id: "Held", compact=True)
    return [r.text for r in content.revisions]


@pytest.mark.parametrize("choice", ["zstd", "ppmd"])
def test_each_coder_with_the_primer_is_read_back_and_smaller(choice):
    """Every real last edit of ldnont, one frame each: with the primer the frame names the
    common part after its base (and zstd bodies lose their magic number), reads back to
    the same text, and the edits together take fewer bytes than without it."""
    with_, without = 0, 0
    for page, base, rev in real_edits():
        fb = one_edit_frame(page, base, rev)
        meta, body, raw_len = fb.build(compact=True, coder=choice, primer=True)
        pmeta, pbody, praw_len = fb.build(compact=True, coder=choice, primer=False)
        assert praw_len == raw_len and pmeta["dict"] == [base.rev_id]
        assert read(meta, body, raw_len, base) == read(pmeta, pbody, praw_len, base) == [rev.text]
        if meta["dict"] != pmeta["dict"]:
            assert meta["dict"][0] == base.rev_id and meta["dict"][-1] == coder.PRIMER_COMMON
            assert coder.frame_capabilities(meta)[-1] == coder.PRIMER_CAPABILITY
            assert (meta.get("coder") == coder.CODER) == (choice == "ppmd")
            if choice == "zstd":
                assert not body.startswith(wire.ZSTD_MAGIC) and pbody.startswith(wire.ZSTD_MAGIC)
            assert wire.unpackb(frame_raw(meta, body, raw_len, base.text.encode()), what="t")
        with_ += len(body) + (len(wire.packb(meta["dict"])) - len(wire.packb(pmeta["dict"])))
        without += len(pbody)
    assert with_ < 0.9 * without, (with_, without)


def test_a_frame_that_claims_the_primer_wrongly_is_refused():
    """The primer's parts are in dict_sha256: a frame coded without the primer that names
    it, or with it that does not, or with another part, fails before decoding; a magic
    number on a primed zstd body, or a row built on the primer, fails as malformed."""
    page, base, rev = next(e for e in real_edits() if (e[2].comment or "").startswith("Undo revision"))
    fb = one_edit_frame(page, base, rev)
    meta, body, raw_len = fb.build(compact=True, coder="zstd", primer=True)
    plain, pbody, _ = fb.build(compact=True, coder="zstd", primer=False)
    assert meta["dict"][-1] == coder.PRIMER_COMMON
    for claim, b in (({**plain, "dict": plain["dict"] + [0]}, pbody), ({**meta, "dict": plain["dict"]}, body),
                     ({**meta, "dict": meta["dict"][:-1] + [-2]}, body)):
        with pytest.raises(ContentError, match="differ from the sender's"):
            read(claim, b, raw_len, base)
    with pytest.raises(FormatError, match="zstd frame"):
        read(meta, wire.ZSTD_MAGIC + body, raw_len, base)
    with pytest.raises(FormatError, match="primer part -50"):
        read({**meta, "dict": meta["dict"][:-1] + [-50]}, body, raw_len, base)


ES_SUMMARY = "Se ha deshecho la revisión 4 de [[Special:Contributions/Ana|Ana]] ([[User talk:Ana|disc.]])"


def test_the_writer_names_the_language_the_payload_shares():
    """The language part goes with the common part when the payload holds that language's
    MediaWiki strings (a Spanish undo summary and signature); English needs none."""
    es = ES_SUMMARY + " [[Usuario:Ana|Ana]]"
    assert coder.primer_entries(wire.packb([es, "[[Categoría:Ríos de Chile]]"])) == (-3, coder.PRIMER_COMMON)
    en = "Undo revision 4 by [[Special:Contributions/Ann|Ann]] ([[User talk:Ann|talk]])"
    assert coder.primer_entries(wire.packb([en, "[[Category:Rivers of Chile]]"])) == (coder.PRIMER_COMMON,)


@pytest.mark.parametrize("choice", ["zstd", "ppmd"])
def test_a_frame_naming_a_language_part_reads_back(choice):
    """A new section on a real eslagunanegra page, signed, with MediaWiki's Spanish summary:
    the frame names Spanish (-3) and the common part, and reads back."""
    with open_dump(os.path.join(ROOT, "tests", "data", "eslagunanegra-pages-full.xml.xz")) as d:
        ph = next(p for p in d if p.revision_count >= 2)
        held = list(ph.revisions)[-1]
    text = held.text + ("\n\n== Sección ==\nGracias. [[Usuario:Ana|Ana]] ([[Usuario discusión:Ana|discusión]])"
                        " 15:20 30 mar 2023 (UTC)\n")
    rev = Revision(RevId(held.rev_id + 1), held.page_id, held.timestamp + 60, text, user="Ana", user_id=4,
                   comment="Sección nueva: /* Sección */")
    meta, body, raw_len = one_edit_frame(ph.page, held, rev).build(compact=True, coder=choice, primer=True)
    assert meta["dict"] == [held.rev_id, -3, coder.PRIMER_COMMON]
    assert read(meta, body, raw_len, held) == [text]


def test_large_frames_and_the_long_form_are_not_primed(monkeypatch):
    page, base, rev = real_edits()[0]
    fb = one_edit_frame(page, base, rev)
    assert all(r > 0 for r in fb.build(compact=False, coder="zstd")[0]["dict"])  # version 1's readers
    monkeypatch.setattr(coder, "PRIMER_TRY_MAX", 10)
    assert all(r > 0 for r in fb.build(compact=True, coder="zstd")[0]["dict"])
    monkeypatch.setattr(coder, "PRIMER_TRY_MAX", 1 << 20)
    monkeypatch.setenv("WIKIBUNDLE_PRIMER", "0")
    assert all(r > 0 for r in fb.build(compact=True, coder="zstd")[0]["dict"])


def test_make_apply_with_the_primer_on_real_successive_dumps(tmp_path, monkeypatch):
    """Five successive real dumps of ldnont carried one after another, as the writer
    chooses, and again with the primer switched off: the school ends with each dump's
    history either way; every update is compact, whose form implies primer-v1, and the
    updates together are smaller with it. (A reader of version 1 only refuses them at the
    header: test_compact.py.)"""
    monkeypatch.delenv("WIKIBUNDLE_CODER", raising=False)
    sizes: dict[str, list[int]] = {}
    primed = 0
    for setting in ("1", "0"):
        monkeypatch.setenv("WIKIBUNDLE_PRIMER", setting)
        pair = new_pair(str(tmp_path / f"primer-{setting}"))
        sizes[setting] = []
        for n, dump in enumerate(LDNONT[:5], 1):
            made, _ = pair.carry(dump, n)
            with BundleReader(made.path) as r:
                r.verify(pair.school.state.peer_by_key_id)
                frames = list(r.frames())
                names = [any(i <= 0 for i in fr.meta["dict"]) for fr in frames]
                assert r.compact and coder.PRIMER_CAPABILITY in r.header.capabilities  # implied
                primed += any(names) and setting == "1"
            shown = json.loads(run_cli("inspect", made.path, "--json").output)["frames"]
            # inspect counts the held texts a frame builds on, not the primer parts it names
            assert [f["base_texts"] for f in shown] == [sum(1 for i in fr.meta["dict"] if i > 0) for fr in frames]
            assert store_history(pair.school) == dump_history(dump), f"bundle {n}, primer {setting}"
            sizes[setting].append(os.path.getsize(made.path))
    assert primed >= 2, "want updates that name the primer"
    assert sum(sizes["1"][1:]) < sum(sizes["0"][1:]), sizes


def test_a_dict_that_repeats_the_primer_is_held_to_the_dictionary_limit(monkeypatch):
    """A primer part may be named more than once (its bytes are then there that many times),
    so its bytes count towards the 256 Mi limit like a text's characters, before any
    dictionary is built."""
    monkeypatch.setattr(frame_reader, "MAX_DICT_CHARS", 10 * len(coder.primer_part(0, "t")))
    reader = frame_reader.FrameReader({"dict": [0] * 11}, lambda r: None, what="t")
    with pytest.raises(LimitError, match="base texts exceed"):
        reader.base_texts([0] * 11)
    assert reader.base_texts([0] * 10) == [None] * 10
