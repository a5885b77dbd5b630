"""The offline MediaWiki on this machine, written through its own maintenance scripts
(bundler/targets/local.py): the online side is a real MediaWiki read over its API,
the offline one a real MediaWiki whose side was made with
``bundle init --wiki LocalSettings.php``.

The cases of tests/test_mediawiki_sync.py run here again through the local target
(the ``sync`` fixture below replaces that module's), then what only the local
target can do: edits made online between make and apply leave the offline
history equal to the online one, revision for revision, with no import record;
a kill in the middle of an apply, then a re-run; the return trip made from it.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time

import pytest

from bundler.mediawiki import MediaWikiClient
from helpers import run_cli
from test_mediawiki_files import DATA, png
from test_mediawiki_sync import (  # noqa: F401 - collected here again, with this module's ``sync``
    PEER,
    Sync,
    current_texts,
    own_revisions,
    test_a_bundle_that_cannot_be_decoded_changes_nothing,
    test_two_real_wikis_stay_the_same_over_three_bundles,
    test_undeleting_onto_a_title_taken_here_says_which_page_then_a_rerun_finishes,
    wiki_history,
)

pytestmark = pytest.mark.mediawiki

SCRIPT_USERS = {"Move page script", "Maintenance script"}


class LocalSync(Sync):
    """``Sync`` whose offline side writes through the offline wiki's maintenance scripts."""

    def __init__(self, pair, tmp_path, monkeypatch, php: str = "php"):
        self.tmp = tmp_path
        self.online_wiki, self.offline_wiki = pair.online, pair.offline
        self.hq, self.school = tmp_path / PEER, tmp_path / "offline"
        on, off = pair.online, pair.offline
        monkeypatch.setenv("WIKIBUNDLE_PASSWORD", on.bot_password)
        run_cli("init", "-C", self.hq, "--wiki", on.api_url, "--user", on.bot_user)
        monkeypatch.setenv("WIKIBUNDLE_PASSWORD", off.bot_password)
        # The wiki by its LocalSettings.php; its api.php URL from its $wgServer.
        r = run_cli("init", "-C", self.school, "--wiki", off.conf, "--user", off.bot_user, "--php", php)
        assert "maintenance scripts" in r.output
        for a, b in ((self.hq, self.school), (self.school, self.hq)):
            (tmp_path / "k.pub").write_text(run_cli("key", "-C", b).output)
            run_cli("trust", "-C", a, tmp_path / "k.pub")
        self.online = MediaWikiClient(on.api_url, on.bot_user, on.bot_password)
        self.offline = MediaWikiClient(off.api_url, off.bot_user, off.bot_password)
        self.n = 0

    def import_records(self) -> list:
        """Import log entries and import null revisions on the offline wiki."""
        log = list(self.offline.iter_logevents(["import"]))
        nulls = [r for _p, r in self.offline.iter_allrevisions() if "imported" in (r.comment or "")]
        return log + nulls


@pytest.fixture
def sync(mediawiki_pair, tmp_path, monkeypatch) -> LocalSync:
    return LocalSync(mediawiki_pair, tmp_path, monkeypatch)


def test_the_side_names_its_wiki_by_its_api_and_its_scripts(sync):
    config = json.loads((sync.school / "config.json").read_text())
    assert config["wiki"] == sync.offline_wiki.api_url
    assert config["local"]["conf"] == str(sync.offline_wiki.conf) and config["local"]["php"] == "php"
    assert os.path.isdir(os.path.join(config["local"]["install"], "maintenance"))


