"""Issue 5's size budget and parts, end to end on a real dump."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from helpers import cli_sides, data, dump_history, run_cli, store_history  # noqa: F401

DUMP = data("eslagunanegra-pages-full.xml.xz")
run = run_cli


def test_budget_fills_bundles_and_the_next_picks_up_where_it_stopped(cli_sides):
    tmp, hq, school = cli_sides
    from bundler.state import Side

    sizes = []
    for n in range(1, 20):
        extra = ["--continue"] if n > 1 else []
        info = json.loads(run("make", "-C", hq, "--from", DUMP, "--max-size", "100K", "--out", tmp / f"b{n}.bundle", "--json", *extra).output)
        assert info["bytes"] <= 100_000
        sizes.append(info["bytes"])
        run("apply", "-C", school, tmp / f"b{n}.bundle")
        # after every bundle the school's wiki is consistent: each page's history is a
        # prefix of the source's (no revision without its parent), titles unique
        got = store_history(Side.open(str(school)))
        want = dump_history(DUMP)
        for title, hist in got.items():
            assert hist == want[title][: len(hist)], title
        if info["deferred"] == 0:
            break
    assert n > 2, "the budget should have split this dump"
    assert min(sizes[:-1]) > 80_000, sizes  # filled, not just under
    assert store_history(Side.open(str(school))) == dump_history(DUMP)


def test_nothing_fits_is_a_clear_error(cli_sides):
    tmp, hq, school = cli_sides
    r = run("make", "-C", hq, "--from", DUMP, "--max-size", "1500", "--out", tmp / "b.bundle", code=2)
    assert "--part-size" in r.output
    assert not os.path.exists(tmp / "b.bundle")


def test_parts_travel_separately_and_one_lost_part_is_named(cli_sides):
    tmp, hq, school = cli_sides
    info = json.loads(run("make", "-C", hq, "--from", DUMP, "--part-size", "40K", "--out", tmp / "u.bundle", "--json").output)
    parts = info["parts"]
    assert len(parts) >= 5 and not os.path.exists(tmp / "u.bundle")
    assert all(os.path.getsize(p) <= 40_000 for p in parts)
    from bundler.state import Side

    inbox = tmp / "inbox"
    inbox.mkdir()
    for p in reversed(parts):  # arrive in any order
        shutil.copy(p, inbox)
    lost = inbox / os.path.basename(parts[2])
    os.unlink(lost)
    damaged = inbox / os.path.basename(parts[4])
    raw = bytearray(damaged.read_bytes())
    raw[-10] ^= 0xFF
    damaged.write_bytes(bytes(raw))
    r = run("apply", "-C", school, inbox, code=30)
    assert "missing: 3" in r.output and "damaged: 5" in r.output
    assert store_history(Side.open(str(school))) == {}
    # the lost part turns up, and a good copy of the damaged one arrives beside it
    # (parts may arrive more than once: the good copy is used, the damaged one ignored)
    shutil.copy(parts[2], inbox)
    shutil.copy(parts[4], inbox / "again-of-part-5.part")
    run("apply", "-C", school, inbox)
    assert store_history(Side.open(str(school))) == dump_history(DUMP)
    assert not os.listdir(school / "incoming")  # the reassembled copy is not kept


def test_parts_of_two_bundles_are_not_mixed(cli_sides):
    tmp, hq, school = cli_sides
    a = json.loads(run("make", "-C", hq, "--from", DUMP, "--part-size", "100K", "--out", tmp / "a.bundle", "--json").output)["parts"]
    b = json.loads(run("make", "-C", hq, "--from", DUMP, "--full", "--part-size", "100K", "--out", tmp / "b.bundle", "--json").output)["parts"]
    r = run("apply", "-C", school, a[0], b[1], code=2)
    assert "different bundles" in r.output
