"""A school with a stick, for the tests of ``bundle serve`` (test_serve.py, test_browser.py).

hq holds the London Ontario wiki (a real dump, examples/ldnont/); the school got it in
update 1 and sent back an empty return. Then both sides edited the first line of
"Other Sites": the school's return reached hq, which kept its own text (a conflict), and
hq's update 2, which carries that conflict to the school, is on the stick (the inbox
folder), unapplied. ``hq_applies`` carries a bundle from the stick back to hq.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from helpers import LDNONT, new_pair, store_text

from bundler.apply import apply_bundle
from bundler.edit import edit_page
from bundler.files import StoreFiles
from bundler.importer import import_dump
from bundler.make import make_bundle
from bundler.sources import EveryPage
from bundler.state import Side

ONLINE_LINE = "Other sites about London, Ontario (online list)."
OFFLINE_LINE = "Other sites the students found useful."


@dataclass
class World:
    tmp: str
    hq: Side
    school: Side
    inbox: str
    update: str  # update 2 on the stick

    def hq_applies(self, path: str):
        return apply_bundle(Side.open(self.hq.path), path)

    def text(self, side: Side, title: str) -> str | None:
        return store_text(side.path, title)


def _make(side: Side, out: str):
    store = side.store()
    try:
        return make_bundle(side, out, EveryPage(store.pages()), siteinfo=store.siteinfo(), source_name="store", files=StoreFiles(store))
    finally:
        store.close()


def _first_line(text: str, line: str) -> str:
    return "\n".join([line] + text.split("\n")[1:])


def school_with_stick(tmp: str) -> World:
    pair = new_pair(tmp)
    hq, school = pair.hq, pair.school
    store = hq.store()
    try:
        import_dump(store, LDNONT[0])
    finally:
        store.close()
    apply_bundle(school, _make(hq, os.path.join(tmp, "update-1.bundle")).path)
    apply_bundle(hq, _make(school, os.path.join(tmp, "return-1.bundle")).path)  # tells hq what arrived
    world = World(tmp, hq, school, os.path.join(tmp, "stick"), "")
    other = world.text(hq, "Other Sites")
    edit_page(hq, "Other Sites", _first_line(other, ONLINE_LINE), user="Online.Editor", summary="shorter")
    edit_page(school, "Other Sites", _first_line(other, OFFLINE_LINE), user="Teacher", summary="for students")
    res = apply_bundle(hq, _make(school, os.path.join(tmp, "return-2.bundle")).path)
    assert res.conflicts == ["Other Sites"], res.notices
    os.makedirs(world.inbox)
    world.update = _make(hq, os.path.join(world.inbox, "update-2.bundle")).path
    return world