def test_edits_online_between_make_and_apply_leave_exact_histories_and_no_import_record(sync):
    """The issue's storm: pages edited online while bundles are made and applied,
    moved and deleted; after two bundles every offline history equals the online one."""
    w = sync.online
    pages = [f"Page {i}" for i in range(5)]
    for i, title in enumerate(pages):
        w.edit(title, f"storm {i}\n", f"storm {i}")
    w.edit("Moved early", "m\n", "create")
    w.edit("Doomed", "d\n", "create")
    w.edit("Page 0", "storm 0\n[[Category:Gone]] [[Linked once]]\n", "storm 0b")  # links that do not last
    sync.make()
    # Edited online after bundle 1 was made, before it is applied.
    for i, title in enumerate(pages[:3]):
        w.edit(title, f"storm {i}\nlater {i}\n", f"storm {i + 10}", minor=i == 1)
    w.move("Moved early", "Moved later", "rename", noredirect=True)
    time.sleep(1.1)
    sync.apply()
    # More online edits; bundle 2 carries them with the window's edits, which are
    # older than anything applying bundle 1 did.
    for i, title in enumerate(pages):
        w.edit(title, f"storm {i}\nlater {i}\nlast {i}\n[[Category:Stormy {i % 2}]]", f"storm {i + 20}")
    w.delete("Doomed", "not needed")
    w.move("Page 4", "Page four", "rename", noredirect=True)
    second = sync.make()
    assert (second["moves"], second["deletions"]) == (2, 1)
    sync.apply()

    online, offline = wiki_history(sync.online), wiki_history(sync.offline, own_revisions(sync.school))
    assert offline == online
    assert current_texts(sync.offline) == current_texts(sync.online)
    assert sync.import_records() == []
    # What applying made itself is MediaWiki's own move null revisions, nothing else.
    own = own_revisions(sync.school)
    made = {r.user for _p, r in sync.offline.iter_allrevisions() if r.rev_id in own}
    assert len(own) == 2 and made == {"Move page script"}
    # Page 0 as the issue saw it: every revision's text is the one online, in order.
    assert [t for t, *_ in offline["Page 0"]] == [t for t, *_ in online["Page 0"]]
    # Links, categories and the search index are those of the current texts, as online.
    assert categories(sync.offline) == categories(sync.online) and "Category:Gone" not in str(categories(sync.online))
    # (a moved page's search entry is a deferred update on both wikis: not compared)
    assert set(pages[:4]) <= search(sync.offline, "last") and set(pages[:4]) <= search(sync.online, "last")
    # Recent changes and statistics are brought up to date.
    changed = {c["title"] for batch in sync.offline.query({"list": "recentchanges", "rclimit": "max", "rcprop": "title"})
               for c in batch.get("query", {}).get("recentchanges", ())}
    assert {"Page 0", "Page 3", "Page four", "Moved later"} <= changed
    assert sync.offline.statistics()["edits"] >= sum(len(v) for v in online.values())


def categories(client: MediaWikiClient) -> dict[str, list[str]]:
    """title -> its categories (the link tables the importer derives from the current text)."""
    out: dict[str, list[str]] = {}
    for batch in client.query({"generator": "allpages", "gaplimit": "max", "prop": "categories", "cllimit": "max"}):
        for p in batch.get("query", {}).get("pages", ()):
            out.setdefault(p["title"], []).extend(c["title"] for c in p.get("categories", ()))
    return {t: sorted(c) for t, c in out.items()}


def search(client: MediaWikiClient, word: str) -> set[str]:
    return {r["title"] for batch in client.query({"list": "search", "srsearch": word, "srlimit": "max", "srwhat": "text"})
            for r in batch.get("query", {}).get("search", ())}


def _kill_after(tmp_path, script: str):
    """A PHP that runs the real one, then kills bundle (its parent) with SIGKILL after the
    first ``script``: a machine that goes down while an apply is half done."""
    wrapper = tmp_path / "php-then-kill"
    mark = tmp_path / "killed"
    wrapper.write_text(
        "#!/bin/sh\n"
        'php "$@"; rc=$?\n'
        f'case "$*" in *{script}*) if [ ! -e {mark} ]; then touch {mark}; kill -9 $PPID; fi;; esac\n'
        "exit $rc\n"
    )
    wrapper.chmod(0o755)
    return wrapper, mark


