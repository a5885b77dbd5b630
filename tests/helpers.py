"""Factories shared by the tests: two trusting sides, real dumps, history comparison."""

from __future__ import annotations

import glob
import hashlib
import os
import signal
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from bundler import coder, wire
from bundler.apply import apply_bundle
from bundler.files import StoreFiles
from bundler.make import make_bundle
from bundler.sources import EveryPage
from bundler.sources.dump import open_dump
from bundler.state import Side

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data")
LDNONT = sorted(glob.glob(os.path.join(ROOT, "examples", "ldnont", "*.xml.xz")))


def data(name: str) -> str:
    return os.path.join(DATA, name)


def frame_raw(meta: dict, body: bytes, raw_len: int, dictionary: bytes = b"") -> bytes:
    """A records frame's payload bytes, decoded by the coder its meta names (zstd or PPMd);
    ``dictionary``: the base texts' (the primer parts a writer names after them are added here)."""
    dictionary, primed = _with_primer(meta, dictionary)
    if meta.get("coder") == coder.CODER:
        return coder.decompress(body, expected_size=raw_len, dictionary=dictionary, order=meta["order"], mem=meta["mem"],
                                what="test")
    return wire.decompress(body, expected_size=raw_len, dictionary=dictionary, what="test", magic=not primed)


def frame_body(meta: dict, raw: bytes, dictionary: bytes = b"", level: int = 1) -> bytes:
    """``raw`` coded as a frame with this meta is (the coder and parameters its writer chose)."""
    dictionary, primed = _with_primer(meta, dictionary)
    if meta.get("coder") == coder.CODER:
        return coder.compress(raw, dictionary, meta["order"], meta["mem"])
    return wire.compress(raw, level=level, dictionary=dictionary, checksum=not primed, magic=not primed)


def _with_primer(meta: dict, dictionary: bytes) -> tuple[bytes, bool]:
    """The base texts' dictionary and the primer parts the frame names after them (BUNDLE.md §Primer)."""
    primer = [r for r in meta["dict"] if r <= 0]
    return dictionary + b"".join(coder.primer_part(r, "test") for r in primer), bool(primer)


class Hang(Exception):
    pass


@contextmanager
def deadline(seconds: float):
    """A SIGALRM after ``seconds`` turns a hang into a failure (``Hang``)."""
    def expired(signum, frame):
        raise Hang(f"ran longer than {seconds}s")

    old = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@dataclass
class Pair:
    """An online side (hq) and an offline side (school) that trust each other."""

    tmp: str
    hq: Side
    school: Side

    def make(self, dump: str | None, name: str, **kw):
        out = os.path.join(self.tmp, name)
        if dump is None:
            store = self.hq.store()
            try:
                return make_bundle(self.hq, out, EveryPage(store.pages()), siteinfo=store.siteinfo(), source_name="store",
                                   files=StoreFiles(store), get_text=store.get_text, **kw)
            finally:
                store.close()
        with open_dump(dump) as reader:
            return make_bundle(self.hq, out, EveryPage(reader), siteinfo=reader.siteinfo, source_name=os.path.basename(dump),
                               files=reader.files, **kw)

    def apply(self, bundle: str, manifest: str | None = None):
        return apply_bundle(self.school, bundle, manifest_out=manifest and os.path.join(self.tmp, manifest))

    def carry(self, dump: str, n: int, **kw):
        """make bundle n from dump (since manifest n-1), apply it, write manifest n."""
        since = os.path.join(self.tmp, f"m{n - 1}.wbm") if n > 1 else None
        made = self.make(dump, f"b{n}.bundle", since=since, **kw)
        applied = self.apply(made.path, f"m{n}.wbm")
        return made, applied


def new_pair(tmp: str) -> Pair:
    hq = Side.create(os.path.join(tmp, "hq"), os.path.join(tmp, "hq", "wiki.sqlite"), "hq")
    school = Side.create(os.path.join(tmp, "school"), os.path.join(tmp, "school", "wiki.sqlite"), "school")
    for s in (hq, school):
        s.store(create=True).close()
    with hq.state.transaction():
        hq.state.add_peer(school.public_key())
    with school.state.transaction():
        school.state.add_peer(hq.public_key())
    return Pair(tmp, hq, school)


@pytest.fixture
def pair(tmp_path) -> Pair:
    return new_pair(str(tmp_path))


def delta_bundle(tmp: str) -> tuple[Pair, bytes]:
    """A school that applied a first real bundle, and the bytes of a second, delta
    bundle made for it (what the tamper and fuzz tests mutate)."""
    pair = new_pair(tmp)
    pair.carry(LDNONT[0], 1)
    made = pair.make(LDNONT[3], "b2.bundle", since=os.path.join(tmp, "m1.wbm"))
    with open(made.path, "rb") as f:
        return pair, f.read()


def history(pages) -> dict[str, list[tuple]]:
    """title -> [(text sha1, timestamp, user, comment, minor)] in history order."""
    return {
        ph.page.title: [(r.sha1, r.timestamp, r.user, r.comment, r.minor) for r in ph.revisions] for ph in pages
    }


