"""A file uploaded on both sides since the last sync: both versions end on both
wikis, the online one current on both, and the conflict is reported (apply report,
the notices of the next bundle, the file's talk page online)."""

from __future__ import annotations

import json

import pytest

from bundler.state import Side
from helpers import cli_sides, run_cli  # noqa: F401 (fixture)
from test_files import first_dump, png, store_files

BLUE, GREEN = png(64, 48, (0, 0, 220)), png(64, 48, (0, 160, 0))


def versions(side_dir, name="Red_dot.png") -> list[str]:
    return [sha1 for n, _ts, sha1, _size, got in store_files(Side.open(str(side_dir))) if n == name and got == sha1]


def page_text(side_dir, title):
    store = Side.open(str(side_dir)).store()
    try:
        page = store.page_by_title(title)
        return store.get_text(store.head(page.page_id).rev_id) if page else None
    finally:
        store.close()


@pytest.fixture
def both_uploaded(cli_sides):
    """hq (online) and school (offline) in sync, then the dot re-uploaded on each."""
    tmp, hq, school = cli_sides
    run_cli("import", "-C", hq, first_dump(str(tmp)))
    run_cli("make", "-C", hq, "--out", tmp / "b1.bundle")
    run_cli("apply", "-C", school, tmp / "b1.bundle", "--manifest-out", tmp / "m1.wbm")
    (tmp / "blue.png").write_bytes(BLUE)
    (tmp / "green.png").write_bytes(GREEN)
    run_cli("upload", "-C", hq, tmp / "blue.png", "--name", "Red dot.png", "--user", "Olga", "--comment", "online blue")
    run_cli("upload", "-C", school, tmp / "green.png", "--name", "Red dot.png", "--user", "Fiona", "--comment", "offline green")
    return tmp, hq, school


def _current_is_online(hq, school):
    import hashlib

    blue = hashlib.sha1(BLUE).hexdigest()
    green = hashlib.sha1(GREEN).hexdigest()
    on, off = versions(hq), versions(school)
    assert sorted(on) == sorted(off)  # every version on both
    assert blue in on and green in on
    assert on[-1] == off[-1] == blue  # the online version is current on both


def test_offline_applies_the_update_first(both_uploaded):
    tmp, hq, school = both_uploaded
    run_cli("make", "-C", hq, "--since", tmp / "m1.wbm", "--out", tmp / "b2.bundle")
    r = json.loads(run_cli("apply", "-C", school, tmp / "b2.bundle", "--return-out", tmp / "r1.bundle", "--json").output)
    assert r["conflicts"] == ["File:Red dot.png"]
    assert any("FILE CONFLICT" in n and "Fiona" in n for n in r["notices"])
    shown = run_cli("inspect", tmp / "r1.bundle").output
    assert "file conflicts" in shown and "FILE CONFLICT" in shown  # the notice travels in the return
    back = json.loads(run_cli("apply", "-C", hq, tmp / "r1.bundle", "--json").output)
    assert any("FILE CONFLICT" in n for n in back["notices"])  # the notice travelled to the online side
    _current_is_online(hq, school)


def test_online_applies_the_return_first(both_uploaded):
    tmp, hq, school = both_uploaded
    run_cli("make", "-C", school, "--out", tmp / "r1.bundle")
    r = json.loads(run_cli("apply", "-C", hq, tmp / "r1.bundle", "--json").output)
    assert r["conflicts"] == r["file_conflicts"] == ["File:Red dot.png"]
    talk = page_text(hq, "File talk:Red dot.png")
    assert talk and "Offline upload conflict" in talk and "Fiona" in talk
    run_cli("make", "-C", hq, "--since", tmp / "m1.wbm", "--out", tmp / "b2.bundle")
    run_cli("apply", "-C", school, tmp / "b2.bundle")
    _current_is_online(hq, school)
