"""The return trip on two embedded stores: offline edits travel back, pages changed
on both sides merge three ways, conflicts are kept and shown on both sides, and
no text written on either side is lost (issue 4)."""

from __future__ import annotations

import json
import os

from helpers import LDNONT, cli_sides, run_cli  # noqa: F401 (fixture)

from bundler.apply import apply_bundle
from bundler.container import BundleReader
from bundler.edit import delete_page, edit_page, move_page
from bundler.files import StoreFiles
from bundler.importer import import_dump
from bundler.make import make_bundle
from bundler.merge import three_way
from bundler.model import text_sha1
from bundler.sources import EveryPage
from bundler.state import Side

BASE = "\n".join(f"Line {i}: the clinic opens at {i} o'clock." for i in range(1, 13))


class Loop:
    """hq (online) and school (offline), each with an embedded store, that trust each other."""

    def __init__(self, tmp: str):
        self.tmp = tmp
        self.hq = Side.create(os.path.join(tmp, "hq"), os.path.join(tmp, "hq", "wiki.sqlite"), "hq")
        self.school = Side.create(os.path.join(tmp, "school"), os.path.join(tmp, "school", "wiki.sqlite"), "school")
        for s in (self.hq, self.school):
            s.store(create=True).close()
        for a, b in ((self.hq, self.school), (self.school, self.hq)):
            with a.state.transaction():
                a.state.add_peer(b.public_key())
        self.n = 0

    def make(self, side: Side, name: str):
        store = side.store()
        try:
            return make_bundle(side, os.path.join(self.tmp, name), EveryPage(store.pages()), siteinfo=store.siteinfo(),
                               source_name="store", files=StoreFiles(store))
        finally:
            store.close()

    def update(self):
        """hq's next update, applied at the school: (make result, apply result)."""
        self.n += 1
        made = self.make(self.hq, f"update-{self.n}.bundle")
        return made, apply_bundle(self.school, made.path)

    def back(self):
        """The school's return, applied at hq: (make result, apply result)."""
        self.n += 1
        made = self.make(self.school, f"return-{self.n}.bundle")
        return made, apply_bundle(self.hq, made.path)

    def round(self):
        """An update to the school, its return to hq, and one more update."""
        self.update()
        _made, res = self.back()
        self.update()
        return res

    @staticmethod
    def current(side: Side) -> dict[str, str]:
        store = side.store()
        try:
            out = {}
            for ph in store.pages():
                revs = list(ph.revisions)
                out[ph.page.title] = revs[-1].text
            return out
        finally:
            store.close()

    @staticmethod
    def all_texts(side: Side) -> set[str]:
        store = side.store()
        try:
            return {r[0] for r in store.db.execute("SELECT sha1 FROM revision")}
        finally:
            store.close()


def edited(text: str, line: int, new: str) -> str:
    lines = text.split("\n")
    lines[line] = new
    return "\n".join(lines)


def seeded(tmp) -> Loop:
    loop = Loop(str(tmp))
    edit_page(loop.hq, "Clinic", BASE, user="Admin", summary="hours")
    edit_page(loop.hq, "Malaria", "Malaria is spread by mosquitoes.\n\nTreatment: see the nurse.", user="Admin")
    edit_page(loop.hq, "Water", "Boil water for one minute.", user="Admin")
    loop.update()
    loop.back()  # an empty return: it tells hq what arrived, so the next update builds on it
    return loop


def test_three_way_merge_is_line_by_line():
    ours = edited(BASE, 1, "Line 2: online")
    theirs = edited(BASE, 9, "Line 10: offline")
    merged = three_way(BASE, ours, theirs)
    assert merged.clean and "Line 2: online" in merged.text and "Line 10: offline" in merged.text
    conflict = three_way(BASE, edited(BASE, 4, "online"), edited(BASE, 4, "offline"))
    # No text, and the region both sides changed (line 5, 0-based 4) named in each text.
    assert conflict.text is None and not conflict.clean
    assert [(c.base, c.ours, c.theirs) for c in conflict.conflicts] == [((4, 5), (4, 5), (4, 5))]
    assert three_way(BASE, BASE, theirs).text == theirs and three_way(BASE, ours, BASE).text == ours


