"""Latest-only updates from two dumps (issue 12): ``bundle make --from NEW --base OLD --latest-only``.

Real text: the ldnont wiki as it was on 2022-09-04 (OLD, 66 pages) and on 2022-11-02 (NEW,
112 pages: 46 new, 12 changed, 5 redirects), made into multistream dumps by the project's own
writer, 10 pages a stream; NEW also has two pages renamed and two deleted (the real series
has no moves or deletions in that span). The receiver gets OLD in a first bundle made
``--from OLD --latest-only``, then the update; it must end equal to NEW, title by title.
"""

from __future__ import annotations

import bz2
import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

from bundler.errors import BasisError, DumpError, UsageError
from bundler.container import BundleReader
from bundler.latest import make_latest_update
from bundler.multistream import edit_pages, iter_pages, latest_pages, read_index, siteinfo_of, write_multistream
from bundler.sources.dump import open_dump
from helpers import LDNONT, ROOT, cli_sides, new_pair, run_cli, store_history  # noqa: F401 (a fixture)

OLD_XML = next(p for p in LDNONT if "20220904T202951" in p)
NEW_XML = next(p for p in LDNONT if "20221102T060002" in p)
RENAMES = {9: "Renamed and edited", 20: "Renamed only"}  # page 9's text changed too, page 20's did not
DELETIONS = (5, 52)  # page 52's text changed, page 5's did not


@pytest.fixture(scope="module")
def dumps(tmp_path_factory):
    """(OLD, NEW) multistream dumps with their indexes."""
    d = tmp_path_factory.mktemp("dumps")
    old, new = str(d / "old-multistream.xml.bz2"), str(d / "new-multistream.xml.bz2")
    write_multistream(old, siteinfo_of(OLD_XML), latest_pages(OLD_XML), per_stream=10)
    write_multistream(new, siteinfo_of(NEW_XML), edit_pages(latest_pages(NEW_XML), renames=RENAMES, deletions=DELETIONS),
                      per_stream=10)
    return old, new


def _expected(new: str) -> dict[str, str]:
    return {p.page.title: p.rev.sha1 for p in iter_pages(new, read_index(new))}


def _newest(side) -> dict[str, str]:
    return {title: revs[-1][0] for title, revs in store_history(side).items()}


def _receiver_with_old(tmp: str, old: str):
    pair = new_pair(tmp)
    pair.carry(old, 1, latest_only=True)
    return pair


def _update(pair, new: str, old: str, **kw):
    return make_latest_update(pair.hq, os.path.join(pair.tmp, "b2.bundle"), new, old,
                              since=os.path.join(pair.tmp, "m1.wbm"), latest_only=True, **kw)


def test_dumps_are_real_multistream(dumps):
    old, new = dumps
    streams = read_index(new)
    assert len(streams) == 11 and all(s.count == 10 for s in streams[:-1])
    with open(new, "rb") as f:  # every stream the index names is a bz2 stream of its own
        for s in streams:
            f.seek(s.offset)
            assert f.read(3) == b"BZh"
    with open_dump(new) as d:  # and the whole file is an ordinary dump to any reader
        assert sum(1 for _ in d) == 112 - len(DELETIONS)


def test_update_in_partitions_leaves_the_receiver_equal_to_new(dumps, tmp_path):
    old, new = dumps
    pair = _receiver_with_old(str(tmp_path), old)
    res = _update(pair, new, old, workers=1, part_bytes=2000)
    c = res.counts
    assert (c.moves, c.deletions) == (len(RENAMES), len(DELETIONS))
    assert c.pages == 46 + 12 - 1 + 1  # new, changed (but page 52, deleted), page 20 moved
    assert c.revisions == 46 + 12 - 1  # a move alone carries no text
    assert c.frames > 3  # one or more per partition
    pair.apply(res.path, "m2.wbm")
    want = _expected(new)
    assert _newest(pair.school) == want
    # Redirects travel as pages, and export gives the latest-only XML for importDump.php.
    out = os.path.join(str(tmp_path), "school.xml")
    run_cli("export", "-C", pair.school.path, "--out", out)
    with open_dump(out) as d:
        pages = {ph.page.title: (ph.page.redirect, list(ph.revisions)[-1].sha1) for ph in d}
    assert {t: s for t, (_r, s) in pages.items()} == want
    new_redirects = {p.page.title: p.page.redirect for p in iter_pages(new, read_index(new)) if p.page.redirect}
    assert len(new_redirects) == 5 and all(pages[t][0] == r for t, r in new_redirects.items())


