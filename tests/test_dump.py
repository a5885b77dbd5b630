"""The XML dump reader on real dumps of every schema, and on hostile or broken ones."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os

import pytest
import zstandard

from bundler.errors import DumpError
from bundler.model import Deleted
from bundler.sources.dump import open_dump
from helpers import LDNONT, data


def read_all(path):
    with open_dump(path) as d:
        return d, [(ph.page, list(ph.revisions)) for ph in d]


@pytest.mark.parametrize(
    "name, schema, pages, revisions",
    [
        ("article-pear.xml", "0.3", 1, 4),
        ("article-pyrus.xml", "0.3", 1, 6),
        ("article-pyrus-utf16.xml", "0.3", 1, 6),
        ("pair-0.10.xml", "0.10", 2, 4),
        ("frwiki-20220101-pages-articles.xml", "0.10", 2, 83),
        ("eslagunanegra-pages-full.xml.xz", "0.6", 972, 3529),
        ("MediawikiDumperOutputTest.Simplewiki.Sample.xml", "0.11", 2, 33),
        ("MediawikiDumperOutputTest.Commonswiki.Sample.xml", "0.11", 1, 59),
        ("logitems-fixture.xml", "0.8", 0, 0),
    ],
)
def test_real_dumps(name, schema, pages, revisions):
    d, got = read_all(data(name))
    assert d.schema == schema
    assert len(got) == pages
    assert sum(len(r) for _, r in got) == revisions
    for page, revs in got:
        assert [(r.timestamp, r.rev_id) for r in revs] == sorted((r.timestamp, r.rev_id) for r in revs)


def test_schema_03_namespace_from_prefix_and_utf16_equals_utf8():
    _, a = read_all(data("article-pyrus.xml"))
    _, b = read_all(data("article-pyrus-utf16.xml"))
    assert a == b
    _, p = read_all(data("pair-0.10.xml"))
    assert {pg.namespace for pg, _ in p} == {0, 1}


def test_dump_sha1_is_checked_against_text():
    """Revision sha1 is recomputed from the text; the dump's base36 one agrees."""
    import re

    from bundler.model import base36_to_sha1

    raw = open(data("pair-0.10.xml"), encoding="utf-8").read()
    dump_sha1s = [base36_to_sha1(m) for m in re.findall(r"<sha1>(\w+)</sha1>", raw)]
    _, got = read_all(data("pair-0.10.xml"))
    assert sorted(r.sha1 for _, revs in got for r in revs) == sorted(dump_sha1s)


def test_suppressed_parts():
    _, got = read_all(data("MediawikiDumperOutputTest.Simplewiki.Sample.xml"))
    revs = [r for _, rs in got for r in rs]
    hidden = [r for r in revs if r.deleted & Deleted.TEXT]
    assert hidden and all(r.text is None for r in hidden)
    assert any(r.deleted & Deleted.USER and r.user is None for r in revs)
    assert any(r.deleted & Deleted.COMMENT and r.comment is None for r in revs)


@pytest.mark.parametrize("opener, ext", [(gzip.open, ".gz"), (bz2.open, ".bz2"), (lzma.open, ".xz"), (None, ".zst")])
def test_compressed_forms(tmp_path, opener, ext):
    raw = open(data("pair-0.10.xml"), "rb").read()
    p = tmp_path / ("d.xml" + ext)
    if opener is None:
        p.write_bytes(zstandard.ZstdCompressor().compress(raw))
    else:
        with opener(p, "wb") as f:
            f.write(raw)
    assert read_all(str(p))[1] == read_all(data("pair-0.10.xml"))[1]


HEAD = '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10">'


def page(title="A", pid=1, revs=""):
    return f"<page><title>{title}</title><ns>0</ns><id>{pid}</id>{revs}</page>"


def rev(rid=1, ts="2020-01-01T00:00:00Z", text="x", extra=""):
    return f"<revision><id>{rid}</id><timestamp>{ts}</timestamp><contributor><username>U</username><id>1</id></contributor>{extra}<text>{text}</text></revision>"


