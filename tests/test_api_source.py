"""The online side is a real MediaWiki 1.39: bundle make reads it over the Action API
(pages created, edited, moved, deleted), bundle apply fills an embedded store, and
the second bundle carries only what changed."""

from __future__ import annotations

import json
import os
import stat
import time

import pytest

from bundler.mediawiki import MediaWikiClient
from bundler.model import text_sha1
from bundler.state import Side
from helpers import run_cli, store_history


def api_history(client: MediaWikiClient) -> dict[str, list[tuple]]:
    """title -> [(text sha1, timestamp, user, comment, minor)], read independently of the source."""
    out: dict[str, list[tuple]] = {}
    for page, rev in client.iter_allrevisions():
        out.setdefault(page.title, []).append((text_sha1(rev.text or ""), rev.timestamp, rev.user, rev.comment, rev.minor))
    return out


@pytest.mark.mediawiki
def test_make_from_a_real_mediawiki_then_only_what_changed(mediawiki, tmp_path, monkeypatch):
    wiki = MediaWikiClient(mediawiki.api_url, mediawiki.bot_user, mediawiki.bot_password)
    wiki.edit("Alpha", "one\n", "create")
    wiki.edit("Alpha", "one\ntwo\n", "second line")
    wiki.edit("Beta", "b\n", "create")
    wiki.edit("Gamma", "g\n", "create")
    wiki.move("Beta", "Beta moved", "rename", noredirect=True)
    wiki.delete("Gamma", "not needed")

    hq, school = tmp_path / "hq", tmp_path / "school"
    monkeypatch.setenv("WIKIBUNDLE_PASSWORD", mediawiki.bot_password)
    r = run_cli("init", "-C", hq, "--wiki", mediawiki.api_url, "--user", mediawiki.bot_user)
    assert mediawiki.bot_password not in r.output
    assert stat.S_IMODE(os.stat(hq / "password.secret").st_mode) == 0o600
    run_cli("init", "-C", school, "--wiki", school / "w.sqlite")
    (tmp_path / "hq.pub").write_text(run_cli("key", "-C", hq).output)
    (tmp_path / "school.pub").write_text(run_cli("key", "-C", school).output)
    run_cli("trust", "-C", hq, tmp_path / "school.pub")
    run_cli("trust", "-C", school, tmp_path / "hq.pub")

    first = json.loads(run_cli("make", "-C", hq, "--out", tmp_path / "b1.bundle", "--json").output)
    assert first["api_requests"] > 0
    # (the move's null revision has its page's text and second: told apart, not dropped)
    assert first["revisions"] == sum(len(h) for h in api_history(wiki).values())
    run_cli("apply", "-C", school, tmp_path / "b1.bundle", "--manifest-out", tmp_path / "m1.wbm")
    assert store_history(Side.open(str(school))) == api_history(wiki)

    wiki.edit("Alpha", "one\ntwo\nthree\n", "third line")
    wiki.edit("Delta", "d\n", "create")
    wiki.move("Beta moved", "Beta again", "again", noredirect=True)  # adds a null revision
    second = json.loads(
        run_cli("make", "-C", hq, "--since", tmp_path / "m1.wbm", "--out", tmp_path / "b2.bundle", "--json").output
    )
    assert (second["revisions"], second["moves"], second["deletions"]) == (3, 1, 0)
    assert second["pages"] == 3
    run_cli("apply", "-C", school, tmp_path / "b2.bundle")
    assert store_history(Side.open(str(school))) == api_history(wiki)
    # unchanged pages cost one listing request, not their histories
    assert second["api_requests"] < first["api_requests"] + 3


@pytest.mark.mediawiki
def test_wrong_password_is_one_clear_error_and_nothing_is_made(mediawiki, tmp_path, monkeypatch):
    monkeypatch.setenv("WIKIBUNDLE_PASSWORD", "not-the-password")
    r = run_cli("init", "-C", tmp_path / "hq", "--wiki", mediawiki.api_url, "--user", mediawiki.bot_user, code=52)
    assert "not-the-password" not in r.output and "hint:" in r.output
    assert not (tmp_path / "hq" / "config.json").exists()