def test_dumps_without_index_work_in_one_pass(tmp_path):
    """The plain full-history .xml.xz dumps themselves: their newest revisions are OLD and NEW."""
    pair = _receiver_with_old(str(tmp_path), OLD_XML)
    res = _update(pair, NEW_XML, OLD_XML, workers=2)  # no index: one partition, in this process
    assert res.counts.revisions == 46 + 12
    pair.apply(res.path, "m2.wbm")
    with open_dump(NEW_XML) as d:
        assert _newest(pair.school) == {ph.page.title: list(ph.revisions)[-1].sha1 for ph in d}


def test_mass_deletion_is_refused_and_nothing_is_written(dumps, tmp_path):
    old, _new = dumps
    few = str(tmp_path / "few-multistream.xml.bz2")
    write_multistream(few, siteinfo_of(OLD_XML), edit_pages(latest_pages(OLD_XML), deletions=range(1, 60)), per_stream=10)
    pair = _receiver_with_old(str(tmp_path), old)
    with pytest.raises(UsageError, match="would delete"):
        _update(pair, few, old, part_bytes=2000)
    assert not os.path.exists(os.path.join(pair.tmp, "b2.bundle"))
    assert pair.hq.state.last_sent_seq(pair.school.wiki_id) == 1
    res = _update(pair, few, old, part_bytes=2000, allow_deletions=True)
    assert res.counts.deletions == sum(1 for p in iter_pages(old, read_index(old)) if p.page.page_id < 60)


