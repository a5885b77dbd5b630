"""Both sides are real MediaWikis 1.39: bundle make reads the online wiki over the
Action API, bundle apply writes the offline wiki over the Action API
(bundler/targets/mediawiki.py). Checked by reading the offline wiki back over its API.

What "the same history" means here, and why:
- users: a user the offline wiki does not know shows as "<peer label>>Name"
  (action=import's interwiki prefix); known users (Admin) keep their name;
- revisions applying made itself on the offline wiki (import and move null
  revisions, the newest-text edit) are left out: the side's state lists them
  (``mw_own_revs``), and bundle make from that wiki leaves them out too;
- two revisions of one page with the same second and text (a move's null
  revision right after an edit) are one revision to MediaWiki's importer: such
  repeats are compared once. For the same reason the online wiki is changed
  only from the second after an apply: an online move in the very second the
  offline import wrote its null revision (same text) would be taken for that
  null revision by the next import, and keep its comment (the target then
  counts it as a real revision; the test would see another comment).
"""

from __future__ import annotations

import json
import sqlite3
import time

import httpx
import pytest

from bundler.mediawiki import session as mw_module
from bundler.mediawiki import MediaWikiClient
from bundler.model import text_sha1
from bundler.sources.api import ApiSource
from bundler.state import Side
from bundler.state.mediawiki import MediaWikiIds
from bundler.sources.dump import open_dump
from helpers import api_sides, data, embedded_to_wiki_sides, run_cli

pytestmark = pytest.mark.mediawiki

PEER = "online"  # the online side's label: the offline wiki's interwiki prefix


def own_revisions(side_dir) -> set[int]:
    db = sqlite3.connect(side_dir / "state.sqlite")
    try:
        return {r[0] for r in db.execute("SELECT mw_rev_id FROM mw_own_revs")}
    finally:
        db.close()


def wiki_history(client: MediaWikiClient, skip: set[int] = frozenset()) -> dict[str, list[tuple]]:
    """title -> [(text sha1, timestamp, user, comment, minor)] in history order, read over the API."""
    out: dict[str, list[tuple]] = {}
    seen: set[tuple] = set()
    for page, rev in client.iter_allrevisions():
        if rev.rev_id in skip or (page.title, rev.timestamp, rev.sha1) in seen:
            continue
        seen.add((page.title, rev.timestamp, rev.sha1))
        user = (rev.user or "").removeprefix(PEER + ">")
        out.setdefault(page.title, []).append((text_sha1(rev.text or ""), rev.timestamp, user, rev.comment, rev.minor))
    return out


def current_texts(client: MediaWikiClient) -> dict[str, str]:
    return {c.page.title: c.sha1 for ns in (0, 1) for c in client.iter_allpages_latest([ns])}


class Sync:
    """An online and an offline side, each a real MediaWiki, trusting each other."""

    def __init__(self, pair, tmp_path, monkeypatch):
        self.tmp = tmp_path
        self.online_wiki, self.offline_wiki = pair.online, pair.offline
        self.online, self.offline, self.hq, self.school = api_sides(pair, tmp_path, monkeypatch, PEER, "offline")
        self.n = 0

    def make(self) -> dict:
        self.n += 1
        since = ["--since", self.tmp / f"m{self.n - 1}.wbm"] if self.n > 1 else []
        r = run_cli("make", "-C", self.hq, *since, "--out", self.tmp / f"b{self.n}.bundle", "--json")
        return json.loads(r.output)

    def apply(self, code: int = 0):
        bundle, manifest = self.tmp / f"b{self.n}.bundle", self.tmp / f"m{self.n}.wbm"
        args = ["apply", "-C", self.school, bundle, "--manifest-out", manifest] + (["--json"] if code == 0 else [])
        r = run_cli(*args, code=code)
        time.sleep(1.05 - time.time() % 1)  # the next second: see the module docstring
        return r

    def online_revisions(self) -> set[int]:
        return {rev.rev_id for _page, rev in self.online.iter_allrevisions()}

    def assert_same(self) -> None:
        online = wiki_history(self.online)
        offline = wiki_history(self.offline, own_revisions(self.school))
        assert offline == online

    def offline_revisions(self) -> list[int]:
        return sorted(rev.rev_id for _page, rev in self.offline.iter_allrevisions())