@pytest.mark.parametrize("script", ["importDump", "moveBatch"])
def test_killed_in_the_middle_of_an_apply_a_rerun_finishes_without_duplicates(mediawiki_pair, tmp_path, monkeypatch, script):
    wrapper, mark = _kill_after(tmp_path, script)
    sync = LocalSync(mediawiki_pair, tmp_path, monkeypatch, php=str(wrapper))
    w = sync.online
    for title in ("A", "B", "C"):
        w.edit(title, f"{title}\n", "create")
    sync.make()
    mark.touch()  # the first bundle goes through
    sync.apply()
    mark.unlink()
    w.edit("A", "A\nA2\n", "edit")
    w.move("B", "B2", "rename", noredirect=True)
    w.edit("D", "d\n", "new")
    sync.make()
    bundle = sync.tmp / f"b{sync.n}.bundle"
    cmd = [sys.executable, "-m", "bundler", "apply", "-C", str(sync.school), str(bundle)]
    killed = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9 and mark.exists(), killed.stderr
    before = sync.offline_revisions()
    sync.apply()
    sync.assert_same()
    assert sync.import_records() == []
    after = sync.offline_revisions()
    assert len(after) - len(before) <= 2  # the rest of the bundle, and never a revision twice
    assert json.loads(sync.apply().output)["already_applied"] and sync.offline_revisions() == after


def test_the_return_trip_is_made_from_the_local_wiki(sync):
    w = sync.online
    w.edit("Shared", "one\ntwo\n", "create")
    sync.make()
    sync.apply()
    # Edits made on the offline wiki by its people travel back in the return.
    people = MediaWikiClient(sync.offline_wiki.api_url)
    people.edit("Shared", "one\ntwo\nthree offline\n", "offline edit")
    people.edit("Written offline", "a local page\n", "new offline")
    w.edit("Shared", "zero online\none\ntwo\n", "online edit")
    sync.make()
    back = sync.tmp / "return.bundle"
    r = run_cli("apply", "-C", sync.school, sync.tmp / f"b{sync.n}.bundle", "--return-out", back, "--json")
    assert json.loads(r.output)["return_revisions"] == 2
    run_cli("apply", "-C", sync.hq, back)
    texts = {p.title: r.text for p, r in w.current_revisions(titles=["Shared", "Written offline"], content=True)}
    assert texts == {"Shared": "zero online\none\ntwo\nthree offline", "Written offline": "a local page"}


def file_versions(client: MediaWikiClient) -> dict[str, list[tuple]]:
    """name -> [(timestamp, uploader, comment, sha1 listed, sha1 of the downloaded bytes)], oldest first."""
    names = [img["name"] for batch in client.query({"list": "allimages", "ailimit": "max"})
             for img in batch["query"]["allimages"]]
    return {
        title.split(":", 1)[1]: [(v.timestamp, v.user, v.comment, v.sha1, hashlib.sha1(b"".join(client.download(v.url))).hexdigest())
                                 for v in reversed(versions)]
        for title, versions in client.imageinfo([f"File:{n}" for n in names]).items()
    }


def test_file_versions_keep_their_uploader_time_and_comment(sync):
    w = sync.online
    w.upload("Red dot.png", png(4, 3, (200, 0, 0)), "first red", text="A red dot.")
    w.upload("Red dot.png", png(4, 3, (0, 0, 200)), "now blue")
    w.upload("Icon.svg", (DATA / "betafeatures-icon-WikitextEditor-ltr.svg").read_bytes(), "an icon", text="Icon.")
    sync.make()
    time.sleep(1.1)
    w.upload("Red dot.png", png(4, 3, (0, 200, 0)), "green, online before bundle 1 was applied")
    sync.apply()
    sync.make()
    applied = json.loads(sync.apply().output)
    assert applied["files_added"] == 1
    online, offline = file_versions(w), file_versions(sync.offline)
    assert offline == online and len(online["Red_dot.png"]) == 3
    assert {v[1] for vs in offline.values() for v in vs} == {"Admin"}
    # the file pages' histories too, with no import record; and a re-apply uploads nothing
    assert wiki_history(sync.offline, own_revisions(sync.school)) == wiki_history(w)
    assert sync.import_records() == []
    assert json.loads(sync.apply().output)["already_applied"]
    assert file_versions(sync.offline) == online


