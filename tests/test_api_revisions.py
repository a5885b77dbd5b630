"""A MediaWiki source cannot miss a revision (sources/api.py): whatever grew the wiki's
history between two bundles — importDump.php of revisions with old timestamps (no log
entry, no recent change), action=import, a history merge, a delete and undelete, a
revision deletion — the next bundle applied to an embedded store leaves exactly the
wiki's histories. And it reads only what is new: the new revisions and their base by
revision id. ``--verify`` finds and carries what the state wrongly believes."""

from __future__ import annotations

import json
import random

import pytest

from bundler.export import XmlWriter
from bundler.identity import page_rkeys, partial_rkeys, rkey
from bundler.mediawiki import MediaWikiClient
from bundler.model import Page, PageId, RevId, Revision
from bundler.sources.dump import open_dump
from bundler.state import Side
from helpers import LDNONT, cli_sides, run_cli, store_history  # noqa: F401
from mediawiki_harness import BOT_GRANTS
from test_api_source import api_history


class Sync:
    """hq reads a real MediaWiki over the API; school is an embedded store."""

    def __init__(self, wiki, tmp_path, monkeypatch):
        self.wiki, self.tmp = wiki, tmp_path
        self.client = MediaWikiClient(wiki.api_url, wiki.bot_user, wiki.bot_password)
        self.hq, self.school = tmp_path / "hq", tmp_path / "school"
        monkeypatch.setenv("WIKIBUNDLE_PASSWORD", wiki.bot_password)
        run_cli("init", "-C", self.hq, "--wiki", wiki.api_url, "--user", wiki.bot_user)
        run_cli("init", "-C", self.school, "--wiki", self.school / "w.sqlite")
        for a, b in ((self.hq, self.school), (self.school, self.hq)):
            (tmp_path / "k.pub").write_text(run_cli("key", "-C", b).output)
            run_cli("trust", "-C", a, tmp_path / "k.pub")
        self.n = 0

    def carry(self, *flags: str) -> dict:
        """make (since the last manifest) and apply; the make's JSON report."""
        self.n += 1
        since = ["--since", self.tmp / f"m{self.n - 1}.wbm"] if self.n > 1 else []
        out = self.tmp / f"b{self.n}.bundle"
        info = json.loads(run_cli("make", "-C", self.hq, "--out", out, "--json", *since, *flags).output)
        run_cli("apply", "-C", self.school, out, "--manifest-out", self.tmp / f"m{self.n}.wbm")
        return info

    def same(self) -> None:
        """The school holds exactly the wiki's histories (text sha1, time, user, comment, order)."""
        got, want = store_history(Side.open(str(self.school))), api_history(self.client)
        assert sorted(got) == sorted(want)
        for title in want:
            assert got[title] == want[title], title

    def import_dump(self, pages: list[tuple[Page, list[Revision]]], name: str, siteinfo) -> None:
        xml = self.tmp / name
        with open(xml, "w", encoding="utf-8") as f:
            w = XmlWriter(f, siteinfo)
            for page, revs in pages:
                w.page(page, revs)
            w.close()
        self.wiki.run_maintenance("importDump.php", str(xml))


@pytest.fixture
def sync(mediawiki, tmp_path, monkeypatch) -> Sync:
    return Sync(mediawiki, tmp_path, monkeypatch)


def ldnont_in_two_parts():
    """The last LdnOnt dump (a real wiki: 112 pages, 268 revisions) cut in two: the first
    part is the newer half of the first 70 pages' histories; the second is their older
    halves (older timestamps, into pages that exist by then) and the other 42 pages."""
    with open_dump(LDNONT[-1]) as d:
        pages = [(ph.page, list(ph.revisions)) for ph in d]
        site = d.siteinfo
    first, second = [], []
    for i, (page, revs) in enumerate(pages):
        if i < 70 and len(revs) > 1:
            cut = len(revs) // 2
            first.append((page, revs[cut:]))
            second.append((page, revs[:cut]))
        elif i < 70:
            first.append((page, revs))
        else:
            second.append((page, revs))
    return first, second, site


