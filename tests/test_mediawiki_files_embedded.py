"""A file carried from an embedded store (hq) to a real MediaWiki 1.39 (a school):
the most common real setup. Every version's bytes and SHA-1 and the File: page's
text end the same on both sides."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from bundler.state import Side
from helpers import embedded_to_wiki_sides, run_cli
from test_mediawiki_files import files_of

pytestmark = pytest.mark.mediawiki

DATA = Path(__file__).parent / "data" / "files"


def text_of(client, title: str) -> str | None:
    for _page, rev in client.current_revisions(titles=[title], content=True):
        return rev.text
    return None


def store_text(side_dir: Path, title: str) -> str | None:
    store = Side.open(side_dir).store()
    try:
        head = store.head(store.page_by_title(title).page_id)
        return head.text if head else None
    finally:
        store.close()


def test_a_file_uploaded_on_an_embedded_store_reaches_a_mediawiki(mediawiki, tmp_path, monkeypatch):
    hq, school, wiki = embedded_to_wiki_sides(mediawiki, tmp_path, monkeypatch)
    page = tmp_path / "page.txt"
    page.write_text("A page that shows [[File:Logo.png]].\n")
    run_cli("edit", "-C", hq, "Alpha", "--file", page, "--summary", "create", "--user", "Teacher")
    logo, head = DATA / "installer-logo.png", DATA / "headbg.jpg"
    run_cli("upload", "-C", hq, logo, "--name", "Logo.png", "--user", "Teacher", "--comment", "The school's logo.")
    run_cli("upload", "-C", hq, head, "--name", "Header.jpg", "--user", "Teacher", "--comment", "A header.")
    run_cli("make", "-C", hq, "--out", tmp_path / "b1.bundle")
    run_cli("apply", "-C", school, tmp_path / "b1.bundle", "--manifest-out", tmp_path / "m1.wbm")

    got = files_of(wiki)
    assert got == {
        "Logo.png": [(hashlib.sha1(logo.read_bytes()).hexdigest(),) * 2],
        "Header.jpg": [(hashlib.sha1(head.read_bytes()).hexdigest(),) * 2],
    }
    assert text_of(wiki, "File:Logo.png") == store_text(hq, "File:Logo.png")