@pytest.fixture
def sync(mediawiki_pair, tmp_path, monkeypatch) -> Sync:
    return Sync(mediawiki_pair, tmp_path, monkeypatch)


def test_two_real_wikis_stay_the_same_over_three_bundles(sync):
    w = sync.online
    anon = MediaWikiClient(sync.online_wiki.api_url)  # an IP editor: a user the offline wiki cannot know
    for i in range(6):
        w.edit("Alpha", "".join(f"line {j}\n" for j in range(i + 1)), f"edit {i}", minor=i == 3)
    anon.edit("Alpha", "line 0\nby an IP\n", "ip edit")
    w.edit("Beta", "b\n", "create")
    w.edit("Beta", "b\nb2\n", "more")
    w.move("Beta", "Beta moved", "rename")  # leaves a redirect page at Beta: its own page
    w.edit("Gamma", "g\n", "create")
    w.edit("Zed", "z\n", "create")
    w.delete("Zed", "not needed")  # gone before the first bundle: never travels
    w.edit("Delta", "d1\n", "create")
    w.delete("Delta", "wrong start")
    w.edit("Delta", "d2\n", "create again")  # a new page under a deleted title
    w.edit("Talk:Alpha", "talk\n", "talk")
    w.edit("One", "1\n", "create")
    w.edit("Two", "2\n", "create")

    first = sync.make()
    sent = sync.online_revisions()
    assert (first["moves"], first["deletions"]) == (0, 0)
    # Edited online after the bundle was made, before it is applied: bundle 1's
    # import null revision on Alpha is newer than this edit, which arrives in
    # bundle 2 and must still become Alpha's current text.
    w.edit("Alpha", "late\n", "made before bundle 1 was applied")
    time.sleep(1.1)
    applied = json.loads(sync.apply().output)
    assert applied["revisions_added"] == first["revisions"]
    offline = wiki_history(sync.offline, own_revisions(sync.school))
    online = wiki_history(sync.online)
    assert offline["Alpha"] == online["Alpha"][:-1] and offline["Beta moved"] == online["Beta moved"]
    assert "Zed" not in offline and len(offline["Delta"]) == 1
    assert {k: v for k, v in offline.items() if k != "Alpha"} == {k: v for k, v in online.items() if k != "Alpha"}

    # Round 2: edits, two pages swap titles, deletions, a new page.
    w.edit("Alpha", "late\nand later\n", "after bundle 1")
    w.move("One", "Swap tmp", "swap", noredirect=True)
    w.move("Two", "One", "swap", noredirect=True)
    w.move("Swap tmp", "Two", "swap", noredirect=True)
    w.delete("Beta", "redirect not needed")
    w.delete("Gamma", "for now")
    w.edit("Eta", "e\n", "new")
    second = sync.make()
    new = sync.online_revisions() - sent
    sent |= new
    # Only what changed: Alpha's two edits, the swap's move null revisions, Eta.
    assert (second["revisions"], second["moves"], second["deletions"]) == (len(new), 2, 2)
    assert second["pages"] == 4  # Alpha, One, Two, Eta
    sync.apply()
    sync.assert_same()
    # every page's current text is the online one (Alpha: despite the null revision)
    assert current_texts(sync.offline) == current_texts(sync.online)

    # Round 3: a deleted page comes back (undeleted here from the wiki's archive).
    w.undelete("Gamma", "needed after all")
    w.edit("Eta", "e\ne2\n", "more")
    third = sync.make()
    assert (third["revisions"], third["pages"]) == (len(sync.online_revisions() - sent), 2)
    sync.apply()
    sync.assert_same()

    # What applying made on the offline wiki is never an edit to send: the API
    # source leaves it out, and a make from the offline wiki carries the rest.
    own = own_revisions(sync.school)
    assert own
    src = ApiSource(sync.offline, MediaWikiIds(Side.open(str(sync.school)).state).own_revisions())
    listed = {r.rev_id for ph in src.pages() for r in ph.revisions}
    assert listed and not listed & own
    # Nor is what it received: the school's bundle back (a return) carries only the
    # revisions made on the offline wiki itself (its own Main Page and the like).
    sync.offline.edit("Written offline", "a local page\n", "offline edit")
    received = {r[0] for r in Side.open(str(sync.school)).state.db.execute("SELECT mw_rev_id FROM mw_revs")}
    back = json.loads(run_cli("make", "-C", sync.school, "--out", sync.tmp / "back.bundle", "--json").output)
    assert back["revisions"] == len(set(sync.offline_revisions()) - own - received) == 1