@pytest.mark.mediawiki
def test_import_dump_of_old_revisions_between_two_bundles_is_carried_whole(sync):
    """importDump.php writes no log and keeps old timestamps: only the revision ids tell
    (before: 486 of 487 pages' histories lost, silently)."""
    first, second, site = ldnont_in_two_parts()
    sync.import_dump(first, "part1.xml", site)
    sync.carry("--verify-every", "0")
    sync.same()
    sync.import_dump(second, "part2.xml", site)
    info = sync.carry("--verify-every", "0")
    assert info["revisions"] == sum(len(r) for _p, r in second)
    sync.same()
    # Nothing drifted: a reconciliation finds nothing to carry.
    again = sync.carry("--verify")
    assert again["verify"] == {"lacking_revisions": 0, "lacking_pages": 0, "extra_revisions": 0, "extra_pages": 0}
    assert again["revisions"] == 0


@pytest.mark.mediawiki
def test_action_import_merge_history_delete_undelete_and_revision_deletion(sync):
    """Each of these changes revisions below the top or their visibility; the log names
    the pages, which are re-read (ids first, then only the texts the peer lacks)."""
    c = sync.client
    for i in range(4):
        c.edit("Merge source", f"source text {i}\n", f"source {i}")
    for i in range(3):
        c.edit("Merge target", f"target text {i}\n", f"target {i}")
    c.edit("Kept", "kept\n", "create")
    hidden = c.edit("Kept", "kept\nand a line\n", "a comment to hide").rev_id
    for i in range(3):
        c.edit("Deleted then restored", f"restored text {i}\n", f"edit {i}")
    sync.carry("--verify-every", "0")
    sync.same()

    # action=import: older revisions into a held page and a new page (renumbered, new ids;
    # an import null revision by us on each page).
    with open_dump(LDNONT[-1]) as d:
        ph = next(iter(d))
        revs = list(ph.revisions)
        site = d.siteinfo
    xml = sync.tmp / "import.xml"
    with open(xml, "w", encoding="utf-8") as f:
        w = XmlWriter(f, site)
        w.page(Page(PageId(1), 0, "Kept", None), [r for r in revs[:2]])
        w.page(Page(PageId(2), 0, "Imported page", None), revs)
        w.close()
    c.import_xml(xml.read_bytes(), "an archive", "ldnont")
    c.delete("Deleted then restored", "for a while")
    sync.carry("--verify-every", "0")
    sync.same()

    # A history merge moves revisions between pages under their ids; an undelete brings
    # old ids back; a revision deletion hides a held revision's comment and user.
    # (the sync account's grants do not include merging histories, and in 1.39 only the
    # suppress group may delete revisions: an admin in it, with a bot password that may)
    pw = "f" * 32
    sync.wiki.run_maintenance("createAndPromote.php", "--force", "--custom-groups", "suppress", "Admin")
    sync.wiki.run_maintenance("createBotPassword.php", "--appid", "merge", "--grants", BOT_GRANTS + ",mergehistory",
                              "Admin", pw)
    admin = MediaWikiClient(sync.wiki.api_url, "Admin@merge", pw)
    admin.merge_history("Merge source", "Merge target", "merge")
    c.undelete("Deleted then restored", "needed after all")
    admin.revision_delete([hidden], "hide", hide=["comment", "user"])
    info = sync.carry("--verify-every", "0")
    assert info["updates"] == 1
    sync.same()
    again = sync.carry("--verify")
    assert again["verify"]["lacking_revisions"] == 0 and again["revisions"] == 0


@pytest.mark.mediawiki
def test_verify_finds_and_carries_what_detection_missed(sync):
    """A state that believes the peer has seen revisions up to a higher id than it has
    (as if detection had missed an import): the next bundle misses them; --verify finds
    them by listing every revision id, reports the drift and carries them."""
    first, second, site = ldnont_in_two_parts()
    sync.import_dump(first, "part1.xml", site)
    sync.carry("--verify-every", "0")
    sync.import_dump(second, "part2.xml", site)
    st = Side.open(str(sync.hq)).state
    with st.transaction():
        st.db.execute("UPDATE source_marks SET top_rev_id = top_rev_id + 100000, top_page_id = top_page_id + 100000")
    missed = sync.carry("--verify-every", "0")
    assert missed["revisions"] == 0  # the state's belief hid them
    n = sum(len(r) for _p, r in second)
    found = sync.carry("--verify")
    assert found["verify"]["lacking_revisions"] == n and found["revisions"] == n
    assert found["verify"]["lacking_pages"] == len(second)
    sync.same()


