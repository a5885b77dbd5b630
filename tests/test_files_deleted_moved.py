"""A file goes with its page (all versions), as in MediaWiki: deleted, restored and
moved with it. The rule is the receiver's (no field in the bundle): the File: page's
deletion and move records travel as for any page; the store hides a deleted page's
file (bytes kept, so a restore brings it back) and renames a moved page's file."""

from __future__ import annotations

import json
import os

from bundler.state import Side
from helpers import cli_sides, run_cli  # noqa: F401 (fixture)
from test_files import T0, first_dump, page_xml, png, store_files, write_dump


def files_of(side_dir) -> dict[str, list[str]]:
    """name -> [sha1 of each version's stored bytes], as the wiki shows it."""
    out: dict[str, list[str]] = {}
    for name, _ts, _sha1, _size, got in store_files(Side.open(str(side_dir))):
        out.setdefault(name, []).append(got)
    return out


def test_a_file_deleted_moved_then_restored_on_the_sender_is_so_on_the_store(cli_sides):
    tmp, hq, school = cli_sides
    run_cli("import", "-C", hq, first_dump(str(tmp)))
    run_cli("make", "-C", hq, "--out", tmp / "b1.bundle")
    run_cli("apply", "-C", school, tmp / "b1.bundle", "--manifest-out", tmp / "m1.wbm")
    before = files_of(school)
    assert before == files_of(hq) and "Red_dot.png" in before and "Headbg.jpg" in before

    run_cli("edit", "-C", hq, "File:Red dot.png", "--delete", "--user", "Ann", "--summary", "unused")
    run_cli("edit", "-C", hq, "File:Headbg.jpg", "--move-to", "File:Header background.jpg", "--user", "Ann",
            "--summary", "clearer name")
    run_cli("make", "-C", hq, "--since", tmp / "m1.wbm", "--out", tmp / "b2.bundle")
    shown = run_cli("inspect", tmp / "b2.bundle").output
    assert "files deleted/moved" in shown and "1 deleted, 1 moved" in shown
    f = json.loads(run_cli("inspect", tmp / "b2.bundle", "--json").output)["breakdown"]["files"]
    assert f["deleted"] == f["moved"] == 1
    # The moved file's versions are listed under the new name, as references only: no bytes travel again.
    assert f["blobs"] == f["bytes"] == 0 and f["refs"] == f["versions"] == 1
    r = json.loads(run_cli("apply", "-C", school, tmp / "b2.bundle", "--manifest-out", tmp / "m2.wbm", "--json").output)
    assert r["file_deletions"] == ["File:Red dot.png"]
    assert r["file_moves"] == [{"from": "File:Headbg.jpg", "to": "File:Header background.jpg"}]
    after = files_of(school)
    assert after == files_of(hq)
    assert "Red_dot.png" not in after and "Headbg.jpg" not in after
    assert after["Header_background.jpg"] == before["Headbg.jpg"]  # the file moved with its page, every version
    # The deleted file's bytes stay held (a restore needs them): the manifest still lists them.
    store = Side.open(str(school)).store()
    try:
        assert len(list(store.blob_sha1s())) == 4
    finally:
        store.close()

    # The dump of the wiki before: the dot's page is back (a restore), and so is the old title.
    run_cli("import", "-C", hq, first_dump(str(tmp)))
    run_cli("make", "-C", hq, "--since", tmp / "m2.wbm", "--out", tmp / "b3.bundle", "--json")
    run_cli("apply", "-C", school, tmp / "b3.bundle")
    assert files_of(school) == files_of(hq) == before


def test_a_dump_that_lost_most_file_pages_is_refused_as_a_mass_deletion(cli_sides):
    """Many other pages kept, the file pages gone: the pages guard alone would let it through."""
    tmp, hq, school = cli_sides
    texts = [page_xml(100 + i, f"Page {i}", 0, T0 + i, f"text {i}", []) for i in range(30)]
    files = [page_xml(200 + i, f"File:Dot {i}.png", 6, T0 + 100 + i, "a dot",
                      [(f"Dot_{i}.png", T0 + 100 + i, png(4, 4, (i, 0, 0)), "dot")]) for i in range(12)]
    d1 = write_dump(os.path.join(tmp, "all.xml"), texts + files)
    d2 = write_dump(os.path.join(tmp, "no-files.xml"), texts)
    run_cli("make", "-C", hq, "--from", d1, "--out", tmp / "b1.bundle")
    run_cli("apply", "-C", school, tmp / "b1.bundle", "--manifest-out", tmp / "m1.wbm")
    r = run_cli("make", "-C", hq, "--from", d2, "--since", tmp / "m1.wbm", "--out", tmp / "b2.bundle", code=2)
    assert "delete 12 of the 12 files (file pages)" in r.output and "--allow-deletions" in r.output
    assert not (tmp / "b2.bundle").exists()
    run_cli("make", "-C", hq, "--from", d2, "--since", tmp / "m1.wbm", "--out", tmp / "b2.bundle", "--allow-deletions")
    run_cli("apply", "-C", school, tmp / "b2.bundle")
    assert files_of(school) == {}
