"""The command line as a user meets it: the issue's flow, JSON output, and errors
that are one message, a hint and an exit code — never a traceback."""

from __future__ import annotations

import json
import os
import stat

import pytest
from helpers import LDNONT, cli_sides, data, dump_history, run_cli, store_digest, store_history  # noqa: F401

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


# --- paths given on the command line ------------------------------------------------
# Every path is checked before the work it is for, and a failure later is translated
# too: one message naming the path and what is wrong, a hint, a non-zero exit, and
# nothing changed (no file left behind, the state and the store as they were: the
# next make still gets bundle number 2). A file under a file stands for "a file
# where a folder is expected"; /proc for a folder even root cannot write in.

PAIR = data("pair-0.10.xml")
MAKE = ["make", "-C", "{hq}", "--from", PAIR]
APPLY = ["apply", "-C", "{school}", "{tmp}/b1.bundle"]


@pytest.mark.parametrize(
    "args, code, words",
    [
        (MAKE + ["--out", "{tmp}/no/such/x.bundle"], 2, "does not exist"),
        (MAKE + ["--out", "{tmp}/hq.pub/x.bundle"], 2, "hq.pub is a file, not a folder"),
        (MAKE + ["--out", "/proc/x.bundle"], 2, "cannot write in /proc"),
        (MAKE + ["--out", "{tmp}"], 2, "is a folder"),
        (MAKE + ["--out", "/dev/null"], 2, "not a regular file"),
        (["export", "-C", "{school}", "--out", "{tmp}/no/such/x.xml"], 2, "does not exist"),
        (["export", "-C", "{school}", "--out", "{tmp}/hq.pub/x.xml"], 2, "is a file, not a folder"),
        (["export", "-C", "{school}", "--out", "/proc/x.xml"], 2, "cannot write in /proc"),
        (["export", "-C", "{school}", "--out", "{tmp}"], 2, "is a folder"),
        (APPLY + ["--return-out", "{tmp}/no/such/r.bundle"], 2, "does not exist"),
        (APPLY + ["--return-out", "{tmp}/hq.pub/r.bundle"], 2, "is a file, not a folder"),
        (APPLY + ["--return-out", "/proc/r.bundle"], 2, "cannot write in /proc"),
        (APPLY + ["--return-out", "{tmp}"], 2, "is a folder"),
        (APPLY + ["--manifest-out", "{tmp}/no/such/m.wbm"], 2, "does not exist"),
        (APPLY + ["--manifest-out", "{tmp}/hq.pub/m.wbm"], 2, "is a file, not a folder"),
        (APPLY + ["--manifest-out", "/proc/m.wbm"], 2, "cannot write in /proc"),
        (APPLY + ["--manifest-out", "{tmp}"], 2, "is a folder"),
        (["apply", "-C", "{school}", "{tmp}/usb"], 2, "holds no bundle parts"),
        (["apply", "-C", "{school}", "{tmp}/hq.pub/b1.bundle"], 20, "cannot open"),
        (["init", "-C", "{tmp}/hq.pub", "--wiki", "{tmp}/w.sqlite"], 2, "is a file, not a folder"),
        (["init", "-C", "{tmp}/hq.pub/side", "--wiki", "{tmp}/w.sqlite"], 2, "is a file, not a folder"),
        (["init", "-C", "/proc/side", "--wiki", "{tmp}/w.sqlite"], 2, "cannot write in /proc"),
        (["init", "-C", "{tmp}/side", "--wiki", "{tmp}/usb"], 2, "is a folder"),
        (["init", "-C", "{tmp}/side", "--wiki", "{tmp}/hq.pub/w.sqlite"], 2, "is a file, not a folder"),
        (["make", "-C", "{tmp}/hq.pub", "--out", "{tmp}/x.bundle"], 2, "is a file, not a side's folder"),
        (["trust", "-C", "{hq}", "{tmp}/usb"], 40, "is a folder"),
        (["trust", "-C", "{hq}", "{tmp}/none.pub"], 40, "does not exist"),
        (["import", "-C", "{hq}", "{tmp}/usb"], 10, "cannot open dump"),
        (["make", "-C", "{hq}", "--from", "{tmp}/usb", "--out", "{tmp}/x.bundle"], 10, "cannot open dump"),
        (["make", "-C", "{hq}", "--from", "{tmp}/hq.pub/d.xml", "--out", "{tmp}/x.bundle"], 10, "cannot open dump"),
        (["make", "-C", "{hq}", "--since", "{tmp}/usb", "--out", "{tmp}/x.bundle"], 20, "cannot read manifest"),
        (["make", "-C", "{hq}", "--since", "{tmp}/none.wbm", "--out", "{tmp}/x.bundle"], 20, "cannot read manifest"),
        (MAKE + ["--files", PAIR, "--out", "{tmp}/x.bundle"], 2, "is a file, not a folder"),
        (MAKE + ["--files", "{tmp}/none", "--out", "{tmp}/x.bundle"], 2, "does not exist"),
    ],
)
def test_a_bad_path_is_one_clear_error_and_changes_nothing(cli_sides, args, code, words):
    tmp, hq, school = cli_sides
    (tmp / "usb").mkdir()
    run("make", "-C", hq, "--from", PAIR, "--out", tmp / "b1.bundle")
    before = _snapshot(tmp, hq, school)
    args = [a.format(tmp=tmp, hq=hq, school=school) for a in args]
    r = run(*args, code=code)
    assert words in r.output and "hint:" in r.output
    named = [a for a in args if "/" in a and a not in (str(hq), str(school))]
    assert any(a in r.output for a in named)
    assert _snapshot(tmp, hq, school) == before
    assert json.loads(run("make", "-C", hq, "--from", PAIR, "--out", tmp / "b2.bundle", "--json").output)["seq"] == 2
    assert "Applied bundle 1" in run("apply", "-C", school, tmp / "b1.bundle").output