@pytest.mark.mediawiki
def test_later_bundles_read_only_what_changed_since_the_basis(mediawiki, tmp_path, monkeypatch):
    """After the first bundle, make reads the pages with new revisions and the log since
    the wiki's clock was noted — not every page — and finds deletions in the log:
    a page deleted, a page moved then deleted, a page restored with its old revisions."""
    wiki = MediaWikiClient(mediawiki.api_url, mediawiki.bot_user, mediawiki.bot_password)
    for i in range(30):
        wiki.edit(f"Page {i}", f"text {i}\n", "create")
    hq, school = tmp_path / "hq", tmp_path / "school"
    monkeypatch.setenv("WIKIBUNDLE_PASSWORD", mediawiki.bot_password)
    run_cli("init", "-C", hq, "--wiki", mediawiki.api_url, "--user", mediawiki.bot_user)
    run_cli("init", "-C", school, "--wiki", school / "w.sqlite")
    (tmp_path / "hq.pub").write_text(run_cli("key", "-C", hq).output)
    (tmp_path / "school.pub").write_text(run_cli("key", "-C", school).output)
    run_cli("trust", "-C", hq, tmp_path / "school.pub")
    run_cli("trust", "-C", school, tmp_path / "hq.pub")
    # Two minutes of slack would cover this whole test: a second here, and time passes.
    import bundler.sources.api

    monkeypatch.setattr(bundler.sources.api, "SLACK", 1)
    time.sleep(2)
    run_cli("make", "-C", hq, "--out", tmp_path / "b1.bundle", "--json")
    run_cli("apply", "-C", school, tmp_path / "b1.bundle", "--manifest-out", tmp_path / "m1.wbm")
    time.sleep(2)

    wiki.delete("Page 3", "gone")  # restored below: its old revisions come back
    wiki.edit("Page 1", "text 1\nmore\n", "edit")
    wiki.delete("Page 2", "gone")
    wiki.move("Page 4", "Page four", "rename", noredirect=True)
    wiki.delete("Page four", "gone after a move")
    wiki.undelete("Page 3", "needed after all")
    wiki.edit("New page", "new\n", "create")
    second = json.loads(
        run_cli("make", "-C", hq, "--since", tmp_path / "m1.wbm", "--out", tmp_path / "b2.bundle", "--json").output
    )
    assert second["deletions"] == 2 and second["pages"] >= 2
    run_cli("apply", "-C", school, tmp_path / "b2.bundle", "--manifest-out", tmp_path / "m2.wbm")
    assert store_history(Side.open(str(school))) == api_history(wiki)
    # Every page listed was ~20 requests (one per namespace) plus histories; since the
    # basis it is the clock, the log, the changed pages and their histories.
    full = json.loads(run_cli("make", "-C", hq, "--full", "--out", tmp_path / "full.bundle", "--json").output)
    assert second["api_requests"] < full["api_requests"] / 3
    # Nothing changed: a third bundle is empty and cheap.
    time.sleep(2)
    third = json.loads(
        run_cli("make", "-C", hq, "--since", tmp_path / "m2.wbm", "--out", tmp_path / "b3.bundle", "--json").output
    )
    # (login, site information, the clock, the log, the revisions since: about ten requests)
    assert (third["revisions"], third["pages"], third["deletions"]) == (0, 0, 0) and third["api_requests"] <= 12


def test_a_wiki_before_1_27_is_read_by_listing_every_page():
    """No list=allrevisions there (and an unknown list is only a warning): reading
    "since the basis" would find nothing, so every page is listed (unit test, stub client)."""
    from types import SimpleNamespace

    from bundler.sources.api import ApiSource

    class Old:
        def siteinfo(self):
            return SimpleNamespace(site=None, version="MediaWiki 1.26.4")

        def server_time(self):
            return 2_000_000_000

        def iter_logevents(self, *a, **k):
            raise AssertionError("the log is not read")

    class State:
        def source_mark(self, peer, seq):
            return 1_900_000_000

    src = ApiSource(Old())
    _pages, deleted = src.for_basis(State(), SimpleNamespace(peer="peer"), 3)
    assert deleted is None and src.mode == "every page"
