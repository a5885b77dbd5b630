"""The online side is a real MediaWiki 1.39: bundle make reads it over the Action API
(pages created, edited, moved, deleted), bundle apply fills an embedded store, and
the second bundle carries only what changed."""

from __future__ import annotations

import json
import os
import stat

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
