"""An edit of a page's text keeps its other slots (MCR), as MediaWiki's edit does.

On the real Commons sample (a file page whose ``mediainfo`` slot holds the file's
structured data: tests/data/README.md), an offline edit of the description — by
``bundle edit`` on the embedded store, and as it lands on the online side from a return,
fast-forward or merged three ways with an online edit — makes a revision with the
page's ``mediainfo`` slot unchanged; the return bundle carries it, and the next update
brings the online side's revisions back with it, so neither side loses the structured data.
"""

from __future__ import annotations

import dataclasses

import pytest

from bundler.container import FRAME_RECORDS, SLOT_DELTA_CAPABILITY, BundleReader
from bundler.edit import edit_page
from bundler.importer import import_dump
from bundler.model import Deleted, Revision, Slot, edit_slots, text_sha1
from bundler.frame_reader import decode_frame
from bundler.state import Side
from helpers import cli_sides, embedded_to_wiki_sides, run_cli  # noqa: F401 (fixture)
from test_mediawiki_local import _embedded_to_local_sides
from test_return import Loop
from test_slots import COMMONS, MEDIAINFO_ROLE, dump_revisions

TITLE = "File:Goddess Bhadrakali Worshipped by the Gods- from a tantric Devi series - Google Art Project.jpg"


def newest_slots() -> tuple[Slot, ...]:
    """The dump's newest revision's slots: what every edit on top of it must keep."""
    slots = dump_revisions()[-1].slots
    assert [s.role for s in slots] == ["mediainfo"] and "zh-hant" in slots[0].text
    return slots


def history(side: Side, title: str) -> list[Revision]:
    store = side.store()
    try:
        return list(store.revision(r.rev_id) for r in store.revision_keys(store.page_by_title(title).page_id))
    finally:
        store.close()