HOSTILE = {
    "billion laughs": '<?xml version="1.0"?><!DOCTYPE m [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
    + HEAD + page(revs=rev(text="&d;&d;&d;&d;&d;&d;")) + "</mediawiki>",
    "external entity": '<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    + HEAD + page(revs=rev(text="&x;")) + "</mediawiki>",
    "truncated": HEAD + page(revs=rev()) + "<page><title>B</title><id>2</id><revision><id>2</id>",
    "unknown schema": '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.99/" version="0.99">' + page(revs=rev()) + "</mediawiki>",
    "not a dump": "<html><body>Not Found</body></html>",
    "empty": "",
    "no page title": HEAD + "<page><id>1</id><revision><id>1</id><timestamp>2020-01-01T00:00:00Z</timestamp><text>x</text></revision></page></mediawiki>",
    "bad timestamp": HEAD + page(revs=rev(ts="yesterday")) + "</mediawiki>",
    "duplicate revision, other text": HEAD + page(revs=rev(1, text="a") + rev(1, text="b")) + "</mediawiki>",
    "stub dump": HEAD + page(revs='<revision><id>1</id><timestamp>2020-01-01T00:00:00Z</timestamp><text location="tt:1" id="1" bytes="3" /></revision>') + "</mediawiki>",
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_and_broken_dumps_give_one_clear_error(tmp_path, case):
    p = tmp_path / "bad.xml"
    p.write_text(HOSTILE[case], encoding="utf-8")
    with pytest.raises(DumpError) as ei:
        read_all(str(p))
    assert ei.value.hint


def test_non_utf8_bytes_are_an_error(tmp_path):
    p = tmp_path / "bad.xml"
    p.write_bytes((HEAD + page(revs=rev(text="caf")) + "</mediawiki>").encode().replace(b"caf", b"caf\xe9"))
    with pytest.raises(DumpError, match="not well-formed"):
        read_all(str(p))


def test_duplicate_identical_revision_is_kept_once(tmp_path):
    p = tmp_path / "dup.xml"
    p.write_text(HEAD + page(revs=rev(1) + rev(1) + rev(2, ts="2020-01-02T00:00:00Z")) + "</mediawiki>", encoding="utf-8")
    assert [r.rev_id for r in read_all(str(p))[1][0][1]] == [1, 2]


def test_revisions_out_of_order_are_sorted(tmp_path):
    p = tmp_path / "order.xml"
    revs = rev(9, "2020-01-03T00:00:00Z") + rev(3, "2020-01-01T00:00:00Z") + rev(5, "2020-01-01T00:00:00Z")
    p.write_text(HEAD + page(revs=revs) + "</mediawiki>", encoding="utf-8")
    assert [r.rev_id for r in read_all(str(p))[1][0][1]] == [3, 5, 9]


def test_big_page_history_spills_to_disk(tmp_path, monkeypatch):
    from bundler.sources import dump as dump_mod

    monkeypatch.setattr(dump_mod, "SPILL_BYTES", 100)
    _, a = read_all(LDNONT[-1])
    monkeypatch.setattr(dump_mod, "SPILL_BYTES", 1 << 30)
    _, b = read_all(LDNONT[-1])
    assert a == b


def test_missing_file(tmp_path):
    with pytest.raises(DumpError, match="cannot open"):
        open_dump(str(tmp_path / "nope.xml"))


# --- one page in several <page> blocks (WikiTeam archives, dumpBackup --revrange) ----------


def write(tmp_path, body: str, name: str = "d.xml", encoding: str = "utf-8") -> str:
    p = tmp_path / name
    p.write_text(HEAD + body + "</mediawiki>", encoding=encoding)
    return str(p)


SPLIT = (
    page("A", 1, rev(13, "2020-01-03T00:00:00Z", "a3") + rev(12, "2020-01-02T00:00:00Z", "a2"))  # newest first
    + page("B", 2, rev(21, "2020-01-01T00:00:00Z", "b1"))
    + page("A", 1, rev(11, "2020-01-01T00:00:00Z", "a1") + rev(12, "2020-01-02T00:00:00Z", "a2"))  # 12 again
    + page("C", 3, rev(31, "2020-01-01T00:00:00Z", "c1"))
    + page("A_", 1, rev(14, "2020-01-04T00:00:00Z", "a4"))  # the same title as MediaWiki reads it
)


def test_a_page_in_several_blocks_is_one_page_in_history_order(tmp_path):
    _, got = read_all(write(tmp_path, SPLIT))
    assert [(p.title, p.page_id) for p, _ in got] == [("B", 2), ("C", 3), ("A_", 1)]  # when its last block ends
    a = dict((p.title, revs) for p, revs in got)["A_"]
    assert [(r.rev_id, r.text, r.page_id) for r in a] == [(11, "a1", 1), (12, "a2", 1), (13, "a3", 1), (14, "a4", 1)]


def test_split_page_revision_count_and_utf16_agree(tmp_path):
    utf8 = write(tmp_path, SPLIT)
    utf16 = str(tmp_path / "d16.xml")
    with open(utf16, "w", encoding="utf-16-be") as f:
        f.write('<?xml version="1.0" encoding="UTF-16"?>' + open(utf8, encoding="utf-8").read())
    with open_dump(utf8) as d:
        counts = {ph.page.title: ph.revision_count for ph in d}
    assert counts == {"B": 1, "C": 1, "A_": 4}
    assert read_all(utf16)[1] == read_all(utf8)[1]


def test_split_page_with_other_text_under_one_revision_id_is_an_error(tmp_path):
    body = page("A", 1, rev(1, text="x")) + page("B", 2, rev(2)) + page("A", 1, rev(1, text="y"))
    with pytest.raises(DumpError, match="appears twice") as ei:
        read_all(write(tmp_path, body))
    assert ei.value.hint


def test_ids_and_titles_that_disagree_go_by_title_as_importdump_does(tmp_path):
    # One title under two ids: one page, the first id. One id under two titles: two
    # pages (MediaWiki makes both); the later title gets an id of its own.
    body = page("A", 1, rev(1)) + page("A", 7, rev(2, "2020-01-02T00:00:00Z")) + page("B", 1, rev(3))
    _, got = read_all(write(tmp_path, body))
    ids = {p.title: p.page_id for p, _ in got}
    assert ids["A"] == 1 and ids["B"] not in (1, 7)
    assert [r.rev_id for p, revs in got if p.title == "A" for r in revs] == [1, 2]
    assert {r.page_id for p, revs in got for r in revs if p.title == "B"} == {ids["B"]}


def test_pages_and_revisions_without_ids_get_stable_synthetic_ids(tmp_path):
    from bundler.identity import SYNTHETIC_IDS, SYNTHETIC_SPAN

    def norev(ts, text):
        return f"<revision><timestamp>{ts}</timestamp><contributor><ip>1.2.3.4</ip></contributor><text>{text}</text></revision>"

    body = (
        '<siteinfo><namespaces><namespace key="0" /><namespace key="1">Talk</namespace></namespaces></siteinfo>'
        + "<page><title>Talk:A</title>" + norev("2020-01-02T00:00:00Z", "2") + norev("2020-01-01T00:00:00Z", "1") + "</page>"
        + "<page><title>B</title>" + norev("2020-01-01T00:00:00Z", "b") + "</page>"
        + "<page><title>Talk:A</title>" + norev("2020-01-01T00:00:00Z", "1") + "</page>"  # the same revision again
    )
    first = read_all(write(tmp_path, body, "one.xml"))[1]
    again = read_all(write(tmp_path, body.replace("<page>", page("X", 5, rev(1)) + "<page>", 1), "two.xml"))[1]
    assert [(p, revs) for p, revs in again if p.title != "X"] == first  # the same ids in another dump
    (a, a_revs), = [(p, revs) for p, revs in first if p.title == "Talk:A"]
    assert a.namespace == 1 and [r.text for r in a_revs] == ["1", "2"]
    ids = [a.page_id] + [r.rev_id for r in a_revs]
    assert all(SYNTHETIC_IDS <= i < SYNTHETIC_IDS + SYNTHETIC_SPAN for i in ids) and len(set(ids)) == 3


def test_a_page_tag_inside_a_comment_does_not_lose_revisions(tmp_path):
    # The first pass scans bytes: it takes this comment for a block of A, so A never sees
    # its "last" block; it is yielded at the end all the same, once.
    body = SPLIT.replace("</page>", "</page><!-- <page><title>A</title> -->", 1)
    _, got = read_all(write(tmp_path, body))
    assert sorted((p.title, len(revs)) for p, revs in got) == [("A_", 4), ("B", 1), ("C", 1)]


def test_entities_in_split_titles(tmp_path):
    body = page("AT&amp;T &quot;x&quot; &#233;", 1, rev(1)) + page("B", 2, rev(2)) + page("AT&amp;T \"x\" é", 1, rev(3, "2020-01-02T00:00:00Z"))
    _, got = read_all(write(tmp_path, body))
    assert [(p.title, len(revs)) for p, revs in got] == [("B", 1), ('AT&T "x" é', 2)]


def test_progress_covers_both_passes_in_bytes_of_the_file(tmp_path):
    from bundler.sources import dump as dump_mod

    path = LDNONT[-1]
    seen = []
    with open_dump(path, progress=seen.append) as d:
        for ph in d:
            list(ph.revisions)
    assert seen == sorted(seen) and seen[-1] == os.path.getsize(path)
    assert seen[0] <= os.path.getsize(path) * dump_mod.FIRST_PASS_SHARE["xz"]


@pytest.mark.parametrize("opener, ext", [(bz2.open, ".bz2"), (lzma.open, ".xz")])
def test_slow_codecs_are_decompressed_once_into_a_copy_that_is_removed(tmp_path, opener, ext, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    p = tmp_path / ("split.xml" + ext)
    with opener(p, "wt", encoding="utf-8") as f:
        f.write(HEAD + SPLIT + "</mediawiki>")
    with open_dump(str(p)) as d:
        it = iter(d)
        first = next(it)
        assert first.page.title == "B" and d._stream.raw.name.endswith(".xml.zst")  # pass 2 reads the copy
        assert not list(tmp_path.glob("wikibundle-dump-*"))  # unlinked once opened
        rest = [(ph.page.title, len(list(ph.revisions))) for ph in it]
    assert rest == [("C", 1), ("A_", 4)]
    assert d.siteinfo == read_all(write(tmp_path, SPLIT))[0].siteinfo


@pytest.mark.parametrize("chunk", [5, 7, 64])
def test_first_pass_finds_block_heads_across_read_boundaries(tmp_path, monkeypatch, chunk):
    from bundler.sources import dump_pages

    path = write(tmp_path, SPLIT)
    want = read_all(path)[1]
    monkeypatch.setattr(dump_pages, "CHUNK", chunk)
    assert read_all(path)[1] == want
    _, got = read_all(LDNONT[-1])
    monkeypatch.setattr(dump_pages, "CHUNK", 1 << 20)
    assert got == read_all(LDNONT[-1])[1]


def test_damaged_compression_in_the_first_pass_is_one_error_and_leaves_no_copy(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    data_ = lzma.compress((HEAD + SPLIT * 200 + "</mediawiki>").encode())
    p = tmp_path / "cut.xml.xz"
    p.write_bytes(data_[: len(data_) // 2])
    with pytest.raises(DumpError) as ei:
        read_all(str(p))
    assert ei.value.hint
    assert not list(tmp_path.glob("wikibundle-dump-*"))
