"""A file carried from an embedded store (hq) to a real MediaWiki 1.39 (a school), the
most common real setup, and an upload made on that MediaWiki carried back.

Every version's bytes and SHA-1 and each File: page's text end the same on both
sides. (It once failed with HTTP 500 in ``action=import``: the store's uploader, a
user without an id, was written as ``<ip>``; bundler/export.py ``_contributor``.)
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from bundler.export import XmlWriter
from bundler.model import FileVersion, Page, PageId, RevId, Revision, SiteInfo
from bundler.sources.dump import open_dump
from bundler.state import Side
from helpers import embedded_to_wiki_sides, run_cli, store_text
from test_files import store_files
from test_mediawiki_files import files_of, png

DATA = Path(__file__).parent / "data" / "files"


def store_versions(side_dir: Path) -> dict[str, list[tuple[str, str]]]:
    """name -> [(sha1 the store lists, sha1 of its stored bytes)], oldest first (as ``files_of``)."""
    out: dict[str, list[tuple[str, str]]] = {}
    for name, _ts, sha1, _size, got in store_files(Side.open(side_dir)):
        out.setdefault(name.replace(" ", "_"), []).append((sha1, got))
    return out


def wiki_text(client, title: str) -> str | None:
    return next((rev.text for _page, rev in client.current_revisions(titles=[title], content=True)), None)


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


@pytest.mark.mediawiki
def test_files_uploaded_on_an_embedded_store_reach_a_mediawiki_and_back(mediawiki, tmp_path, monkeypatch):
    hq, school, wiki = embedded_to_wiki_sides(mediawiki, tmp_path, monkeypatch)
    page = tmp_path / "page.txt"
    page.write_text("The school's logo: [[File:Logo.png]].\n")
    run_cli("edit", "-C", hq, "Alpha", "--file", page, "--summary", "create", "--user", "Teacher")
    logo, header = (DATA / "installer-logo.png").read_bytes(), (DATA / "headbg.jpg").read_bytes()
    run_cli("upload", "-C", hq, DATA / "installer-logo.png", "--name", "Logo.png", "--user", "Teacher",
            "--comment", "The school's logo.")
    run_cli("upload", "-C", hq, DATA / "headbg.jpg", "--name", "Header.jpg", "--user", "Teacher", "--comment", "A header.")
    run_cli("make", "-C", hq, "--out", tmp_path / "b1.bundle")
    run_cli("apply", "-C", school, tmp_path / "b1.bundle", "--manifest-out", tmp_path / "m1.wbm")

    assert files_of(wiki) == {"Logo.png": [(sha1(logo),) * 2], "Header.jpg": [(sha1(header),) * 2]}
    assert files_of(wiki) == store_versions(hq)
    for title in ("File:Logo.png", "File:Header.jpg", "Alpha"):
        assert wiki_text(wiki, title) == store_text(hq, title) is not None

    # A new version on hq; an upload made on the school's MediaWiki meanwhile goes back.
    second = tmp_path / "Logo.png"
    second.write_bytes(png(8, 8, (10, 120, 200)))
    run_cli("upload", "-C", hq, second, "--user", "Teacher", "--comment", "a brighter logo")
    drawn = png(6, 4, (200, 30, 30))
    wiki.upload("Drawing.png", drawn, "drawn at the school", text="Drawn at the school.")
    run_cli("make", "-C", hq, "--since", tmp_path / "m1.wbm", "--out", tmp_path / "b2.bundle")
    run_cli("apply", "-C", school, tmp_path / "b2.bundle", "--return-out", tmp_path / "r2.bundle")
    run_cli("apply", "-C", hq, tmp_path / "r2.bundle")

    on_wiki = files_of(wiki)
    assert on_wiki["Logo.png"] == [(sha1(logo),) * 2, (sha1(second.read_bytes()),) * 2]
    assert on_wiki["Drawing.png"] == [(sha1(drawn),) * 2]
    assert on_wiki == store_versions(hq)
    for title in ("File:Logo.png", "File:Header.jpg", "File:Drawing.png"):
        assert wiki_text(wiki, title) == store_text(hq, title) is not None


def test_only_an_ip_address_is_written_as_an_ip(tmp_path):
    """An anonymous edit keeps ``<ip>``; a named user without an id (the store's own
    edits and uploads) is a ``<username>`` with id 0, as MediaWiki's dumps write users
    they do not hold; read back, each keeps its name."""
    users = [("192.0.2.7", None), ("2001:db8::1", None), ("Teacher", None), ("Admin", 3)]
    revs = [Revision(rev_id=RevId(i + 1), page_id=PageId(1), timestamp=1_700_000_000 + i, text=f"v{i}",
                     user=u, user_id=uid, sha1="") for i, (u, uid) in enumerate(users)]
    buf = io.StringIO()
    w = XmlWriter(buf, SiteInfo())
    w.page(Page(PageId(1), 6, "File:Logo.png"), revs,
           uploads=[FileVersion("Logo.png", 1_700_000_000, sha1(b"x"), 1, "Teacher", None, "logo", "image/png")])
    w.close()
    xml = buf.getvalue()
    assert xml.count("<ip>") == 2 and "<ip>192.0.2.7</ip>" in xml and "<ip>2001:db8::1</ip>" in xml
    assert xml.count("<username>Teacher</username>") == 2  # the revision and the upload
    path = tmp_path / "d.xml"
    path.write_text(xml)
    with open_dump(str(path)) as d:
        got = [(r.user, r.user_id or None) for ph in d for r in ph.revisions]
    assert got == users