@pytest.mark.mediawiki
def test_a_revision_committed_after_the_top_was_read_is_still_carried(sync):
    """A database may commit out of id order: an edit whose id is below the top the last
    bundle read, saved about then, is found by its time (the revisions saved since the
    basis's clock, less the slack, come with the clock; the held ones cost nothing)."""
    c = sync.client
    c.edit("Late", "one\n", "create")
    sync.carry("--verify-every", "0")
    late = c.edit("Late", "one\ntwo\n", "committed after bundle 1 read its top").rev_id
    st = Side.open(str(sync.hq)).state
    with st.transaction():
        st.db.execute("UPDATE source_marks SET top_rev_id = ?", (late,))
    info = sync.carry("--verify-every", "0")
    assert info["revisions"] == 1
    sync.same()


@pytest.mark.mediawiki
def test_one_edit_reads_the_new_revision_and_its_base_not_the_history(sync):
    """A page with a long history: one more edit costs the id probe and one request
    with two texts (the edit and its base), not the history."""
    with open_dump(LDNONT[-1]) as d:
        page, revs = max(((ph.page, list(ph.revisions)) for ph in d), key=lambda pr: len(pr[1]))
        site = d.siteinfo
    sync.import_dump([(page, revs)], "page.xml", site)
    sync.carry("--verify-every", "0")
    title = next(p for p in api_history(sync.client) if p != "Main Page")
    *_older, latest = sync.client.page_revisions(title)
    sync.client.edit(title, latest.text + "\nOne more line.\n", "one edit")
    info = sync.carry("--verify-every", "0")
    assert info["revisions"] == 1
    history_bytes = sum(len((r.text or "").encode()) for r in revs)
    assert info["api_bytes"] < history_bytes / 2
    sync.same()


def _rev(i: int, ts: int, text: str) -> Revision:
    return Revision(RevId(i), PageId(1), ts, text)


def test_partial_history_keys_are_the_whole_historys_keys():
    """Repeats of (timestamp, sha1) in a page (a move's null revision repeats its parent's
    text, often in the same second): for any cut into held and new, the keys of
    [base, new...] counted against the held keys equal the keys of the whole history."""
    rnd = random.Random(7)
    for _ in range(300):
        revs = []
        ts, text = 1_600_000_000, "a"
        for i in range(rnd.randint(1, 12)):
            ts += rnd.choice((0, 0, 1))
            text = rnd.choice((text, text, "a", "b", "c"))
            revs.append(_rev(i + 1, ts, text))
        whole = page_rkeys(revs)
        cut = rnd.randint(0, len(revs))
        held = {k: (r.rev_id, 0) for r, k in zip(revs[:cut], whole[:cut])}
        part = ([revs[cut - 1]] if cut else []) + revs[cut:]
        assert partial_rkeys(part, held) == whole[max(cut - 1, 0):]
    # and a held revision is found under its own key even after its twin
    twin = [_rev(1, 5, "x"), _rev(2, 5, "x")]
    held = {rkey(twin[0], 0): (1, 0), rkey(twin[1], 1): (2, 0)}
    assert partial_rkeys([twin[1], _rev(3, 5, "x")], held) == [rkey(twin[1], 1), rkey(twin[0], 2)]


def test_verify_on_a_side_without_a_mediawiki_is_a_usage_error(cli_sides):
    """--verify compares a MediaWiki's listing: on a side whose wiki is its own store it
    says so, with a hint, and makes nothing."""
    tmp, hq, _school = cli_sides
    r = run_cli("make", "-C", hq, "--out", tmp / "b.bundle", "--verify", code=2)
    assert "--verify" in r.output and "hint:" in r.output
    assert not (tmp / "b.bundle").exists()


def test_bundles_since_the_last_reconciliation_are_counted_along_the_chain(tmp_path):
    """--verify-every N: the state counts the bundles since the last verified one along
    the basis chain (a bundle made on another basis does not count), and remembers the
    tops each bundle saw (migration 0007)."""
    from bundler.state import Sent, State

    st = State(str(tmp_path / "state.sqlite"))
    with st.transaction():
        for seq, basis in ((1, 0), (2, 1), (3, 2), (4, 2)):  # 4 is made on 2 as well: 3 is not its basis
            st.record_sent(Sent("peer", seq, bytes(16), basis, 0, "", False, None))
            st.record_source_mark("peer", seq, 1000 + seq, 10 * seq, seq, verified=seq == 1)
    assert st.source_tops("peer", 3).top_rev_id == 30 and st.source_tops("peer", 3).top_page_id == 3
    assert st.source_mark("peer", 3) == 1003
    assert [st.bundles_since_verified("peer", s) for s in (1, 2, 3, 4)] == [0, 1, 2, 2]
