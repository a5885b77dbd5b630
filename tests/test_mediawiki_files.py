"""Uploads between two real MediaWikis 1.39: bundle make reads the online wiki's
file versions (sources/api_files.py), bundle apply uploads them to the offline
wiki (targets/mediawiki_files.py). Checked by downloading every version back.

What "the same file" means here: the same versions in the same order with the
same bytes (sha1 of the downloaded bytes). Times and uploader differ: the API
uploads now, as the sync account; the comment names the original.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import struct
import time
import zlib
from pathlib import Path

import pytest

from bundler.mediawiki import MediaWikiClient
from bundler.sources import api as api_source
from helpers import api_sides, run_cli

pytestmark = pytest.mark.mediawiki

DATA = Path(__file__).parent / "data" / "files"


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def files_of(client: MediaWikiClient) -> dict[str, list[tuple[str, str]]]:
    """name -> [(sha1 the wiki lists, sha1 of the downloaded bytes)], oldest first."""
    names = [img["name"] for batch in client.query({"list": "allimages", "ailimit": "max"})
             for img in batch["query"]["allimages"]]
    out = {}
    for title, versions in client.imageinfo([f"File:{n}" for n in names]).items():
        out[title.split(":", 1)[1]] = [
            (v.sha1, hashlib.sha1(b"".join(client.download(v.url))).hexdigest()) for v in reversed(versions)
        ]
    return out


class Sides:
    def __init__(self, pair, tmp_path, monkeypatch):
        self.tmp = tmp_path
        self.online, self.offline, self.hq, self.school = api_sides(pair, tmp_path, monkeypatch, "online", "offline")
        self.n = 0

    def make(self) -> dict:
        self.n += 1
        since = ["--since", self.tmp / f"m{self.n - 1}.wbm"] if self.n > 1 else []
        return json.loads(run_cli("make", "-C", self.hq, *since, "--out", self.tmp / f"b{self.n}.bundle", "--json").output)

    def apply(self) -> dict:
        r = run_cli("apply", "-C", self.school, self.tmp / f"b{self.n}.bundle", "--manifest-out", self.tmp / f"m{self.n}.wbm", "--json")
        return json.loads(r.output)

    def uploads(self, name: str) -> list[tuple]:
        db = sqlite3.connect(self.school / "state.sqlite")
        try:
            return db.execute("SELECT timestamp, sha1, mw_timestamp FROM mw_files WHERE name=? ORDER BY mw_timestamp", (name,)).fetchall()
        finally:
            db.close()


@pytest.fixture
def sides(mediawiki_pair, tmp_path, monkeypatch) -> Sides:
    return Sides(mediawiki_pair, tmp_path, monkeypatch)


def test_every_file_version_reaches_the_offline_wiki_once_with_its_bytes(sides, monkeypatch):
    w = sides.online
    downloads: list[str] = []
    real_download = MediaWikiClient.download

    def counted(self, url, **kw):
        downloads.append(url)
        return real_download(self, url, **kw)

    monkeypatch.setattr(MediaWikiClient, "download", counted)
    asked: list[str] = []  # titles bundle make asks imageinfo for
    real_imageinfo = MediaWikiClient.imageinfo

    def imageinfo(self, titles):
        titles = list(titles)
        if self.api_url == sides.online.api_url:
            asked.extend(titles)
        return real_imageinfo(self, titles)

    monkeypatch.setattr(MediaWikiClient, "imageinfo", imageinfo)
    red, green, blue = png(4, 3, (255, 0, 0)), png(5, 5, (0, 255, 0)), png(6, 2, (0, 0, 255))
    svg = (DATA / "betafeatures-icon-WikitextEditor-ltr.svg").read_bytes()
    w.upload("Dot.png", red, "first version", text="A dot.")
    w.upload("Dot.png", green, "second version")
    w.upload("Icon.svg", svg, "an icon", text="An icon.")
    w.edit("Alpha", "a\n", "create")
    monkeypatch.setattr(api_source, "SLACK", 0)  # no saves in flight here: read the log from the mark itself
    time.sleep(1.1)  # the mark's second: after the uploads above

    first = sides.make()
    assert first["files"]["versions"] == 3 and first["files"]["blobs"] == 3
    assert len(downloads) == 3  # each version once, though the encoder reads it several times
    applied = sides.apply()
    assert applied["files_added"] == 3
    online = files_of(w)
    assert files_of(sides.offline) == online  # same versions, same order, same bytes
    assert all(listed == got for versions in online.values() for listed, got in versions)
    # The comment names the original uploader and time (the API uploads now, as the sync account).
    ii = sides.offline.imageinfo(["File:Dot.png"])["File:Dot.png"]
    assert ii[-1].comment.startswith("first version [uploaded by Admin at ") and ii[-1].comment.endswith(" on online]")

    # A re-upload, and the first version's bytes again under another name.
    w.upload("Dot.png", blue, "third version")
    w.upload("Copy of dot.png", red, "same bytes, another name", text="Copy.")
    downloads.clear()
    asked.clear()
    second = sides.make()
    # Since the basis, only the files the upload log names are read, not the SVG.
    assert sorted(asked) == ["File:Copy_of_dot.png", "File:Dot.png"]
    # Only the new version, and the one before it as the delta base to try: not the
    # SVG, not the first version (nor its copy), which the offline wiki holds.
    assert len(downloads) == 2 and "archive" in downloads[1] and "archive" not in downloads[0]
    assert second["files"]["versions"] == 2
    assert second["files"]["blobs"] == 1 and second["files"]["refs"] == 1  # red travels as a reference
    assert second["files"]["bytes"] == len(blue)
    downloads.clear()
    applied = sides.apply()
    assert applied["files_added"] == 2
    # The copy's bytes come from the offline wiki's own old version of Dot.png, and
    # the delta's base (the second version, current there until now) from the wiki too.
    assert second["files"]["deltas"] == 1 and len(downloads) == 2
    assert sorted("archive" in d for d in downloads) == [False, True]
    assert files_of(sides.offline) == files_of(w)

    # Applying again: nothing changes. A re-run that lost the record of the bundle
    # and of the last upload (killed right after the wiki stored it) finds the
    # versions on the wiki and uploads none twice.
    again = sides.apply()
    assert again["already_applied"] and again["files_added"] == 0
    db = sqlite3.connect(sides.school / "state.sqlite")
    with db:
        db.execute("DELETE FROM received WHERE seq=2")
        assert db.execute("DELETE FROM mw_files WHERE sha1=?", (hashlib.sha1(blue).hexdigest(),)).rowcount == 1
    db.close()
    rerun = sides.apply()
    assert rerun["files_added"] == 0
    assert [len(v) for v in files_of(sides.offline).values()] == [1, 3, 1]
    assert len(sides.uploads("Dot.png")) == 3

    # The uploads applying made are the online wiki's versions: none travels back.
    back = json.loads(run_cli("make", "-C", sides.school, "--out", sides.tmp / "back.bundle", "--json").output)
    assert not back["files"]


def test_uploads_made_offline_travel_back_to_the_online_wiki(sides):
    w, o = sides.online, sides.offline
    red, green, blue = png(4, 3, (255, 0, 0)), png(5, 5, (0, 255, 0)), png(6, 2, (0, 0, 255))
    w.upload("Dot.png", red, "first version", text="A dot.")
    sides.make()
    sides.apply()
    # Offline: a new version of the online file, and a file of its own.
    o.upload("Dot.png", green, "redrawn offline")
    o.upload("Offline map.png", blue, "drawn offline", text="A map.")
    back = json.loads(run_cli("make", "-C", sides.school, "--out", sides.tmp / "r1.bundle", "--json").output)
    assert back["files"]["versions"] == 2 and back["files"]["blobs"] == 2  # not the red version it was sent
    landed = json.loads(run_cli("apply", "-C", sides.hq, sides.tmp / "r1.bundle", "--json").output)
    assert landed["files_added"] == 2
    assert files_of(w) == files_of(o)
    ii = w.imageinfo(["File:Offline map.png"])["File:Offline map.png"]
    assert ii[0].comment.startswith("drawn offline [uploaded by Admin at ") and ii[0].comment.endswith(" on offline]")

    # The next update carries none of them back: the offline wiki sent them.
    nxt = json.loads(run_cli("make", "-C", sides.hq, "--out", sides.tmp / "b2.bundle", "--json").output)
    assert not nxt["files"]

    # Online, the offline map's bytes under a new name: they travel as a reference,
    # and the offline wiki finds them under the name it uploaded them with itself.
    w.upload("Map copy.png", blue, "copied", text="Copy.")
    upd = json.loads(run_cli("make", "-C", sides.hq, "--out", sides.tmp / "b3.bundle", "--json").output)
    assert upd["files"]["versions"] == 1 and upd["files"]["blobs"] == 0
    run_cli("apply", "-C", sides.school, sides.tmp / "b3.bundle")
    assert files_of(o) == files_of(w)


def test_a_wiki_that_refuses_uploads_or_a_file_type_says_so(sides, mediawiki_pair):
    w = sides.online
    w.upload("Dot.png", png(4, 3, (255, 0, 0)), "a dot", text="A dot.")
    w.upload("Icon.svg", (DATA / "betafeatures-icon-WikitextEditor-ltr.svg").read_bytes(), "an icon", text="An icon.")
    w.edit("Alpha", "a\n", "create")
    sides.make()
    wiki, port = mediawiki_pair.offline, mediawiki_pair.offline.port
    settings = wiki.conf.read_text()

    def restart(extra: str) -> None:  # php -S caches LocalSettings.php
        wiki.stop()
        wiki.conf.write_text(settings + extra)
        wiki.start(port=port)

    restart("\n$wgEnableUploads = false;\n")
    bundle = sides.tmp / "b1.bundle"
    r = run_cli("apply", "-C", sides.school, bundle, code=50)
    assert "uploads are disabled" in r.output and "hint:" in r.output
    assert "Alpha" not in {p.page.title for p in sides.offline.iter_allpages_latest([0])}  # nothing changed

    # SVG not allowed here: the rest lands, and the report says what was left out.
    restart("\n$wgFileExtensions = ['png'];\n")
    r = run_cli("apply", "-C", sides.school, bundle, "--json")
    out = json.loads(r.output)
    assert out["files_added"] == 1
    assert any("Icon.svg" in n and "filetype-banned" in n for n in out["notes"]), out
    assert set(files_of(sides.offline)) == {"Dot.png"}


def test_a_file_that_travels_before_its_page_is_not_sent_back_as_a_new_page(sides):
    import secrets

    w = sides.online
    big = secrets.token_hex(150_000)  # incompressible enough not to fit in 100K
    w.upload("Dot.png", png(4, 3, (255, 0, 0)), "a dot", text=big)
    first = json.loads(run_cli("make", "-C", sides.hq, "--max-size", "100K", "--out", sides.tmp / "b1.bundle", "--json").output)
    assert first["pages"] == 1 and first["files"]["versions"] == 1  # Main Page and the file; the file page waits
    sides.n = 1
    sides.apply()
    assert list(files_of(sides.offline)) == ["Dot.png"]
    # The upload made the file page on the offline wiki: the tool's, not an offline edit.
    back = json.loads(run_cli("make", "-C", sides.school, "--out", sides.tmp / "r1.bundle", "--json").output)
    assert back["pages"] == 0 and back["revisions"] == 0 and not back["files"]

    second = sides.make()
    assert second["pages"] == 1 and not second["files"]
    sides.apply()
    texts = {t: s for t, s in ((c.page.title, c.sha1) for c in sides.offline.iter_allpages_latest([6]))}
    online = {c.page.title: c.sha1 for c in w.iter_allpages_latest([6])}
    assert texts == online  # the description from online is current
