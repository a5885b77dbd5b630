"""Files deleted, renamed, re-uploaded and big, between two real MediaWikis 1.39, the
offline one with PHP's default upload limits (2 MB per file, 8 MB per request): after
the next bundle both wikis hold the same files with the same versions (sha1 of each)."""

from __future__ import annotations

import hashlib
import json
import os
import time

import pytest

from bundler.sources import api as api_source
from conftest import WikiPair
from helpers import api_sides, run_cli
from mediawiki_harness import WikiServer
from test_mediawiki_files import files_of, png

pytestmark = pytest.mark.mediawiki


@pytest.fixture
def pair(mediawiki_factory) -> WikiPair:
    return WikiPair(mediawiki_factory("online"), mediawiki_factory("offline", php_limits=WikiServer.PHP_DEFAULT_LIMITS))


def listed(client) -> dict[str, list[str]]:
    """name -> the sha1s of its versions, oldest first (what the wiki lists)."""
    return {name: [listed for listed, _got in versions] for name, versions in files_of(client).items()}


def test_deleted_renamed_reuploaded_and_big_files_end_the_same_on_both_wikis(pair, tmp_path, monkeypatch):
    online, offline, hq, school = api_sides(pair, tmp_path, monkeypatch)
    monkeypatch.setattr(api_source, "SLACK", 0)
    online.upload("Gone.png", png(3, 3, (1, 2, 3)), "to be deleted", text="Gone.")
    online.upload("Old name.png", png(4, 3, (200, 0, 0)), "to be renamed", text="Renamed.")
    online.upload("Twice.png", png(5, 3, (0, 200, 0)), "first", text="Twice.")
    time.sleep(1.1)
    run_cli("make", "-C", hq, "--out", tmp_path / "b1.bundle")
    run_cli("apply", "-C", school, tmp_path / "b1.bundle", "--manifest-out", tmp_path / "m1.wbm")
    assert listed(offline) == listed(online)

    online.delete("File:Gone.png", "not needed")
    online.move("File:Old name.png", "File:New name.png", "clearer")
    online.upload("Twice.png", png(5, 3, (0, 0, 200)), "second")
    scan = tmp_path / "Scan.pdf"
    scan.write_bytes(b"%PDF-1.4\n" + os.urandom(12 << 20))
    online.upload("Scan.pdf", scan, "a 12 MB scan", text="A scan.")
    time.sleep(1.1)
    r = json.loads(run_cli("make", "-C", hq, "--since", tmp_path / "m1.wbm", "--out", tmp_path / "b2.bundle",
                           "--json").output)
    run_cli("apply", "-C", school, tmp_path / "b2.bundle", "--manifest-out", tmp_path / "m2.wbm")
    want = listed(online)
    assert set(want) == {"New_name.png", "Twice.png", "Scan.pdf"}
    assert listed(offline) == want
    assert want["Scan.pdf"] == [hashlib.sha1(scan.read_bytes()).hexdigest()]
    assert len(want["Twice.png"]) == 2
    # The rename moved the file (its bytes travel no second time: no version needed sending).
    assert r["files"]["blobs"] == 2

    # A restore online brings the file back offline, with its version.
    online.undelete("File:Gone.png", "needed after all")
    time.sleep(1.1)
    run_cli("make", "-C", hq, "--since", tmp_path / "m2.wbm", "--out", tmp_path / "b3.bundle")
    run_cli("apply", "-C", school, tmp_path / "b3.bundle")
    assert "Gone.png" in listed(online) and listed(offline) == listed(online)