def test_bad_input_is_one_message_and_nothing_is_written(dumps, tmp_path, cli_sides):
    old, new = dumps
    tmp, hq, school = cli_sides
    b1 = tmp / "b1.bundle"
    run_cli("make", "-C", hq, "--from", old, "--latest-only", "--out", b1)
    run_cli("apply", "-C", school, b1, "--manifest-out", tmp / "m1.wbm")
    out = tmp / "b.bundle"

    def refused(code: int, *args, words: str) -> None:
        r = run_cli("make", "-C", hq, "--since", tmp / "m1.wbm", "--from", *args, "--latest-only", "--out", out,
                    "--workers", "1", code=code)
        assert words in r.output, r.output
        assert not out.exists()

    # A dump that is not multistream, beside its index: one bz2 stream of the same XML.
    single = tmp / "single-multistream.xml.bz2"
    subprocess.run(f"bzcat {new} | bzip2 -c > {single}", shell=True, check=True)
    shutil.copy(new.replace(".xml.bz2", "-index.txt.bz2"), str(single).replace(".xml.bz2", "-index.txt.bz2"))
    refused(DumpError.exit_code, single, "--base", old, words="not a multistream dump")
    with open(single, "ab") as f:  # (as large as the real one: the index's offsets fall inside it)
        f.write(bz2.compress(os.urandom(40000)))
    refused(DumpError.exit_code, single, "--base", old, words="not a multistream dump")
    # An index that belongs to another dump.
    other = tmp / "other-multistream.xml.bz2"
    shutil.copy(new, other)
    shutil.copy(old.replace(".xml.bz2", "-index.txt.bz2"), str(other).replace(".xml.bz2", "-index.txt.bz2"))
    refused(DumpError.exit_code, other, "--base", old, words="index")
    # An index that is not one.
    with bz2.open(str(other).replace(".xml.bz2", "-index.txt.bz2"), "wb") as f:
        f.write(b"504:1:Main Page\nthis is not an index\n")
    refused(DumpError.exit_code, other, "--base", old, words="is not offset:page_id:title")
    # OLD is not what the receiver holds.
    refused(BasisError.exit_code, new, "--base", new, words="does not hold OLD")
    # --base without --from, and without --latest-only.
    r = run_cli("make", "-C", hq, "--base", old, "--out", out, code=UsageError.exit_code)
    assert "--from NEW --base OLD" in r.output
    r = run_cli("make", "-C", hq, "--from", new, "--base", old, "--out", out, code=UsageError.exit_code)
    assert "--latest-only" in r.output
    assert not out.exists()
    # And the good one goes through the same command.
    run_cli("make", "-C", hq, "--since", tmp / "m1.wbm", "--from", new, "--base", old, "--latest-only", "--out", out,
            "--workers", "1")
    run_cli("apply", "-C", school, out)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dask_cluster(tmp_path):
    """A ``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1; stopped at the end."""
    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    bindir = os.path.dirname(sys.executable)
    env = {**os.environ, "PYTHONPATH": ROOT}
    log = open(tmp_path / "dask.log", "w")
    procs = [subprocess.Popen([os.path.join(bindir, "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], stdout=log, stderr=log, env=env, cwd=ROOT)]
    for _ in range(2):
        procs.append(subprocess.Popen([os.path.join(bindir, "dask"), "worker", addr, "--nthreads", "1", "--nworkers", "1",
                                       "--no-dashboard", "--host", "127.0.0.1"], stdout=log, stderr=log, env=env, cwd=ROOT))
    try:
        from dask.distributed import Client

        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(addr, timeout="5s") as c:
                    if len(c.scheduler_info()["workers"]) == 2:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, open(tmp_path / "dask.log").read()
            time.sleep(0.5)
        yield addr
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        log.close()


def test_two_dask_workers_give_the_receiver_what_one_worker_gives(dumps, tmp_path, dask_cluster):
    old, new = dumps
    one = _receiver_with_old(str(tmp_path / "one"), old)
    two = _receiver_with_old(str(tmp_path / "two"), old)
    r1 = _update(one, new, old, workers=1, part_bytes=2000)
    r2 = _update(two, new, old, scheduler=dask_cluster, part_bytes=2000)
    assert r1.counts == r2.counts
    one.apply(r1.path, "m2.wbm")
    two.apply(r2.path, "m2.wbm")
    assert store_history(one.school) == store_history(two.school)
    assert _newest(two.school) == _expected(new)


def test_a_local_cluster_of_two_workers(dumps, tmp_path):
    """``--workers 2``: a local Dask cluster started (and stopped) by make itself."""
    old, new = dumps
    pair = _receiver_with_old(str(tmp_path), old)
    res = _update(pair, new, old, workers=2, part_bytes=2000)
    pair.apply(res.path, "m2.wbm")
    assert _newest(pair.school) == _expected(new)


def test_the_view_of_an_id_range_is_the_view_of_each_page(dumps, tmp_path):
    """``PeerView.pages_between`` (what the coordinator ships) says what ``page`` and ``revs`` say."""
    old, new = dumps
    pair = _receiver_with_old(str(tmp_path), old)
    pair.apply(_update(pair, new, old, part_bytes=2000).path, "m2.wbm")
    st = pair.hq.state
    view = st.peer_view(pair.school.wiki_id, st.chain(pair.school.wiki_id, 2))
    ids = [p.page.page_id for p in iter_pages(old, read_index(old))] + [p.page.page_id for p in iter_pages(new, read_index(new))]
    for lo, hi in ((0, None), (0, 40), (40, 80), (80, None)):
        got = view.pages_between(lo, hi)
        want = {pid: (view.page(pid), view.revs(pid)) for pid in set(ids) if pid >= lo and (hi is None or pid < hi)}
        assert got == want
    assert any(v.deleted for v, _h in view.pages_between(0, None).values())  # the deletions are in it too


def _older_revision(page_id: int):
    """Page ``page_id``'s revision before its newest one in OLD (a text the receiver never held)."""
    with open_dump(OLD_XML) as d:
        return next(list(ph.revisions)[-2] for ph in d if ph.page.page_id == page_id)


def test_a_page_whose_newest_revision_in_new_is_older_than_the_receivers(dumps, tmp_path):
    """NEW's newest revision of page 4 is older than OLD's (its newest revision was removed on the wiki:
    deleted, then the page undeleted without it). A bundle adds history, never removes it: the update
    carries NEW's revision, the receiver keeps its newer text as the page's current one, and make says so."""
    old, _new = dumps
    older = _older_revision(4)
    new = str(tmp_path / "new-multistream.xml.bz2")
    write_multistream(new, siteinfo_of(NEW_XML), ((p, [older] if p.page_id == 4 else r) for p, r in latest_pages(NEW_XML)),
                      per_stream=10)
    pair = _receiver_with_old(str(tmp_path), old)
    held = _newest(pair.school)["Delmar Restaurant"]
    assert held != older.sha1
    b2 = os.path.join(pair.tmp, "b2.bundle")
    hq_copy = os.path.join(pair.tmp, "hq-copy")  # the same make with --json, from a copy of the sender
    shutil.copytree(pair.hq.path, hq_copy)
    r = run_cli("make", "-C", hq_copy, "--since", os.path.join(pair.tmp, "m1.wbm"), "--from", new, "--base", old,
                "--latest-only", "--workers", "1", "--out", os.path.join(pair.tmp, "b2-json.bundle"), "--json")
    assert json.loads(r.output)["older_kept"] == {"count": 1, "titles": ["Delmar Restaurant"]}
    r = run_cli("make", "-C", pair.hq.path, "--since", os.path.join(pair.tmp, "m1.wbm"), "--from", new, "--base", old,
                "--latest-only", "--workers", "1", "--out", b2)
    said = " ".join(r.output.split())
    assert "1 pages have a newest revision in NEW older than the one the receiver holds" in said
    assert said.endswith("keeps its newer text as the current one: Delmar Restaurant")
    with BundleReader(b2) as br:
        assert br.header.counts.revisions == 46 + 12 + 1  # the older text travels
    pair.apply(b2, "m2.wbm")
    got, want = _newest(pair.school), _expected(new)
    assert got.pop("Delmar Restaurant") == held and want.pop("Delmar Restaurant") == older.sha1
    assert got == want
    assert [sha1 for sha1, *_ in store_history(pair.school)["Delmar Restaurant"]] == [older.sha1, held]
    # And the next update, from this NEW to itself, has nothing to carry for it.
    res3 = make_latest_update(pair.hq, os.path.join(pair.tmp, "b3.bundle"), new, new,
                              since=os.path.join(pair.tmp, "m2.wbm"), latest_only=True)
    assert (res3.counts.pages, res3.counts.revisions) == (0, 0)


@pytest.mark.parametrize("part_bytes", [None, 2000], ids=["one-frame", "a-frame-per-stream"])
def test_a_page_moved_onto_the_title_of_a_page_deleted_in_the_same_update(dumps, tmp_path, part_bytes):
    """Page 5 is deleted and page 20 takes its title; page 70 is deleted and page 4 takes its title
    (the move comes in an earlier frame than the deletion when each stream is a frame)."""
    old, _new = dumps
    titles = {p.page.page_id: p.page.title for p in iter_pages(old, read_index(old))}
    renames = {20: titles[5], 4: titles[70]}
    new = str(tmp_path / "new-multistream.xml.bz2")
    write_multistream(new, siteinfo_of(NEW_XML), edit_pages(latest_pages(NEW_XML), renames=renames, deletions=(5, 70)),
                      per_stream=10)
    pair = _receiver_with_old(str(tmp_path), old)
    res = _update(pair, new, old, part_bytes=part_bytes)
    assert (res.counts.moves, res.counts.deletions) == (2, 2)
    assert (res.counts.frames > 3) == (part_bytes is not None)
    applied = pair.apply(res.path, "m2.wbm")
    assert sorted(applied.moves) == sorted([(titles[20], titles[5]), (titles[4], titles[70])])
    assert _newest(pair.school) == _expected(new)
    assert not applied.notices  # nobody stepped aside: the titles were free once the update landed


def test_an_update_in_format_1_for_an_older_receiver(dumps, tmp_path):
    """``--format-version 1`` with ``--base``: the workers build frames as the
    coordinator writes them (long form, zstd only); the receiver ends equal to NEW."""
    from bundler.container import VERSION, BundleReader

    old, new = dumps
    pair = _receiver_with_old(str(tmp_path), old)
    res = _update(pair, new, old, workers=1, part_bytes=2000, format_version=VERSION)
    with BundleReader(res.path) as r:
        assert r.version == VERSION
        r.verify(pair.school.state.peer_by_key_id)
        assert all("coder" not in fr.meta for fr in r.frames())
    pair.apply(res.path, "m2.wbm")
    assert _newest(pair.school) == _expected(new)
