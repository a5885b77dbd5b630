"""A file larger than one request may carry, to a real MediaWiki 1.39 served with
PHP's default upload limits (upload_max_filesize=2M, post_max_size=8M, as most
wikis keep them): uploaded in chunks to the stash, resumable after a kill."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from bundler.errors import WikiError
from bundler.mediawiki import MediaWikiClient
from conftest import WikiPair
from helpers import api_sides, run_cli
from mediawiki_harness import WikiServer

pytestmark = pytest.mark.mediawiki

SIZE = 12 << 20


def scan(tmp_path):
    """A 12 MB "scan": a PDF header and bytes zstd cannot shrink (as a real scan's image data)."""
    path = tmp_path / "Scan.pdf"
    path.write_bytes(b"%PDF-1.4\n" + os.urandom(SIZE))
    return path


@pytest.fixture
def pair(mediawiki_factory) -> WikiPair:
    """The online wiki as the harness serves it; the offline one with PHP's default limits."""
    return WikiPair(mediawiki_factory("online"), mediawiki_factory("offline", php_limits=WikiServer.PHP_DEFAULT_LIMITS))


def stash_row(school):
    db = sqlite3.connect(school / "state.sqlite")
    try:
        return db.execute("SELECT filekey, offset FROM mw_upload_stash").fetchone()
    except sqlite3.OperationalError:  # not migrated yet
        return None
    finally:
        db.close()


def test_a_12_mb_file_lands_in_chunks_and_a_killed_upload_continues(pair, tmp_path, monkeypatch):
    online, wiki, hq, school = api_sides(pair, tmp_path, monkeypatch)
    path = scan(tmp_path)
    sha1 = hashlib.sha1(path.read_bytes()).hexdigest()
    online.upload("Scan.pdf", path, "the scan", text="A scanned document.")
    run_cli("make", "-C", hq, "--out", tmp_path / "b1.bundle")

    # Apply in a process of its own, and kill it once some chunks have landed.
    proc = subprocess.Popen(
        [sys.executable, "-m", "bundler", "apply", "-C", str(school), str(tmp_path / "b1.bundle")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dict(os.environ),
    )
    deadline = time.monotonic() + 120
    try:
        while True:
            row = stash_row(school)
            if row is not None and 2 << 20 <= row[1] < SIZE:
                break
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "no chunk landed in time"
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
    landed = stash_row(school)[1]
    assert "Scan.pdf" not in _names(wiki)

    chunks: list[int] = []
    real_call = MediaWikiClient._call

    def counted(self, params, **kw):
        if params.get("stash"):
            chunks.append(int(params["offset"]))
        return real_call(self, params, **kw)

    monkeypatch.setattr(MediaWikiClient, "_call", counted)
    r = run_cli("apply", "-C", school, tmp_path / "b1.bundle")
    assert "Traceback" not in r.output
    # The re-run continued where the wiki said the stash stood: no chunk before it again.
    assert chunks and min(chunks) >= landed and chunks[-1] < SIZE + 9
    assert stash_row(school) is None
    got = wiki.imageinfo(["File:Scan.pdf"])["File:Scan.pdf"]
    assert [v.sha1 for v in got] == [sha1] and got[0].size == SIZE + 9
    assert hashlib.sha1(b"".join(wiki.download(got[0].url))).hexdigest() == sha1


def test_request_too_large_is_named_with_the_php_settings(mediawiki_factory, tmp_path):
    """A wiki whose PHP takes not even the smallest chunk (64 KiB): PHP drops the body
    and api.php answers its HTML help, or refuses the file part. Diagnosed as a request
    too large, with the settings to raise, not as a wrong URL."""
    tiny = mediawiki_factory("tiny", php_limits={"upload_max_filesize": "32K", "post_max_size": "48K"})
    wiki = MediaWikiClient(tiny.api_url, tiny.bot_user, tiny.bot_password)
    path = tmp_path / "Big.pdf"
    path.write_bytes(b"%PDF-1.4\n" + os.urandom(200 << 10))
    with pytest.raises(WikiError) as e:
        wiki.upload("Big.pdf", path, "too big per request")
    assert e.value.code == "request-too-large"
    assert "too large" in str(e.value) and "Check the URL" not in (e.value.hint or "")
    assert "upload_max_filesize" in e.value.hint and "post_max_size" in e.value.hint
    assert "Big.pdf" not in _names(wiki)


def _names(wiki):
    return [i["name"] for b in wiki.query({"list": "allimages"}) for i in b["query"]["allimages"]]