def edited(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


def test_an_edit_keeps_the_slots_of_the_revision_it_follows():
    head = dump_revisions()[-1]
    assert edit_slots(head) == head.slots and edit_slots(None) == ()
    # A hidden text hides every slot (Deleted.TEXT): an edit does not show them again.
    assert edit_slots(dataclasses.replace(head, text=None, deleted=Deleted.TEXT)) == ()


def test_bundle_edit_on_the_store_keeps_the_mediainfo_slot(cli_sides):
    tmp, hq, _school = cli_sides
    run_cli("import", "-C", hq, COMMONS)
    before = history(Side.open(str(hq)), TITLE)
    text = edited(before[-1].text, "|location       = {{not on view}}", "|location       = {{on view}}")
    (tmp / "new.txt").write_text(text)
    run_cli("edit", "-C", hq, TITLE, "--file", tmp / "new.txt", "--summary", "on view", "--user", "Curator")
    after = history(Side.open(str(hq)), TITLE)
    assert after[:-1] == before and after[-1].text == text and after[-1].user == "Curator"
    assert after[-1].slots == before[-1].slots == newest_slots()


def return_revisions(path: str, side: Side) -> list[Revision]:
    """The revisions a return carries, decoded as the online side decodes them (slot deltas
    rebuilt on the slots it holds)."""
    store = side.store()
    try:
        with BundleReader(path) as r:
            r.verified = True  # (made just now by the test: only its frames are read)
            deltas = SLOT_DELTA_CAPABILITY in r.header.capabilities
            return [rev for i, fr in enumerate(r.frames()) if fr.type == FRAME_RECORDS
                    for rev in decode_frame(fr.meta, fr.body, fr.raw_len, store.get_text, what=f"frame {i}",
                                            compact=fr.compact, get_title=store.live_title, get_slots=store.get_slots,
                                            slot_deltas=deltas).revisions]
    finally:
        store.close()


@pytest.mark.parametrize("online_edit", [False, True], ids=["fast-forward", "merged"])
def test_a_return_landed_on_the_store_keeps_the_mediainfo_slot(tmp_path, online_edit):
    loop = Loop(str(tmp_path))
    store = loop.hq.store()
    try:
        import_dump(store, COMMONS)
    finally:
        store.close()
    loop.update()
    loop.back()  # an empty return: it tells hq what arrived
    base = history(loop.hq, TITLE)[-1].text
    if online_edit:  # a line the offline edit does not touch: a clean three-way merge
        edit_page(loop.hq, TITLE, edited(base, "|location       = {{not on view}}", "|location       = {{on view}}"),
                  user="Curator", summary="on view")
    offline = edited(base, "|medium         = {{technique|", "|medium         = {{technique|tempera|")
    edit_page(loop.school, TITLE, offline, user="Nurse.Ada", summary="medium")

    made, res = loop.back()
    # The return carries the offline revision with the page's structured data.
    (carried,) = return_revisions(made.path, loop.hq)
    assert carried.text == offline.rstrip() and carried.slots == newest_slots()
    assert res.merged == ([TITLE] if online_edit else []) and not res.conflicts
    landed = history(loop.hq, TITLE)
    assert "{{technique|tempera|" in landed[-1].text and ("{{on view}}" in landed[-1].text) == online_edit
    # Every revision hq made since the dump (the online edit, the offline one, the merge) keeps it.
    made_here = landed[len(dump_revisions()):]
    assert len(made_here) == (3 if online_edit else 1) and {r.slots for r in made_here} == {newest_slots()}

    loop.update()  # hq's revisions reach the school: both sides hold the same texts and slots
    here = history(loop.school, TITLE)
    assert here[-1].text == landed[-1].text and here[-1].slots == newest_slots()
    assert {(r.sha1, r.slots) for r in here} == {(r.sha1, r.slots) for r in landed}


# --- a MediaWiki online side --------------------------------------------------------------


def role_texts(slots: tuple[Slot, ...]) -> list[tuple[str, str | None]]:
    """Slots by role and text (a MediaWiki names the stand-in role's model ``json``)."""
    return [(s.role, s.text) for s in slots]


@pytest.mark.mediawiki
@pytest.mark.parametrize("sides", [embedded_to_wiki_sides, _embedded_to_local_sides], ids=["api", "scripts"])
def test_a_return_landed_on_a_mediawiki_keeps_the_mediainfo_slot(mediawiki_factory, tmp_path, monkeypatch, sides):
    """Written over its API (action=edit) or through its scripts (edit.php)."""
    wiki = mediawiki_factory("mcr", start=False)
    with open(wiki.conf, "a", encoding="utf-8") as f:
        f.write(MEDIAINFO_ROLE)  # as test_slots: the role Commons' WikibaseMediaInfo defines
    wiki.start()
    wiki.run_maintenance("importDump.php", COMMONS)
    # The embedded side is the offline one here: it takes updates from the wiki's side and returns to it.
    school, online, client = sides(wiki, tmp_path, monkeypatch)
    run_cli("make", "-C", online, "--out", tmp_path / "u1.bundle")
    run_cli("apply", "-C", school, tmp_path / "u1.bundle", "--return-out", tmp_path / "r1.bundle")
    run_cli("apply", "-C", online, tmp_path / "r1.bundle")
    held = history(Side.open(str(school)), TITLE)
    # The update from the wiki (its Action API) brought every revision's mediainfo slot.
    assert role_texts(held[-1].slots) == role_texts(newest_slots())
    assert [role_texts(r.slots) for r in held if r.text is not None] == \
        [role_texts(r.slots) for r in dump_revisions() if r.text is not None]
    base = held[-1].text
    offline = edited(base, "|medium         = {{technique|", "|medium         = {{technique|tempera|")
    (tmp_path / "new.txt").write_text(offline)
    run_cli("edit", "-C", school, TITLE, "--file", tmp_path / "new.txt", "--summary", "medium", "--user", "Nurse.Ada")
    run_cli("make", "-C", school, "--out", tmp_path / "r2.bundle")
    run_cli("apply", "-C", online, tmp_path / "r2.bundle")

    # The offline edit is the wiki's current revision (made by the sync account), and the wiki
    # kept the page's mediainfo slot on that edit by itself.
    ids = [r.rev_id for r in client.page_revisions(TITLE, content=False)]
    *_, before, landed = (r for _p, r in client.revisions_by_id(ids[-2:], all_slots=True))
    assert landed.text == offline.rstrip() and "Nurse.Ada" in landed.comment
    assert role_texts(landed.slots) == role_texts(before.slots) == role_texts(newest_slots())

    # The next update brings the landed edit back: the school's view of the page, slots and
    # all, is the wiki's.
    run_cli("make", "-C", online, "--out", tmp_path / "u2.bundle")
    run_cli("apply", "-C", school, tmp_path / "u2.bundle")
    held = history(Side.open(str(school)), TITLE)
    mine = next(r for r in held if r.user == "Nurse.Ada")  # the offline edit, as the school made it
    assert role_texts(mine.slots) == role_texts(landed.slots)
    wiki_revs = [r for _p, r in client.revisions_by_id(ids, all_slots=True)]
    assert {(r.sha1, r.timestamp): role_texts(r.slots) for r in held if r.user == landed.user} == \
        {(text_sha1(landed.text), landed.timestamp): role_texts(landed.slots)}
    assert {text_sha1(r.text or ""): role_texts(r.slots) for r in held if r.text is not None} == \
        {text_sha1(r.text or ""): role_texts(r.slots) for r in wiki_revs if r.text is not None}
