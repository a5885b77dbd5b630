"""The loop end to end on real dumps: make, apply, export, compare with the source."""

from __future__ import annotations

import os

import pytest

from bundler.errors import BasisError, StaleBundleError
from bundler.sources.dump import open_dump
from helpers import LDNONT, data, dump_history, file_digest, pair, store_history  # noqa: F401
from bundler.model import parse_timestamp


def test_ldnont_series_carried_one_after_another(pair):
    """19 real successive dumps, incl. a re-import that renumbered every id."""
    assert len(LDNONT) == 19
    sizes = []
    for n, dump in enumerate(LDNONT, 1):
        made, applied = pair.carry(dump, n)
        assert made.basis_seq == n - 1
        assert not applied.already
        assert store_history(pair.school) == dump_history(dump), f"after bundle {n}"
        sizes.append(made.size)
    # after the first, bundles carry only what changed: far smaller than the first
    assert max(sizes[1:]) < sizes[0]
    assert sorted(sizes[1:])[len(sizes) // 2] < sizes[0] / 5


def test_full_history_in_two_bundles_then_export(pair, tmp_path):
    dump = data("eslagunanegra-pages-full.xml.xz")
    cut = parse_timestamp("2012-01-01T00:00:00Z")
    made1, _ = pair.carry(dump, 1, until=cut)
    made2, _ = pair.carry(dump, 2)
    assert made1.counts.revisions + made2.counts.revisions == 3529
    assert made2.basis_seq == 1
    # export the offline wiki to XML and read it back as a dump: same histories
    from typer.testing import CliRunner

    from bundler.cli import app

    out = str(tmp_path / "school.xml")
    r = CliRunner().invoke(app, ["export", "-C", pair.school.path, "--out", out])
    assert r.exit_code == 0, r.output
    assert dump_history(out) == dump_history(dump)


@pytest.mark.parametrize("name", ["article-pear.xml", "article-pyrus-utf16.xml", "pair-0.10.xml", "frwiki-20220101-pages-articles.xml"])
def test_small_real_dumps_round_trip(pair, name):
    pair.carry(data(name), 1)
    assert store_history(pair.school) == dump_history(data(name))


@pytest.mark.parametrize(
    "name, feature",
    [("MediawikiDumperOutputTest.Simplewiki.Sample.xml", "hidden"), ("MediawikiDumperOutputTest.Commonswiki.Sample.xml", "slots")],
)
def test_suppressed_parts_and_slots_travel(pair, tmp_path, name, feature):
    """Hidden text/user/comment (rev_deleted) and MCR slots survive the trip and the export."""
    dump = data(name)
    pair.carry(dump, 1)
    fields = lambda r: (r.text, r.deleted, r.user, r.comment, r.slots, r.timestamp)  # noqa: E731
    store = pair.school.store()
    try:
        revs = [fields(r) for ph in store.pages() for r in ph.revisions]
    finally:
        store.close()
    with open_dump(dump) as d:
        src = [fields(r) for ph in d for r in ph.revisions]
    assert revs == src
    if feature == "hidden":
        assert any(r[0] is None for r in revs) and any(r[2] is None for r in revs)
    else:
        assert any(r[4] for r in revs)
    out = str(tmp_path / "export.xml")
    from typer.testing import CliRunner

    from bundler.cli import app

    assert CliRunner().invoke(app, ["export", "-C", pair.school.path, "--out", out]).exit_code == 0
    with open_dump(out) as d:
        assert [fields(r) for ph in d for r in ph.revisions] == src


def test_moves_and_deletions_between_dumps(pair, tmp_path):
    """A later dump where a page moved (same id, new title) and one was deleted (id gone)."""
    from bundler.export import XmlWriter
    from bundler.model import Page

    src = data("pair-0.10.xml")
    pair.carry(src, 1)
    with open_dump(src) as d:
        pages = [(ph.page, list(ph.revisions)) for ph in d]
        site = d.siteinfo
    later = str(tmp_path / "later.xml")
    (p1, revs1), (p2, _revs2) = pages
    with open(later, "w", encoding="utf-8") as f:
        w = XmlWriter(f, site)
        w.page(Page(p1.page_id, p1.namespace, "Moved here", None), revs1)  # moved; the talk page deleted
        w.close()
    made, applied = pair.carry(later, 2)
    assert made.counts.moves == 1 and made.counts.deletions == 1 and made.counts.revisions == 0
    assert applied.moves == [(p1.title, "Moved here")]
    assert applied.deletions == [p2.title]
    assert set(store_history(pair.school)) == {"Moved here"}
    # ...and the page comes back: undeleted with its old history, plus nothing re-sent
    made3, _ = pair.carry(src, 3)
    assert made3.counts.revisions == 0 and made3.counts.moves == 1
    assert store_history(pair.school) == dump_history(src)


def test_latest_only_carries_newest_revision_per_page(pair):
    dump = data("frwiki-20220101-pages-articles.xml")
    made, _ = pair.carry(dump, 1, latest_only=True)
    full = dump_history(dump)
    assert made.counts.revisions == len(full)
    got = store_history(pair.school)
    assert {t: h[-1] for t, h in got.items()} == {t: h[-1] for t, h in full.items()}


def test_same_bundle_twice_changes_nothing(pair):
    made, _ = pair.carry(LDNONT[0], 1)
    before = file_digest(pair.school.wiki_path)
    again = pair.apply(made.path)
    assert again.already
    assert file_digest(pair.school.wiki_path) == before


def test_out_of_order_bundle_names_the_missing_one(pair):
    pair.carry(LDNONT[0], 1)
    pair.make(LDNONT[1], "b2.bundle", since=os.path.join(pair.tmp, "m1.wbm"))
    # bundle 3 builds on 2, but 2 was never applied
    with pair.hq.state.transaction():
        pair.hq.state.confirm(pair.school.wiki_id, 2)
    b3 = pair.make(LDNONT[2], "b3.bundle")
    with pytest.raises(BasisError, match="apply bundle 2 first"):
        pair.apply(b3.path)


def test_old_bundle_replayed_is_stale(pair):
    pair.carry(LDNONT[0], 1)
    b2 = pair.make(LDNONT[1], "b2.bundle", since=os.path.join(pair.tmp, "m1.wbm"))  # never applied...
    b3 = pair.make(LDNONT[2], "b3.bundle")  # ...because 3 (also on basis 1) came first
    assert (b2.basis_seq, b3.basis_seq) == (1, 1)
    pair.apply(b3.path)
    before = file_digest(pair.school.wiki_path)
    with pytest.raises(StaleBundleError, match="older than bundle 3"):
        pair.apply(b2.path)
    assert file_digest(pair.school.wiki_path) == before
    # an applied bundle handed over again is recognised, not re-applied
    assert pair.apply(_copy(b3.path, pair.tmp)).already


def test_full_bundle_over_existing_history(pair):
    """--full restarts from nothing; the receiver keeps ids and ends with the same wiki."""
    pair.carry(LDNONT[0], 1)
    pair.carry(LDNONT[1], 2)
    full = pair.make(LDNONT[2], "full.bundle", full=True)
    assert full.basis_seq == 0
    applied = pair.apply(full.path)
    assert applied.revisions_present > 0
    assert store_history(pair.school) == dump_history(LDNONT[2])


def _copy(path, tmp):
    import shutil

    dst = os.path.join(tmp, "replayed-" + os.path.basename(path))
    shutil.copy(path, dst)
    return dst


def test_manifest_of_unchanged_wiki_is_small(pair):
    for n, dump in enumerate(LDNONT[:3], 1):
        pair.carry(dump, n)
    assert os.path.getsize(os.path.join(pair.tmp, "m3.wbm")) < 1024


def test_make_without_since_uses_last_manifest(pair):
    pair.carry(LDNONT[0], 1)
    made2, _ = pair.carry(LDNONT[1], 2)  # hq was given m1 (by --since), not yet m2
    b3 = pair.make(LDNONT[1], "b3.bundle")
    assert b3.basis_seq == 1 and b3.counts.revisions == made2.counts.revisions
    b4 = pair.make(LDNONT[1], "b4.bundle", since=os.path.join(pair.tmp, "m2.wbm"))
    assert b4.basis_seq == 2 and b4.counts.revisions == 0
    b5 = pair.make(LDNONT[1], "b5.bundle")  # remembers m2 now
    assert b5.basis_seq == 2 and b5.counts.revisions == 0


def test_store_as_source(pair, tmp_path):
    """make without --from reads the side's own embedded wiki."""
    from bundler.importer import import_dump

    store = pair.hq.store()
    try:
        import_dump(store, LDNONT[5])
    finally:
        store.close()
    made1, _ = pair.carry(None, 1)
    assert store_history(pair.school) == dump_history(LDNONT[5])
    made2 = pair.make(None, "b2.bundle", since=os.path.join(pair.tmp, "m1.wbm"))
    assert made2.counts.revisions == 0 and made2.counts.pages == 0


def test_a_revert_travels_as_a_copy_of_the_text_the_receiver_has(pair, tmp_path):
    """Vandalism reverted: the restored text is one the receiver holds, so it costs
    an operation, not the page again."""
    import dataclasses

    from bundler.export import XmlWriter

    src = data("frwiki-20220101-pages-articles.xml")
    pair.carry(src, 1)
    with open_dump(src) as d:
        pages = [(ph.page, list(ph.revisions)) for ph in d]
        site = d.siteinfo
    page, revs = max(pages, key=lambda pr: len(pr[1][-1].text))
    old = max(revs[:-1], key=lambda r: len(r.text or ""))  # a long text from the history
    revert = dataclasses.replace(revs[-1], rev_id=revs[-1].rev_id + 1000, parent_id=revs[-1].rev_id,
                                 timestamp=revs[-1].timestamp + 60, text=old.text, sha1="", comment="revert")
    later = str(tmp_path / "later.xml")
    with open(later, "w", encoding="utf-8") as f:
        w = XmlWriter(f, site)
        for p, r in pages:
            w.page(p, r + [revert] if p == page else r)
        w.close()
    made, _ = pair.carry(later, 2)
    assert made.counts.revisions == 1
    assert len(old.text) > 15_000 and made.size < 1_200, (len(old.text), made.size)
    assert store_history(pair.school) == dump_history(later)


def test_a_partial_export_does_not_delete_the_peers_wiki(pair):
    """A Special:Export of two pages given where the whole wiki was meant: refused."""
    from bundler.errors import UsageError

    pair.carry(LDNONT[-1], 1)
    with pytest.raises(UsageError, match="would delete 112 of the 112 pages"):
        pair.make(data("pair-0.10.xml"), "b2.bundle", since=os.path.join(pair.tmp, "m1.wbm"))
    assert not os.path.exists(os.path.join(pair.tmp, "b2.bundle"))
    made = pair.make(data("pair-0.10.xml"), "b2.bundle", allow_deletions=True)
    assert made.counts.deletions == 112