def test_edits_on_each_side_travel_both_ways(tmp_path):
    loop = seeded(tmp_path)
    edit_page(loop.hq, "Water", "Boil water for three minutes.", user="Online.Editor", summary="longer")
    edit_page(loop.school, "Malaria", "Malaria is spread by mosquitoes.\n\nTreatment: artemisinin.", user="Nurse.Ada", summary="treatment")
    edit_page(loop.school, "Vaccines", "Measles: 9 months.", user="Nurse.Ada", summary="new page")
    up, _ = loop.update()
    assert up.counts.revisions == 1
    made, res = loop.back()
    h = BundleReader(made.path).header
    assert h.kind == "return" and h.ack_seq == 2 and made.counts.revisions == 2 and made.counts.pages == 2
    assert res.revisions_added == 2 and not res.conflicts and not res.merged
    hq = Loop.current(loop.hq)
    assert hq["Malaria"].endswith("artemisinin.") and hq["Vaccines"] == "Measles: 9 months."
    # Offline authorship and time stay visible on the online wiki.
    store = loop.hq.store()
    row = store.db.execute("SELECT user, comment FROM revision WHERE sha1=?", (text_sha1("Measles: 9 months."),)).fetchone()
    store.close()
    assert row[0] == "Nurse.Ada" and row[1].startswith("new page (offline edit by Nurse.Ada on school, ")
    up, _ = loop.update()
    assert up.counts.revisions == 0, "the school's own edits must not come back to it"
    assert Loop.current(loop.hq) == Loop.current(loop.school)
    again, _ = loop.back()
    assert again.counts.revisions == 0 and again.counts.pages == 0


def test_edits_to_different_parts_of_one_page_merge_cleanly(tmp_path):
    loop = seeded(tmp_path)
    edit_page(loop.hq, "Clinic", edited(BASE, 1, "Line 2: closed on Sundays."), user="Online.Editor")
    edit_page(loop.school, "Clinic", edited(BASE, 10, "Line 11: the nurse visits on Tuesdays."), user="Nurse.Ada")
    loop.update()  # the online edit reaches the school before its return is made
    _made, res = loop.back()
    assert res.merged == ["Clinic"] and not res.conflicts
    text = Loop.current(loop.hq)["Clinic"]
    assert "closed on Sundays" in text and "visits on Tuesdays" in text
    up, applied = loop.update()
    assert any("merged" in n for n in applied.notices)
    assert Loop.current(loop.hq) == Loop.current(loop.school)


def test_same_line_is_a_conflict_kept_on_both_sides(tmp_path):
    loop = seeded(tmp_path)
    online = edited(BASE, 4, "Line 5: opens at 8.")
    offline = edited(BASE, 4, "Line 5: opens at 7.")
    edit_page(loop.hq, "Clinic", online, user="Online.Editor")
    edit_page(loop.school, "Clinic", offline, user="Nurse.Ada", summary="new hours")
    loop.update()
    made, res = loop.back()
    assert res.conflicts == ["Clinic"] and any("EDIT CONFLICT" in n for n in res.notices)
    hq = Loop.current(loop.hq)
    assert hq["Clinic"] == online, "the online text stays"
    assert text_sha1(offline) in Loop.all_texts(loop.hq), "the offline text is kept in the history"
    assert "Offline edit conflict" in hq["Talk:Clinic"] and "Nurse.Ada" in hq["Talk:Clinic"]
    _up, applied = loop.update()
    assert any("EDIT CONFLICT" in n for n in applied.notices), "the offline side is told"
    assert Loop.current(loop.hq) == Loop.current(loop.school)
    # Applying the same return bundle twice changes nothing.
    again = apply_bundle(loop.hq, made.path)
    assert again.already and Loop.current(loop.hq) == Loop.current(loop.school)


def test_page_moved_online_and_edited_offline(tmp_path):
    loop = seeded(tmp_path)
    move_page(loop.hq, "Water", "Drinking water")
    edit_page(loop.school, "Water", "Boil water for one minute.\nFilter it first.", user="Nurse.Ada")
    _res = loop.round()
    hq = Loop.current(loop.hq)
    assert "Water" not in hq and hq["Drinking water"].endswith("Filter it first.")
    assert Loop.current(loop.hq) == Loop.current(loop.school)


def test_page_moved_offline_and_edited_online(tmp_path):
    loop = seeded(tmp_path)
    move_page(loop.school, "Malaria", "Malaria (disease)")
    edit_page(loop.hq, "Malaria", "Malaria is spread by mosquitoes.\n\nTreatment: see the doctor.", user="Online.Editor")
    res = loop.round()
    assert ("Malaria", "Malaria (disease)") in res.moves
    hq = Loop.current(loop.hq)
    assert "Malaria" not in hq and hq["Malaria (disease)"].endswith("see the doctor.")
    assert Loop.current(loop.hq) == Loop.current(loop.school)