def test_a_connection_dropped_half_way_then_a_rerun_finishes_without_duplicates(sync, monkeypatch):
    w = sync.online
    for title in ("A", "B", "C"):
        w.edit(title, f"{title}\n", "create")
    sync.make()
    sync.apply()
    w.edit("A", "A\nA2\n", "edit")
    w.move("B", "B2", "rename", noredirect=True)
    w.move("C", "C2", "rename", noredirect=True)
    w.edit("D", "d\n", "new")
    sync.make()

    real = Side.api_client

    class DropAfterSending(httpx.HTTPTransport):
        """The wiki gets the first move, the answer is lost: as a connection that drops."""

        def handle_request(self, request):
            response = super().handle_request(request)
            if b"action=move" in request.read():
                response.close()
                raise httpx.ReadError("connection reset by peer")
            return response

    def flaky(side):
        client = real(side)
        client._http = httpx.Client(transport=DropAfterSending())
        return client

    monkeypatch.setattr(Side, "api_client", flaky)
    r = sync.apply(code=51)
    assert "hint:" in r.output and "Traceback" not in r.output
    monkeypatch.setattr(Side, "api_client", real)
    before = sync.offline_revisions()
    sync.apply()
    sync.assert_same()
    after = sync.offline_revisions()
    assert len(after) - len(before) <= 3  # a null revision per move and per import, never a revision twice
    # and applied once more: already applied, nothing changes
    sync.apply()
    assert sync.offline_revisions() == after


def test_a_bundle_that_cannot_be_decoded_changes_nothing(sync):
    sync.online.edit("A", "a\n", "create")
    sync.make()
    sync.apply()
    sync.online.edit("A", "a\nb\n", "edit")  # travels as a delta against the held text
    sync.online.edit("New", "n\n", "create")
    sync.make()
    db = sqlite3.connect(sync.school / "state.sqlite")
    db.execute("DELETE FROM mw_revs")  # this side forgot which wiki revisions its bases are
    db.commit()
    db.close()
    before = sync.offline_revisions()
    r = sync.apply(code=36)
    assert "does not hold" in r.output
    assert sync.offline_revisions() == before


def test_refused_import_wrong_password_unreachable_wiki_are_clear_errors(sync, monkeypatch):
    sync.online.edit("A", "a\n", "create")
    sync.make()
    before = sync.offline_revisions()
    wiki, port = sync.offline_wiki, sync.offline_wiki.port

    monkeypatch.setattr(mw_module, "BACKOFF_BASE", 0.01)
    wiki.stop()
    r = sync.apply(code=51)
    assert "cannot reach" in r.output and "hint:" in r.output

    # The account may not import (php -S caches LocalSettings.php: restart).
    settings = wiki.conf.read_text()
    wiki.conf.write_text(settings + "\n$wgGroupPermissions['sysop']['importupload'] = false;\n")
    wiki.start(port=port)
    r = sync.apply(code=50)
    assert "may not import" in r.output and "hint:" in r.output
    wiki.stop()
    wiki.conf.write_text(settings)
    wiki.start(port=port)

    secret = sync.school / "password.secret"
    password = secret.read_text()
    secret.write_text("wrong-password")
    r = sync.apply(code=52)
    assert "wrong-password" not in r.output and "hint:" in r.output
    secret.write_text(password)

    assert sync.offline_revisions() == before
    sync.apply()
    sync.assert_same()