def test_a_file_deleted_renamed_and_restored_online_is_so_on_an_embedded_store(mediawiki, tmp_path, monkeypatch):
    """The API log's delete, move and restore of File: pages, landed on the embedded store."""
    from bundler.mediawiki import MediaWikiClient
    from bundler.state import Side
    from test_files import store_files

    monkeypatch.setattr(api_source, "SLACK", 0)
    online = MediaWikiClient(mediawiki.api_url, mediawiki.bot_user, mediawiki.bot_password)
    hq, school = tmp_path / "hq", tmp_path / "school"
    monkeypatch.setenv("WIKIBUNDLE_PASSWORD", mediawiki.bot_password)
    run_cli("init", "-C", hq, "--wiki", mediawiki.api_url, "--user", mediawiki.bot_user)
    run_cli("init", "-C", school, "--wiki", school / "wiki.sqlite")
    for a, b in ((hq, school), (school, hq)):
        (tmp_path / "k.pub").write_text(run_cli("key", "-C", b).output)
        run_cli("trust", "-C", a, tmp_path / "k.pub")

    def school_files():
        out: dict[str, list[str]] = {}
        for name, _ts, sha1, _size, got in store_files(Side.open(str(school))):
            assert got == sha1
            out.setdefault(name, []).append(sha1)
        return out

    online.upload("Gone.png", png(3, 3, (1, 2, 3)), "to be deleted", text="Gone.")
    online.upload("Old name.png", png(4, 3, (200, 0, 0)), "to be renamed", text="Renamed.")
    time.sleep(1.1)
    run_cli("make", "-C", hq, "--out", tmp_path / "b1.bundle")
    run_cli("apply", "-C", school, tmp_path / "b1.bundle", "--manifest-out", tmp_path / "m1.wbm")
    assert school_files() == listed(online)
    online.delete("File:Gone.png", "not needed")
    online.move("File:Old name.png", "File:New name.png", "clearer")
    time.sleep(1.1)
    run_cli("make", "-C", hq, "--since", tmp_path / "m1.wbm", "--out", tmp_path / "b2.bundle")
    run_cli("apply", "-C", school, tmp_path / "b2.bundle", "--manifest-out", tmp_path / "m2.wbm")
    assert school_files() == listed(online) and set(listed(online)) == {"New_name.png"}
    online.undelete("File:Gone.png", "needed after all")
    time.sleep(1.1)
    run_cli("make", "-C", hq, "--since", tmp_path / "m2.wbm", "--out", tmp_path / "b3.bundle")
    run_cli("apply", "-C", school, tmp_path / "b3.bundle")
    assert school_files() == listed(online) and set(listed(online)) == {"New_name.png", "Gone.png"}


def test_a_file_uploaded_on_both_wikis_keeps_both_versions_and_the_online_one_current(pair, tmp_path, monkeypatch):
    online, offline, hq, school = api_sides(pair, tmp_path, monkeypatch)
    monkeypatch.setattr(api_source, "SLACK", 0)
    online.upload("Both.png", png(4, 4, (9, 9, 9)), "first", text="Both.")
    time.sleep(1.1)
    run_cli("make", "-C", hq, "--out", tmp_path / "b1.bundle")
    run_cli("apply", "-C", school, tmp_path / "b1.bundle", "--manifest-out", tmp_path / "m1.wbm")
    blue, green = png(4, 4, (0, 0, 250)), png(4, 4, (0, 250, 0))
    offline.upload("Both.png", green, "offline green")
    time.sleep(1.1)
    online.upload("Both.png", blue, "online blue")
    time.sleep(1.1)
    run_cli("make", "-C", hq, "--since", tmp_path / "m1.wbm", "--out", tmp_path / "b2.bundle")
    r = json.loads(run_cli("apply", "-C", school, tmp_path / "b2.bundle", "--return-out", tmp_path / "r1.bundle",
                           "--manifest-out", tmp_path / "m2.wbm", "--json").output)
    assert r["conflicts"] == ["File:Both.png"]
    back = json.loads(run_cli("apply", "-C", hq, tmp_path / "r1.bundle", "--json").output)
    assert back["conflicts"] == ["File:Both.png"]
    talk = list(online.page_revisions("File talk:Both.png", content=True))[-1:]
    assert talk and "Offline upload conflict" in (talk[0].text or "")
    time.sleep(1.1)
    run_cli("make", "-C", hq, "--since", tmp_path / "m2.wbm", "--out", tmp_path / "b3.bundle")
    run_cli("apply", "-C", school, tmp_path / "b3.bundle")
    on, off = listed(online)["Both.png"], listed(offline)["Both.png"]
    assert set(on) == set(off) and hashlib.sha1(green).hexdigest() in on  # every version's bytes on both
    assert on[-1] == off[-1] == hashlib.sha1(blue).hexdigest()  # the online version current on both