def test_page_deleted_online_and_edited_offline_is_kept(tmp_path):
    loop = seeded(tmp_path)
    delete_page(loop.hq, "Water")
    edit_page(loop.school, "Water", "Boil water. Really.", user="Nurse.Ada")
    _up, applied = loop.update()
    assert "Water" in Loop.current(loop.school) and any("kept" in n for n in applied.notices)
    _made, res = loop.back()
    assert Loop.current(loop.hq)["Water"] == "Boil water. Really." and any("restored" in n for n in res.notices)
    loop.update()
    assert Loop.current(loop.hq) == Loop.current(loop.school)


def test_page_deleted_offline_and_edited_online_is_kept(tmp_path):
    """The online edit reaches the school first: the page comes back there."""
    loop = seeded(tmp_path)
    delete_page(loop.school, "Water")
    delete_page(loop.school, "Malaria")
    edit_page(loop.hq, "Water", "Boil water for three minutes.", user="Online.Editor")
    _up, applied = loop.update()
    assert any("Water" in n and "restored" in n for n in applied.notices)
    _made, res = loop.back()
    assert res.deletions == ["Malaria"]
    loop.update()
    hq = Loop.current(loop.hq)
    assert "Malaria" not in hq and hq["Water"] == "Boil water for three minutes."
    assert Loop.current(loop.hq) == Loop.current(loop.school)


def test_new_page_created_on_both_sides_under_one_title(tmp_path):
    loop = seeded(tmp_path)
    edit_page(loop.hq, "Cholera", "Cholera: online text.", user="Online.Editor")
    edit_page(loop.school, "Cholera", "Cholera: offline text.", user="Nurse.Ada")
    loop.round()
    hq, school = Loop.current(loop.hq), Loop.current(loop.school)
    assert hq == school
    assert hq["Cholera"] == "Cholera: online text."
    assert "Cholera: offline text." in hq.values(), "the offline page is kept under another title"


def test_new_page_on_both_sides_when_the_return_arrives_first(tmp_path):
    loop = seeded(tmp_path)
    edit_page(loop.school, "Cholera", "Cholera: offline text.", user="Nurse.Ada")
    _made, res = loop.back()  # the school sends before hq's page reaches it
    assert Loop.current(loop.hq)["Cholera"] == "Cholera: offline text."
    edit_page(loop.hq, "Typhoid", "Typhoid: online.", user="Online.Editor")
    loop.update()
    assert Loop.current(loop.hq) == Loop.current(loop.school)


def test_offline_page_meets_an_online_page_of_the_same_title_at_hq(tmp_path):
    loop = seeded(tmp_path)
    edit_page(loop.school, "Cholera", "Cholera: offline text.", user="Nurse.Ada")
    edit_page(loop.hq, "Cholera", "Cholera: online text.", user="Online.Editor")
    _made, res = loop.back()  # hq's page has not reached the school: one page, conflict
    assert res.conflicts == ["Cholera"]
    assert Loop.current(loop.hq)["Cholera"] == "Cholera: online text."
    assert text_sha1("Cholera: offline text.") in Loop.all_texts(loop.hq)
    loop.update()
    assert Loop.current(loop.hq) == Loop.current(loop.school)


def test_round_trip_on_a_real_wiki_loses_no_text(tmp_path):
    """A real wiki's history (ldnont), edits on both sides, one round trip and one
    more update: the same current text everywhere, every text on the online wiki."""
    loop = Loop(str(tmp_path))
    store = loop.hq.store()
    import_dump(store, LDNONT[0])
    store.close()
    loop.update()
    titles = sorted(Loop.current(loop.hq))[:6]
    cur = Loop.current(loop.hq)
    for i, t in enumerate(titles):
        lines = cur[t].split("\n") + [""] * 4
        if i % 2 == 0:
            edit_page(loop.school, t, "\n".join(["Offline note."] + lines), user="Teacher")
        if i % 3 == 0:
            edit_page(loop.hq, t, "\n".join(lines + ["Online note."]), user="Online.Editor")
    loop.round()
    assert Loop.current(loop.hq) == Loop.current(loop.school)
    assert Loop.all_texts(loop.school) <= Loop.all_texts(loop.hq), "every text written offline is on the online wiki"


