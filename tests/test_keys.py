"""The signing key: created 0600 whatever the umask, refused when group or others
can read it, and never in any output — not even in the traceback of a bug.

(tests/test_cli.py already checks 0600 under the default umask and ``key``
refusing a 0644 key; this adds the other modes, the commands that sign, the
umask, and the output of every command.)
"""

from __future__ import annotations

import base64
import os
import re
import sqlite3
import stat
import subprocess
import sys

import pytest

from helpers import LDNONT, record_counts

CLI = [sys.executable, "-m", "bundler"]
ENV = {**os.environ, "WIKIBUNDLE_NO_PROGRESS": "1"}


def bundle(*args, code: int = 0, umask: int | None = None, inject: str | None = None) -> str:
    """Run the real command; stdout and stderr together. ``inject``: Python run first (a forced bug)."""
    argv = [str(a) for a in args]
    if inject is None:
        cmd = CLI + argv
    else:
        cmd = [sys.executable, "-c", f"{inject}\nimport sys\nsys.argv = ['bundle', *sys.argv[1:]]\nfrom bundler.cli import main\nmain()", *argv]
    r = subprocess.run(cmd, env=ENV, capture_output=True, text=True, preexec_fn=(lambda: os.umask(umask)) if umask is not None else None)
    assert r.returncode == code, (argv, r.returncode, r.stdout, r.stderr)
    return r.stdout + r.stderr


@pytest.fixture(scope="module")
def sides(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("keys")
    hq, school = tmp_path / "hq", tmp_path / "school"
    outputs = [bundle("init", "-C", hq, "--wiki", hq / "wiki.sqlite", umask=0)]
    outputs.append(bundle("init", "-C", school, "--wiki", school / "wiki.sqlite", umask=0o022))
    for side in (hq, school):
        line = bundle("key", "-C", side)
        outputs.append(line)
        (tmp_path / f"{side.name}.pub").write_text(line)
    outputs.append(bundle("trust", "-C", hq, tmp_path / "school.pub"))
    outputs.append(bundle("trust", "-C", school, tmp_path / "hq.pub"))
    return tmp_path, hq, school, outputs


def forms(secret: bytes) -> list[str]:
    """Every way 32 secret bytes could be printed."""
    b64 = base64.b64encode(secret).decode()
    u64 = base64.urlsafe_b64encode(secret).decode()
    r = repr(secret)[2:-1]
    return [secret.hex(), secret.hex().upper(), b64, b64.rstrip("="), u64, u64.rstrip("="), r[:24], r[-24:]]


def leaks(output: str, secret: bytes) -> list[str]:
    flat = re.sub(r"[\s│|]", "", output)  # rich wraps long lines and draws boxes
    return [f for f in forms(secret) if f in output or f in flat]


def test_key_is_created_0600_whatever_the_umask(sides):
    tmp, hq, school, _ = sides
    for side in (hq, school):  # made under umask 000 and 022
        assert stat.S_IMODE(os.stat(side / "key.secret").st_mode) == 0o600


def applied(school) -> tuple[int, int]:
    """(revisions in the school's store, bundles recorded), read without loading the key."""
    counts = []
    for db, q in (("wiki.sqlite", "SELECT count(*) FROM revision"), ("state.sqlite", "SELECT count(*) FROM received")):
        c = sqlite3.connect(school / db)
        counts.append(c.execute(q).fetchone()[0])
        c.close()
    return tuple(counts)


MODES = [0o640, 0o604, 0o660, 0o602, 0o704]


def test_a_key_others_can_reach_is_refused_by_every_command_that_loads_it(sides):
    tmp, hq, school, _ = sides
    bundle("make", "-C", hq, "--from", LDNONT[0], "--out", tmp / "k1.bundle", "--to", "school")
    before = applied(school)
    commands = [
        (hq, ["make", "-C", hq, "--from", LDNONT[0], "--out", tmp / "x.bundle"]),
        (school, ["apply", "-C", school, tmp / "k1.bundle"]),
        (school, ["key", "-C", school]),
        (school, ["status", "-C", school]),
    ]
    refused = 0
    for mode in MODES:
        for side, args in commands:
            os.chmod(side / "key.secret", mode)
            try:
                out = bundle(*args, code=40)
            finally:
                os.chmod(side / "key.secret", 0o600)
            assert "can be read by others" in out and f"chmod 600 {side / 'key.secret'}" in out.replace("\n", "")
            # refused before anything changed: no bundle, nothing applied (apply used to import first)
            assert not os.path.exists(tmp / "x.bundle") and applied(school) == before, (mode, args)
            refused += 1
    assert "Applied bundle" in bundle("apply", "-C", school, tmp / "k1.bundle")
    record_counts("test_keys", {"too-open key files refused": refused})


def test_the_secret_key_never_appears_in_any_output(sides):
    tmp, hq, school, outputs = sides
    outputs.append(bundle("make", "-C", hq, "--from", LDNONT[0], "--out", tmp / "b1.bundle"))
    outputs.append(bundle("make", "-C", hq, "--from", LDNONT[1], "--out", tmp / "b2.bundle", "--json", "--full"))
    outputs.append(bundle("inspect", tmp / "b1.bundle", "-C", school))
    outputs.append(bundle("apply", "-C", school, tmp / "b1.bundle", "--manifest-out", tmp / "m1.wbm"))
    outputs.append(bundle("apply", "-C", school, tmp / "b1.bundle", "--json"))
    outputs.append(bundle("status", "-C", school))
    outputs.append(bundle("status", "-C", hq, "--json"))
    outputs.append(bundle("make", "-C", hq, "--since", tmp / "m1.wbm", "--from", LDNONT[2], "--out", tmp / "b3.bundle"))
    # Forced bugs (not BundleErrors): the traceback printed for them must not show the
    # key, though the failing frames hold it (typer's locals display stays off).
    bug = "raise RuntimeError('injected bug')"
    inject_sign = f"import bundler.signing as s\ndef sign(self, message):\n    raw = self._key\n    {bug}\ns.SecretKey.sign = sign"
    inject_load = (
        "import bundler.signing as s\n"
        f"def boom(raw):\n    {bug}\n"
        "s.Ed25519PrivateKey = type('K', (), {'from_private_bytes': staticmethod(boom)})"
    )
    make = ["make", "-C", hq, "--from", LDNONT[3], "--out", tmp / "bug.bundle"]
    apply = ["apply", "-C", school, tmp / "b3.bundle"]
    forced = [(inject_sign, make), (inject_sign, apply), (inject_load, make), (inject_load, apply), (inject_load, ["key", "-C", hq])]
    for inject, args in forced:
        out = bundle(*args, code=1, inject=inject)
        assert "RuntimeError" in out and "injected bug" in out, out
        outputs.append(out)
    for side in (hq, school):
        with open(side / "key.secret", "rb") as f:
            secret = f.read()
        for out in outputs:
            assert not leaks(out, secret), f"the secret key of {side.name} appears in:\n{out}"
    record_counts("test_keys", {"command outputs searched for the secret key": len(outputs), "forced tracebacks": len(forced)})
