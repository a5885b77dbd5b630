"""The return trip between two real MediaWikis 1.39 (issue 4): the offline wiki's
edits travel back, pages changed on both sides are merged three ways, a conflict
keeps the online text current and the offline text in the history, and after one
more update both wikis show the same current text for every page."""

from __future__ import annotations

import json

import pytest

from bundler.mediawiki import MediaWikiClient
from bundler.model import text_sha1
from helpers import api_sides, run_cli

pytestmark = pytest.mark.mediawiki

BASE = "\n".join(f"Line {i}: the clinic opens at {i} o'clock." for i in range(1, 13))


def edited(text: str, line: int, new: str) -> str:
    lines = text.split("\n")
    lines[line] = new
    return "\n".join(lines)


def current(client: MediaWikiClient) -> dict[str, str]:
    """title -> sha1 of the current text, every page in the main and talk namespaces."""
    return {c.page.title: c.sha1 for ns in (0, 1) for c in client.iter_allpages_latest([ns])}


def all_texts(client: MediaWikiClient) -> set[str]:
    return {text_sha1(rev.text or "") for _page, rev in client.iter_allrevisions()}


class Loop:
    def __init__(self, pair, tmp_path, monkeypatch):
        self.tmp = tmp_path
        self.online, self.offline, self.hq, self.school = api_sides(pair, tmp_path, monkeypatch, "hq", "school")
        self.n = 0

    def update_and_return(self) -> tuple[dict, dict]:
        """hq makes an update; the school applies it and writes its return; hq applies that."""
        self.n += 1
        u, r = self.tmp / f"update-{self.n}.bundle", self.tmp / f"return-{self.n}.bundle"
        run_cli("make", "-C", self.hq, "--out", u)
        school = json.loads(run_cli("apply", "-C", self.school, u, "--return-out", r, "--json").output)
        hq = json.loads(run_cli("apply", "-C", self.hq, r, "--json").output)
        return school, hq


def test_offline_edits_reach_the_online_wiki_merged_or_kept_as_conflicts(mediawiki_pair, tmp_path, monkeypatch):
    loop = Loop(mediawiki_pair, tmp_path, monkeypatch)
    on, off = loop.online, loop.offline
    on.edit("Clinic", BASE, "hours")
    on.edit("Sandbox", BASE, "practice")
    on.edit("Water", "Boil water for one minute.", "water")
    on.edit("Malaria", "Malaria is spread by mosquitoes.", "malaria")
    loop.update_and_return()  # the first sync; the empty return tells hq what arrived

    # Edits on both sides.
    on.edit("Clinic", edited(BASE, 1, "Line 2: closed on Sundays."), "sundays")
    on.edit("Sandbox", edited(BASE, 4, "Line 5: opens at 8."), "online hours")
    on.move("Water", "Drinking water", "clearer", noredirect=True)
    on.delete("Malaria", "merged elsewhere")
    off.edit("Clinic", edited(BASE, 10, "Line 11: the nurse visits on Tuesdays."), "nurse")
    off.edit("Sandbox", edited(BASE, 4, "Line 5: opens at 7."), "offline hours")
    off.edit("Water", "Boil water for one minute.\nFilter it first.", "filter")
    off.edit("Vaccines", "Measles: 9 months.", "new page")
    off.edit("Malaria", "Malaria is spread by mosquitoes.\nSleep under a net.", "nets")  # deleted online meanwhile
    off.edit("Cholera", "Cholera: offline text.", "created offline")
    on.edit("Cholera", "Cholera: online text.", "created online")  # the same title on both sides

    school, hq = loop.update_and_return()
    # Cholera was created on both sides: one page, a conflict with an empty base.
    assert hq["merged"] == ["Clinic"] and sorted(hq["conflicts"]) == ["Cholera", "Sandbox"]
    assert any("Malaria" in n and "kept" in n for n in school["notices"]), "the offline edit keeps the page there"
    assert any("Malaria" in n and "restored" in n for n in hq["notices"])
    texts = {t: list(on.page_revisions(t))[-1].text for t in ("Clinic", "Sandbox", "Drinking water", "Vaccines")}
    assert "closed on Sundays" in texts["Clinic"] and "visits on Tuesdays" in texts["Clinic"]
    assert texts["Sandbox"] == edited(BASE, 4, "Line 5: opens at 8."), "the online text stays"
    assert texts["Drinking water"].endswith("Filter it first."), "an offline edit follows an online move"
    assert texts["Vaccines"] == "Measles: 9 months."
    assert list(on.page_revisions("Cholera"))[-1].text == "Cholera: online text.", "created on both sides: online text current"
    assert text_sha1("Cholera: offline text.") in all_texts(on), "and the offline text kept"
    assert list(on.page_revisions("Malaria"))[-1].text.endswith("Sleep under a net."), "deleted online, edited offline: kept"
    talk = list(on.page_revisions("Talk:Sandbox"))[-1].text
    assert "Offline edit conflict" in talk
    assert text_sha1(edited(BASE, 4, "Line 5: opens at 7.")) in all_texts(on), "the offline text is kept"
    # The offline author stays visible on the online wiki.
    summaries = [r.comment for r in on.page_revisions("Vaccines")]
    assert any("offline edit by" in (c or "") and "school" in (c or "") for c in summaries)

    # Applying the same return twice changes nothing.
    before = sorted(r.rev_id for _p, r in on.iter_allrevisions())
    again = json.loads(run_cli("apply", "-C", loop.hq, tmp_path / "return-2.bundle", "--json").output)
    assert again["already_applied"] and sorted(r.rev_id for _p, r in on.iter_allrevisions()) == before

    # One more update: both wikis show the same current text for every page, and the
    # offline side sees the conflict too.
    school, _hq = loop.update_and_return()
    assert any("EDIT CONFLICT" in n for n in school["notices"])
    assert current(on) == current(off)
    written_offline = {text_sha1(r.text or "") for p, r in off.iter_allrevisions() if p.title != "Main Page"}
    assert written_offline <= all_texts(on), "every text written offline is on the online wiki"