def test_cli_round_trip_with_return_out(cli_sides):
    tmp, hq, school = cli_sides
    page = tmp / "page.txt"
    page.write_text(BASE)
    run_cli("edit", "-C", hq, "Clinic", "--file", page, "--summary", "hours", "--user", "Admin")
    run_cli("make", "-C", hq, "--out", tmp / "u1.bundle")
    run_cli("apply", "-C", school, tmp / "u1.bundle")
    page.write_text(edited(BASE, 3, "Line 4: offline change."))
    r = run_cli("edit", "-C", school, "Clinic", "--file", page, "--summary", "fix", "--user", "Teacher")
    assert "Edited Clinic" in r.output
    r = run_cli("edit", "-C", school, "Clinic", "--file", page, "--user", "Teacher")
    assert "unchanged" in r.output
    page.write_text(edited(BASE, 9, "Line 10: online change."))
    run_cli("edit", "-C", hq, "Clinic", "--file", page, "--user", "Admin")
    run_cli("make", "-C", hq, "--out", tmp / "u2.bundle")
    r = run_cli("apply", "-C", school, tmp / "u2.bundle", "--return-out", tmp / "r1.bundle")
    assert "Return bundle" in r.output
    r = run_cli("apply", "-C", hq, tmp / "r1.bundle", "--json")
    info = json.loads(r.output)
    assert info["merged"] == ["Clinic"] and info["conflicts"] == []
    r = run_cli("apply", "-C", hq, tmp / "r1.bundle")
    assert "already applied" in r.output
    run_cli("make", "-C", hq, "--out", tmp / "u3.bundle")
    run_cli("apply", "-C", school, tmp / "u3.bundle")
    a, b = Loop.current(Side.open(str(hq))), Loop.current(Side.open(str(school)))
    assert a == b and "offline change" in a["Clinic"] and "online change" in a["Clinic"]
    run_cli("edit", "-C", school, "Clinic", code=2)  # no action given: a usage error, no traceback
    logo = os.path.join(os.path.dirname(__file__), "data", "files", "installer-logo.png")
    assert "a new file" in run_cli("upload", "-C", school, logo, "--user", "Teacher", "--comment", "logo").output
    assert "nothing changed" in run_cli("upload", "-C", school, logo, "--user", "Teacher").output
    run_cli("make", "-C", school, "--out", tmp / "r2.bundle")
    assert json.loads(run_cli("apply", "-C", hq, tmp / "r2.bundle", "--json").output)["files_added"] == 1


def test_deletion_offline_arriving_after_an_online_edit_is_not_carried_out(tmp_path):
    loop = seeded(tmp_path)
    delete_page(loop.school, "Water")
    edit_page(loop.hq, "Water", "Boil water for three minutes.", user="Online.Editor")
    _made, res = loop.back()  # the school's deletion reaches hq before hq's edit reaches the school
    assert not res.deletions and any("Water" in n and "kept" in n for n in res.notices)
    loop.update()
    assert Loop.current(loop.hq)["Water"] == "Boil water for three minutes."
    assert Loop.current(loop.hq) == Loop.current(loop.school)


def test_nothing_received_travels_back_even_across_a_reimport(tmp_path):
    """ldnont was re-imported between two dumps (ids renumbered, users renamed to
    imported>Name: the update carries metadata updates). The school's return after
    each update holds nothing: no revision, no update, no page."""
    loop = Loop(str(tmp_path))
    for dump in (LDNONT[0], LDNONT[9], LDNONT[-1]):
        store = loop.hq.store()
        import_dump(store, dump, delete_missing=True)
        store.close()
        loop.update()
        made, res = loop.back()
        assert (made.counts.pages, made.counts.revisions, made.counts.updates, made.counts.moves, made.counts.deletions) == (0, 0, 0, 0, 0)
    assert Loop.current(loop.hq) == Loop.current(loop.school)


