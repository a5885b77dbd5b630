"""Receivers report the file bytes they hold (manifest ``files_held``,
formats/MANIFEST.md §Held files), so no byte is sent twice: to a second offline
site filled from the first, or to a side that got files some other way."""

from __future__ import annotations

import json

from bundler.manifest import read_manifest
from bundler.state import Side
from helpers import cli_sides, run_cli  # noqa: F401 (fixture)
from test_files import dump_files, first_dump, second_dump, store_files


def introduce(tmp, a, b):
    for x, y in ((a, b), (b, a)):
        (tmp / "k.pub").write_text(run_cli("key", "-C", y).output)
        run_cli("trust", "-C", x, tmp / "k.pub")


def test_a_second_site_filled_from_the_first_is_sent_no_file_bytes_it_holds(cli_sides):
    tmp, hq, school = cli_sides
    run_cli("import", "-C", hq, first_dump(str(tmp)))
    run_cli("make", "-C", hq, "--out", tmp / "b1.bundle")
    run_cli("apply", "-C", school, tmp / "b1.bundle", "--manifest-out", tmp / "m1.wbm")
    # The manifest lists every content the school holds, exactly.
    m, _ = read_manifest(str(tmp / "m1.wbm"), Side.open(str(hq)).state.peer_by_key_id)
    held = sorted({f[2] for f in store_files(Side.open(str(school)))})
    assert m.held_sha1s() == held and len(held) == 4

    # A second site, filled from the first (its export, files included), then introduced to hq.
    school2 = tmp / "school2"
    run_cli("init", "-C", school2, "--wiki", school2 / "wiki.sqlite")
    run_cli("export", "-C", school, "--out", tmp / "school.xml")
    run_cli("import", "-C", school2, tmp / "school.xml")
    introduce(tmp, hq, school2)
    run_cli("manifest", "-C", school2, "--to", "hq", "--out", tmp / "s2-m0.wbm")

    # hq has moved on: two re-uploads and the logo under a second name.
    run_cli("import", "-C", hq, second_dump(str(tmp)))
    r = json.loads(run_cli("make", "-C", hq, "--to", "school2", "--since", tmp / "s2-m0.wbm",
                           "--out", tmp / "s2-b1.bundle", "--json").output)
    # Every version travels (nothing was applied there from hq), but only the two new
    # contents as bytes: the four school2 holds, and the logo's copy, are references.
    assert r["files"]["versions"] == 7 and r["files"]["blobs"] == 2 and r["files"]["refs"] == 5
    without = json.loads(run_cli("make", "-C", hq, "--to", "school2", "--full", "--out", tmp / "full.bundle", "--json").output)
    assert r["files"]["bytes"] < without["files"]["bytes"]
    run_cli("apply", "-C", school2, tmp / "s2-b1.bundle")
    assert store_files(Side.open(str(school2))) == store_files(Side.open(str(hq))) == dump_files(second_dump(str(tmp)))


def test_a_replayed_older_manifest_does_not_bring_back_an_old_report(cli_sides):
    tmp, hq, school = cli_sides
    run_cli("import", "-C", hq, first_dump(str(tmp)))
    run_cli("make", "-C", hq, "--out", tmp / "b1.bundle")
    run_cli("manifest", "-C", school, "--to", "hq", "--out", tmp / "m0.wbm")  # holds nothing yet: no key
    run_cli("apply", "-C", school, tmp / "b1.bundle", "--manifest-out", tmp / "m1.wbm")
    run_cli("make", "-C", hq, "--since", tmp / "m1.wbm", "--out", tmp / "b2.bundle")
    st = Side.open(str(hq)).state
    reported = sorted(r[0] for r in st.db.execute("SELECT sha1 FROM reported_files"))
    assert len(reported) == 4
    run_cli("make", "-C", hq, "--since", tmp / "m0.wbm", "--out", tmp / "b3.bundle")
    assert sorted(r[0] for r in Side.open(str(hq)).state.db.execute("SELECT sha1 FROM reported_files")) == reported
    assert (tmp / "m0.wbm").stat().st_size < 300  # no files_held key when nothing is held
