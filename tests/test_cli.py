"""The command line as a user meets it: the issue's flow, JSON output, and errors
that are one message, a hint and an exit code — never a traceback."""

from __future__ import annotations

import json
import os
import stat

import pytest
from helpers import LDNONT, cli_sides, data, dump_history, run_cli, store_history  # noqa: F401

run = run_cli


def test_the_loop_from_the_readme(cli_sides):
    tmp, hq, school = cli_sides
    usb = tmp / "usb"
    usb.mkdir()
    run("make", "-C", hq, "--from", LDNONT[0], "--out", usb / "update.bundle")
    r = run("apply", "-C", school, usb / "update.bundle", "--manifest-out", usb / "school.wbm")
    assert "Applied bundle 1" in r.output
    r = run("make", "-C", hq, "--from", LDNONT[-1], "--since", usb / "school.wbm", "--out", usb / "update2.bundle", "--json")
    info = json.loads(r.output)
    assert info["seq"] == 2 and info["basis"] == 1 and info["revisions"] > 0
    run("apply", "-C", school, usb / "update2.bundle")
    r = run("apply", "-C", school, usb / "update2.bundle")
    assert "already applied" in r.output and "nothing changed" in r.output
    run("export", "-C", school, "--out", tmp / "school.xml.gz")
    assert dump_history(str(tmp / "school.xml.gz")) == dump_history(LDNONT[-1])
    st = json.loads(run("status", "-C", school, "--json").output)
    assert st["peers"][0]["applied_from"] == 2 and st["revisions"] == 268


def test_inspect_reads_header_and_verifies_with_C(cli_sides):
    tmp, hq, school = cli_sides
    run("make", "-C", hq, "--from", data("pair-0.10.xml"), "--out", tmp / "b.bundle")
    info = json.loads(run("inspect", tmp / "b.bundle", "--json").output)
    assert info["counts"]["pages"] == 2 and info["counts"]["revisions"] == 4
    assert info["basis_seq"] == 0 and info["verified"] is None
    info = json.loads(run("inspect", tmp / "b.bundle", "-C", school, "--json").output)
    assert "signature good" in info["verified"]
    assert "bundle 1" in run("inspect", tmp / "b.bundle").output


def test_import_then_make_from_the_store(cli_sides):
    tmp, hq, school = cli_sides
    run("import", "-C", hq, LDNONT[2])
    run("make", "-C", hq, "--out", tmp / "b1.bundle")
    run("apply", "-C", school, tmp / "b1.bundle")
    from bundler.state import Side

    assert store_history(Side.open(str(school))) == dump_history(LDNONT[2])


def test_key_file_is_private_and_refused_when_open(cli_sides):
    tmp, hq, school = cli_sides
    key = hq / "key.secret"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    os.chmod(key, 0o644)
    r = run("key", "-C", hq, code=40)
    assert "chmod 600" in r.output


@pytest.mark.parametrize(
    "args, code, words",
    [
        (["make", "-C", "{tmp}/nowhere", "--out", "{tmp}/x.bundle"], 3, "not a wikibundle side"),
        (["apply", "-C", "{school}", "{tmp}/missing.bundle"], 20, "cannot open"),
        (["apply", "-C", "{school}", "{tmp}/hq.pub"], 20, "not a wikibundle bundle"),
        (["make", "-C", "{hq}", "--from", "{tmp}/hq.pub", "--out", "{tmp}/x.bundle"], 10, "not well-formed"),
        (["make", "-C", "{hq}", "--from", "{tmp}/none.xml", "--out", "{tmp}/x.bundle"], 10, "cannot open dump"),
        (["make", "-C", "{hq}", "--since", "{tmp}/hq.pub", "--out", "{tmp}/x.bundle"], 20, "not a wikibundle manifest"),
        (["trust", "-C", "{hq}", "{data}/pair-0.10.xml"], 40, "key"),
        (["make", "-C", "{hq}", "--until", "soon", "--out", "{tmp}/x.bundle"], 2, "not a time"),
    ],
)
def test_bad_input_is_one_clear_error(cli_sides, args, code, words):
    tmp, hq, school = cli_sides
    from helpers import DATA

    args = [a.format(tmp=tmp, hq=hq, school=school, data=DATA) for a in args]
    r = run(*args, code=code)
    assert words in r.output
    assert "hint:" in r.output
    assert not os.path.exists(tmp / "x.bundle")


def test_untrusted_bundle_names_key_and_command(cli_sides, tmp_path):
    tmp, hq, school = cli_sides
    stranger = tmp / "stranger"
    run("init", "-C", stranger, "--wiki", stranger / "w.sqlite")
    run("trust", "-C", stranger, tmp / "school.pub")
    # the stranger claims to make for the school, which never trusted it
    run("make", "-C", stranger, "--from", data("pair-0.10.xml"), "--out", tmp / "s.bundle")
    r = run("apply", "-C", school, tmp / "s.bundle", code=32)
    assert "bundle trust" in r.output


def test_help_teaches():
    r = run("--help")
    for cmd in ("init", "key", "trust", "make", "apply", "inspect", "export", "import", "status"):
        assert cmd in r.output
    assert "--since" in run("make", "--help").output


def test_second_command_on_a_busy_side_is_refused(cli_sides):
    tmp, hq, school = cli_sides
    from bundler.state import Side

    run("make", "-C", hq, "--from", LDNONT[0], "--out", tmp / "b1.bundle")
    side = Side.open(str(school))
    with side.locked():  # as if another apply were running
        r = run("apply", "-C", school, tmp / "b1.bundle", code=4)
        assert "another wikibundle command" in r.output
    run("apply", "-C", school, tmp / "b1.bundle")


def test_latest_only_from_the_cli(cli_sides):
    tmp, hq, school = cli_sides
    info = json.loads(run("make", "-C", hq, "--from", data("frwiki-20220101-pages-articles.xml"), "--latest-only", "--out", tmp / "b.bundle", "--json").output)
    assert info["revisions"] == 2
    assert json.loads(run("inspect", tmp / "b.bundle", "--json").output)["latest_only"] is True