def test_a_file_uploaded_offline_reaches_the_online_wiki_once(tmp_path):
    from bundler.edit import upload_file

    loop = seeded(tmp_path)
    png = os.path.join(os.path.dirname(__file__), "data", "files")
    sample = sorted(f for f in os.listdir(png) if f.endswith(".png"))[0]
    upload_file(loop.school, os.path.join(png, sample), name="Clinic map.png", user="Nurse.Ada", comment="map")
    made, res = loop.back()
    assert res.files_added == 1 and res.blobs_added == 1
    assert "File:Clinic map.png" in Loop.current(loop.hq), "the description page came too"
    store = loop.hq.store()
    versions = list(store.file_versions("Clinic_map.png"))
    store.close()
    with open(os.path.join(png, sample), "rb") as f:
        import hashlib

        assert [v.sha1 for v in versions] == [hashlib.sha1(f.read()).hexdigest()]
    up, _ = loop.update()
    assert not up.files, "the file does not travel back to where it came from"
    again, _ = loop.back()
    assert not again.files


def test_a_return_apply_killed_anywhere_then_run_again_lands_everything_once(tmp_path):
    """SIGKILL of the real command while it lands a return (many offline edits, merges,
    a conflict), at measured fractions of its run; a second run ends where an
    uninterrupted one does: the same current texts, no revision landed twice."""
    import shutil
    import signal
    import subprocess
    import sys
    import time

    loop = Loop(str(tmp_path / "w"))
    store = loop.hq.store()
    import_dump(store, LDNONT[-1])
    store.close()
    loop.update()
    loop.back()
    cur = Loop.current(loop.hq)
    titles = sorted(t for t in cur if ":" not in t)[:40]
    for i, t in enumerate(titles):
        lines = cur[t].split("\n") + ["", "", ""]
        edit_page(loop.school, t, "\n".join(["Offline first line."] + lines[1:]), user="Teacher")
        if i % 4 == 0:  # the same first line online: a conflict; else a different line: a merge
            edit_page(loop.hq, t, "\n".join((["Online first line."] if i % 8 == 0 else lines[:1]) + lines[1:] + ["Online."]), user="Editor")
    loop.update()
    ret = loop.make(loop.school, "return-killed.bundle").path
    pristine = str(tmp_path / "hq-pristine")
    shutil.copytree(loop.hq.path, pristine)
    env = {**os.environ, "WIKIBUNDLE_NO_PROGRESS": "1"}
    cmd = [sys.executable, "-m", "bundler", "apply", "-C"]

    def fresh(name: str) -> str:
        d = str(tmp_path / name)
        shutil.copytree(pristine, d)
        return d

    def outcome(d: str):
        side = Side.open(d)
        store = side.store()
        try:
            n = store.db.execute("SELECT count(*) FROM revision").fetchone()[0]
        finally:
            store.close()
        return Loop.current(side), n

    ref = fresh("ref")
    t0 = time.monotonic()
    subprocess.run(cmd + [ref, ret], env=env, check=True, capture_output=True)
    total = time.monotonic() - t0
    want = outcome(ref)
    killed = 0
    for i, f in enumerate((0.2, 0.4, 0.55, 0.7, 0.8, 0.9, 0.97)):
        d = fresh(f"k{i}")
        p = subprocess.Popen(cmd + [d, ret], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            p.wait(timeout=total * f)
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGKILL)
            p.wait()
            killed += 1
        r = subprocess.run(cmd + [d, ret], env=env, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert outcome(d) == want
    assert killed >= 3


def test_pages_made_on_a_new_store_are_in_their_canonical_namespaces(tmp_path):
    """A store made by ``bundle init`` names no namespaces yet: ``File:``, ``Template:``,
    ``Image:`` still put a page in MediaWiki's namespace (as every wiki reads them), so
    the page travels with the right ``ns`` and a file's page is known as one."""
    from bundler.edit import upload_file

    side = Side.create(str(tmp_path / "fresh"), label="fresh", wiki=str(tmp_path / "fresh" / "wiki.sqlite"))
    side.store(create=True).close()  # as bundle init does
    png = os.path.join(os.path.dirname(__file__), "data", "files")
    sample = sorted(f for f in os.listdir(png) if f.endswith(".png"))[0]
    upload_file(side, os.path.join(png, sample), name="Map.png", user="Nurse.Ada", comment="map")
    edit_page(side, "Template:Box", "{{{1}}}", user="Nurse.Ada")
    edit_page(side, "image talk:Map.png", "where is this?", user="Nurse.Ada")
    edit_page(side, "Notes: week 1", "plain", user="Nurse.Ada")
    store = side.store()
    got = {p.title: p.namespace for p in (h.page for h in store.pages())}
    store.close()
    assert got == {"File:Map.png": 6, "Template:Box": 10, "Image talk:Map.png": 7, "Notes: week 1": 0}