def test_init_errors_are_one_message_with_a_hint_and_make_no_side(mediawiki_factory, tmp_path, monkeypatch):
    from bundler.mediawiki import session

    monkeypatch.setattr(session, "BACKOFF_BASE", 0.01)
    wiki = mediawiki_factory("offline", start=False)
    cases = [
        (["--wiki", tmp_path / "nowhere" / "LocalSettings.php"], "no LocalSettings.php there"),
        (["--wiki", wiki.conf, "--php", tmp_path / "no-php"], "cannot run PHP"),
        (["--wiki", tmp_path / "w.sqlite", "--php", "php8.2"], "are for a MediaWiki on this machine"),
    ]
    for args, message in cases:
        r = run_cli("init", "-C", tmp_path / "side", *args, code=2)
        assert message in r.output and "hint:" in r.output
        assert not (tmp_path / "side" / "config.json").exists()
    # the wiki's folder instead of its LocalSettings.php, and --api: an api.php that does not answer
    r = run_cli("init", "-C", tmp_path / "side", "--wiki", wiki.dir, "--api", "http://127.0.0.1:9/api.php", code=51)
    assert "hint:" in r.output and not (tmp_path / "side" / "config.json").exists()


def _local_hq_sides(pair, tmp_path, monkeypatch, online: str = "online", offline: str = "offline"):
    """``helpers.api_sides``, but the online side writes through its wiki's scripts."""
    dirs = [tmp_path / online, tmp_path / offline]
    for d, wiki, where in ((dirs[0], pair.online, pair.online.conf), (dirs[1], pair.offline, pair.offline.api_url)):
        monkeypatch.setenv("WIKIBUNDLE_PASSWORD", wiki.bot_password)
        run_cli("init", "-C", d, "--wiki", where, "--user", wiki.bot_user)
        (tmp_path / f"{d.name}.pub").write_text(run_cli("key", "-C", d).output)
    run_cli("trust", "-C", dirs[0], tmp_path / f"{offline}.pub")
    run_cli("trust", "-C", dirs[1], tmp_path / f"{online}.pub")
    clients = [MediaWikiClient(w.api_url, w.bot_user, w.bot_password) for w in (pair.online, pair.offline)]
    return clients[0], clients[1], dirs[0], dirs[1]


def test_a_return_lands_on_an_online_wiki_written_through_its_scripts(mediawiki_pair, tmp_path, monkeypatch):
    """The online side can be the local one too: tests/test_mediawiki_return.py's loop
    (merges, conflicts, moves, deletions, a page created on both sides) with the
    offline edits landed by edit.php, undelete.php and moveBatch.php."""
    import test_mediawiki_return

    monkeypatch.setattr(test_mediawiki_return, "api_sides", _local_hq_sides)
    test_mediawiki_return.test_offline_edits_reach_the_online_wiki_merged_or_kept_as_conflicts(
        mediawiki_pair, tmp_path, monkeypatch)


def _embedded_to_local_sides(wiki, tmp_path, monkeypatch):
    """``helpers.embedded_to_wiki_sides``, the MediaWiki side written through its scripts."""
    hq, school = tmp_path / "hq", tmp_path / "school"
    run_cli("init", "-C", hq, "--wiki", hq / "w.sqlite")
    monkeypatch.setenv("WIKIBUNDLE_PASSWORD", wiki.bot_password)
    run_cli("init", "-C", school, "--wiki", wiki.dir, "--user", wiki.bot_user)  # the wiki's folder
    for a, b in ((hq, school), (school, hq)):
        (tmp_path / "k.pub").write_text(run_cli("key", "-C", b).output)
        run_cli("trust", "-C", a, tmp_path / "k.pub")
    return hq, school, MediaWikiClient(wiki.api_url, wiki.bot_user, wiki.bot_password)


def test_a_revision_whose_text_is_hidden_is_left_out_and_said_so(mediawiki, tmp_path, monkeypatch):
    """test_mediawiki_sync's case, from a real dump with a suppressed text, through importDump.php."""
    import test_mediawiki_sync

    monkeypatch.setattr(test_mediawiki_sync, "embedded_to_wiki_sides", _embedded_to_local_sides)
    test_mediawiki_sync.test_a_revision_whose_text_is_hidden_is_left_out_and_said_so(mediawiki, tmp_path, monkeypatch)