def dump_history(path: str) -> dict[str, list[tuple]]:
    with open_dump(path) as d:
        return history(d)


def store_history(side: Side) -> dict[str, list[tuple]]:
    store = side.store()
    try:
        return history(store.pages())
    finally:
        store.close()


def store_text(side_dir, title: str) -> str | None:
    """The current text of ``title`` in the embedded store of the side at ``side_dir`` (None: no such page)."""
    store = Side.open(str(side_dir)).store()
    try:
        page = store.page_by_title(title)
        head = store.head(page.page_id) if page else None
        return head.text if head else None
    finally:
        store.close()


def file_digest(*paths: str) -> str:
    """Digest of files as they are on disk (missing files count), to prove nothing changed."""
    h = hashlib.sha256()
    for p in paths:
        for q in (p, p + "-wal"):
            h.update(q.encode())
            if os.path.exists(q):
                with open(q, "rb") as f:
                    h.update(f.read())
    return h.hexdigest()


def store_digest(side: Side) -> str:
    """The store's logical content (robust to SQLite checkpointing the WAL)."""
    store = side.store()
    try:
        h = hashlib.sha256()
        for line in store.db.iterdump():
            h.update(line.encode())
        return h.hexdigest()
    finally:
        store.close()


def record_counts(test: str, counts: dict) -> None:
    """Append a test's fault counts to $WIKIBUNDLE_COUNTS as one JSON line (tests/count_faults.py sets it)."""
    path = os.environ.get("WIKIBUNDLE_COUNTS")
    if path:
        import json

        with open(path, "a") as f:
            f.write(json.dumps({"test": test, "counts": counts}) + "\n")


# --- the command line --------------------------------------------------------


def run_cli(*args, code: int = 0):
    """Run ``bundle ARGS`` in-process; assert the exit code and that no traceback shows."""
    from typer.testing import CliRunner

    from bundler.cli import app

    r = CliRunner().invoke(app, [str(a) for a in args])
    assert r.exit_code == code, (args, r.exit_code, r.output, r.exception)
    assert "Traceback" not in r.output
    if code == 0:
        assert r.exception is None or isinstance(r.exception, SystemExit)
    return r


@pytest.fixture
def cli_sides(tmp_path):
    """hq and school made and introduced through the CLI: (tmp, hq dir, school dir)."""
    hq, school = tmp_path / "hq", tmp_path / "school"
    run_cli("init", "-C", hq, "--wiki", hq / "wiki.sqlite")
    run_cli("init", "-C", school, "--wiki", school / "wiki.sqlite")
    (tmp_path / "hq.pub").write_text(run_cli("key", "-C", hq).output)
    (tmp_path / "school.pub").write_text(run_cli("key", "-C", school).output)
    run_cli("trust", "-C", hq, tmp_path / "school.pub")
    run_cli("trust", "-C", school, tmp_path / "hq.pub")
    return tmp_path, hq, school


def api_sides(pair, tmp_path, monkeypatch, online: str = "online", offline: str = "offline"):
    """Two sides over the Action API of a ``mediawiki_pair``, trusting each other:
    (online client, offline client, online side dir, offline side dir). The labels are
    the directories' names (the online one is the offline wiki's interwiki prefix)."""
    from bundler.mediawiki import MediaWikiClient

    clients = [MediaWikiClient(w.api_url, w.bot_user, w.bot_password) for w in (pair.online, pair.offline)]
    dirs = [tmp_path / online, tmp_path / offline]
    for d, wiki in zip(dirs, (pair.online, pair.offline)):
        monkeypatch.setenv("WIKIBUNDLE_PASSWORD", wiki.bot_password)
        run_cli("init", "-C", d, "--wiki", wiki.api_url, "--user", wiki.bot_user)
        (tmp_path / f"{d.name}.pub").write_text(run_cli("key", "-C", d).output)
    run_cli("trust", "-C", dirs[0], tmp_path / f"{offline}.pub")
    run_cli("trust", "-C", dirs[1], tmp_path / f"{online}.pub")
    return clients[0], clients[1], dirs[0], dirs[1]


def embedded_to_wiki_sides(wiki, tmp_path, monkeypatch):
    """An embedded side ``hq`` sending to a side ``school`` whose wiki is the real
    MediaWiki ``wiki`` (a harness ``WikiServer``), trusting each other: (hq dir,
    school dir, a client of the wiki logged in as the school's account)."""
    from bundler.mediawiki import MediaWikiClient

    hq, school = tmp_path / "hq", tmp_path / "school"
    run_cli("init", "-C", hq, "--wiki", hq / "w.sqlite")
    monkeypatch.setenv("WIKIBUNDLE_PASSWORD", wiki.bot_password)
    run_cli("init", "-C", school, "--wiki", wiki.api_url, "--user", wiki.bot_user)
    for a, b in ((hq, school), (school, hq)):
        (tmp_path / "k.pub").write_text(run_cli("key", "-C", b).output)
        run_cli("trust", "-C", a, tmp_path / "k.pub")
    return hq, school, MediaWikiClient(wiki.api_url, wiki.bot_user, wiki.bot_password)