def test_a_write_that_fails_later_is_one_clear_error_and_leaves_nothing(cli_sides, monkeypatch):
    # A full disk after the checks passed: the error names the file, no temporary
    # file stays, and the state is not advanced.
    tmp, hq, school = cli_sides
    import errno

    from bundler import container
    from bundler.cli import export as export_cmd

    def full(*args, **kw):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp / "out"))

    before = _snapshot(tmp, hq, school)
    with monkeypatch.context() as m:
        m.setattr(container.BundleWriter, "add_frame", full)
        r = run("make", "-C", hq, "--from", PAIR, "--out", tmp / "x.bundle", code=1)
        assert "no space left on the device" in r.output and str(tmp / "out") in r.output and "hint:" in r.output
        m.setattr(export_cmd.XmlWriter, "close", full)
        r = run("export", "-C", school, "--out", tmp / "x.xml", code=1)
        assert "no space left on the device" in r.output and "hint:" in r.output
    assert _snapshot(tmp, hq, school) == before
    assert json.loads(run("make", "-C", hq, "--from", PAIR, "--out", tmp / "b1.bundle", "--json").output)["seq"] == 1
    # The return bundle is written after the update was applied: the error says so.
    with monkeypatch.context() as m:
        m.setattr(container.BundleWriter, "finish", full)
        r = run("apply", "-C", school, tmp / "b1.bundle", "--return-out", tmp / "r.bundle", code=1)
    assert "bundle 1 was applied, but the return bundle" in r.output and "bundle make -C" in r.output
    assert sorted(p.name for p in tmp.iterdir() if p.is_file()) == ["b1.bundle", "hq.pub", "school.pub"]


def _snapshot(tmp, *sides) -> tuple:
    """Every file's name under tmp, and each side's state and store by content."""
    import sqlite3

    from bundler.state import Side

    names = sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if not p.name.endswith(("-wal", "-shm")))
    contents = []
    for d in sides:
        db = sqlite3.connect(d / "state.sqlite")
        contents.append("\n".join(db.iterdump()))
        db.close()
        contents.append(store_digest(Side.open(str(d))))
    return names, contents