def test_a_revision_whose_text_is_hidden_is_left_out_and_said_so(mediawiki, tmp_path, monkeypatch):
    # A dump with a suppressed text (<text deleted="deleted"/>), sent from an embedded side.
    dump = data("MediawikiDumperOutputTest.Simplewiki.Sample.xml")
    hq, school, wiki = embedded_to_wiki_sides(mediawiki, tmp_path, monkeypatch)
    made = json.loads(run_cli("make", "-C", hq, "--from", dump, "--out", tmp_path / "b.bundle", "--json").output)
    applied = json.loads(run_cli("apply", "-C", school, tmp_path / "b.bundle", "--json").output)
    assert any("hidden" in n for n in applied["notes"])
    own = own_revisions(school)
    kept = [rev for page, rev in wiki.iter_allrevisions() if rev.rev_id not in own and page.title != "Main Page"]
    with open_dump(dump) as d:
        visible = [r for ph in d for r in ph.revisions if r.text is not None]
    assert made["revisions"] > len(visible) == len(kept)
    assert sorted((r.timestamp, text_sha1(r.text)) for r in kept) == sorted((r.timestamp, r.sha1) for r in visible)


def test_undeleting_onto_a_title_taken_here_says_which_page_then_a_rerun_finishes(sync):
    w = sync.online
    w.edit("G", "g\n", "create")
    sync.make()
    sync.apply()
    w.delete("G", "for now")
    sync.make()
    sync.apply()
    # Someone on the offline wiki takes the freed title (not with the tool's account:
    # what that account does while a bundle is applied counts as the tool's).
    MediaWikiClient(sync.offline_wiki.api_url).edit("G", "a page of the offline wiki's own\n", "local")
    w.undelete("G", "needed after all")
    sync.make()
    r = sync.apply(code=36)
    assert "cannot be undeleted" in r.output and "Special:MovePage/G" in r.output
    sync.offline.move("G", "G (offline)", "make room", noredirect=True)
    sync.apply()
    offline = wiki_history(sync.offline, own_revisions(sync.school))
    assert offline["G"] == wiki_history(sync.online)["G"]
    assert "G (offline)" in offline


@pytest.mark.mediawiki
def test_a_page_id_past_64_bits_is_refused_by_a_mediawiki_receiver_too(mediawiki, tmp_path, monkeypatch):
    """A compact payload's page ids are differences, so a signed bundle can name an id of any
    size; the store refuses one past int64 (``store.check_int64``), and so must the
    MediaWiki target, before it stages anything — not with an SQLite overflow."""
    from bundler import container, wire
    from bundler.compact import Layout
    from bundler.records import compact_payload, expand_payload
    from bundler.state import Side
    from helpers import frame_body, frame_raw

    hq, school, wiki = embedded_to_wiki_sides(mediawiki, tmp_path, monkeypatch)
    run_cli("import", "-C", hq, data("article-pear.xml"))
    run_cli("make", "-C", hq, "--out", tmp_path / "b1.bundle")
    layout = Layout.of((tmp_path / "b1.bundle").read_bytes())
    assert layout.compact and len(layout.frames) == 1
    ftype, meta_bytes, body, raw_len = layout.frames[0]
    meta = container.expand_meta(wire.unpackb(meta_bytes, what="t", int_keys=True), "t")
    payload = expand_payload(wire.unpackb(frame_raw(meta, body, raw_len), what="t"), "t")
    payload["pages"][0][0] = 1 << 63
    raw = wire.packb(compact_payload(payload))
    layout.frames[0] = [ftype, meta_bytes, frame_body(meta, raw), len(raw)]
    (tmp_path / "bad.bundle").write_bytes(layout.signed(Side.open(str(hq)).secret_key()))
    r = run_cli("apply", "-C", school, tmp_path / "bad.bundle", code=36)
    assert "does not fit" in r.output
    assert list(wiki.page_revisions("Pear")) == []  # nothing staged reached the wiki
