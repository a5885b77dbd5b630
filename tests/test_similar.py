"""Cross-page bases (bundler/similar.py): which held texts a new page is coded against,
and a new page that arrives exact when coded against another page the receiver holds."""

from __future__ import annotations

import os

import pytest

from bundler.container import BundleReader
from bundler.model import parse_timestamp
from bundler.records import FrameReader
from bundler.similar import MIN_SIMILARITY, HeldTexts, similarity, sketch, split_language
from bundler.sources.dump import open_dump
from helpers import data, dump_history, pair, store_history  # noqa: F401

ESLAGUNANEGRA = data("eslagunanegra-pages-full.xml.xz")
# eslagunanegra's q=0.9 cut (benchmarks/sizes.py): some thirty welcome messages on new
# user talk pages come after it, like the ones the receiver already holds.
CUT = parse_timestamp("2015-04-13T18:41:09Z")


def _latest(path: str, *titles: str) -> dict[str, str]:
    """The newest text of each of these pages of a real dump."""
    with open_dump(path) as d:
        return {ph.page.title: list(ph.revisions)[-1].text for ph in d if ph.page.title in titles}


@pytest.fixture
def held():
    h = HeldTexts()
    yield h
    h.close()


# Two real welcome messages (user talk pages) and a real episode page of eslagunanegra.
WELCOME_A, WELCOME_B, EPISODE = "Usuario discusión:83.50.189.64", "Usuario discusión:84.124.148.122", "Un cadáver en la laguna"


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    return _latest(ESLAGUNANEGRA, WELCOME_A, WELCOME_B, EPISODE)


def test_split_language():
    assert split_language("Tutorial/fr") == ("Tutorial", "fr")
    assert split_language("Help:Tutorial/zh-hans") == ("Help:Tutorial", "zh-hans")
    assert split_language("Tutorial/Part 2/pt-br") == ("Tutorial/Part 2", "pt-br")
    assert split_language("Template:Infobox/doc") == ("Template:Infobox/doc", None)  # documentation, no language
    assert split_language("Tutorial") == ("Tutorial", None)
    assert split_language("AC/DC") == ("AC/DC", None)


def test_sketch_estimates_similarity(texts):
    a, b, ep = (sketch(texts[t]) for t in (WELCOME_A, WELCOME_B, EPISODE))
    assert len(a) == len(set(a)) == 16
    assert similarity(a, a) == 1.0
    assert similarity(a, b) >= MIN_SIMILARITY > similarity(a, ep)


def test_translation_siblings_found_by_title(held, texts):
    # The texts are the same real page in each slot: siblings are found by title, not by text.
    held.add(10, 0, "Tutorial", 110, texts[EPISODE])
    held.add(11, 0, "Tutorial/de", 111, texts[EPISODE] + " de")
    held.add(12, 0, "Tutorials", 112, texts[EPISODE] + " s")  # not a subpage of Tutorial
    held.add(13, 0, "Tutorial/doc", 113, texts[EPISODE] + " doc")  # a subpage, not a language
    held.add(14, 4, "Tutorial/it", 114, texts[EPISODE] + " ns")  # another namespace
    unrelated = "Ein ganz anderer Text über Katzen, Hunde und das Wetter in Hamburg. " * 4
    c = held.choose(99, 0, "Tutorial/fr", unrelated, base=False)
    assert c.base is None and [h.rev_id for h in c.context] == [110, 111]
    c = held.choose(98, 0, "Tutorial", unrelated, base=False)
    assert [h.rev_id for h in c.context] == [111]  # the base page's own translations


def test_near_duplicate_chosen_over_unrelated_page(held, texts):
    held.add(1, 0, EPISODE, 201, texts[EPISODE])
    held.add(2, 3, WELCOME_A, 202, texts[WELCOME_A])
    c = held.choose(50, 3, "Usuario discusión:1.2.3.4", texts[WELCOME_B])
    assert c.base is not None and c.base.rev_id == 202 and c.base.text == texts[WELCOME_A]
    assert c.context == ()  # the episode page is not like a welcome message
    # As context only (a changed page keeps its own base):
    c = held.choose(50, 3, "Usuario discusión:1.2.3.4", texts[WELCOME_B], base=False)
    assert c.base is None and [h.rev_id for h in c.context] == [202]


def test_only_held_texts_of_other_pages_are_chosen(held, texts):
    held.add(2, 3, WELCOME_A, 202, texts[WELCOME_A])
    # the page itself (a changed page) is never its own cross-page base
    assert held.choose(2, 3, WELCOME_A, texts[WELCOME_B]).base is None
    # a page the receiver does not hold is in no index: nothing is like it
    assert held.choose(3, 3, WELCOME_B, texts[EPISODE]) == (None, ())
    # a newer text of a held page replaces the older one: only what the receiver holds now
    held.add(2, 3, WELCOME_A, 203, texts[EPISODE])
    c = held.choose(4, 0, "Episodio", texts[EPISODE])
    assert c.base is not None and c.base.rev_id == 203
    assert held.choose(4, 3, WELCOME_B, texts[WELCOME_B]) == (None, ())


def _frame_rows(bundle: str, side) -> list[tuple[str | None, int, list, list]]:
    """(title or None, b, dict) of every revision row of a bundle, decoded with the
    receiver's store (before applying it)."""
    rows = []
    store = side.store()
    try:
        with BundleReader(bundle) as r:
            r.verify(side.state.peer_by_key_id)
            for i, fr in enumerate(r.frames()):
                reader = FrameReader(fr.meta, store.get_text, what=f"frame {i}")
                dict_revs = reader.frame_meta()
                base_texts = reader.base_texts(dict_revs)
                payload = reader.payload(fr.body, fr.raw_len, dict_revs, b"".join(t.encode() for t in base_texts))
                cols = payload["revs"]
                for pg, b in zip(cols["pg"], cols["b"]):
                    rows.append((payload["pages"][pg][2], b, dict_revs))
    finally:
        store.close()
    return rows


def test_new_pages_coded_against_pages_the_receiver_holds_arrive_exact(pair):
    pair.carry(ESLAGUNANEGRA, 1, until=CUT - 1)
    made = pair.make(ESLAGUNANEGRA, "b2.bundle", since=os.path.join(pair.tmp, "m1.wbm"))
    store = pair.school.store()
    try:
        new_titles = {t for t in dump_history(ESLAGUNANEGRA) if store.page_by_title(t) is None}
        rows = _frame_rows(made.path, pair.school)
        cross = [(t, d[b - 1]) for t, b, d in rows if t in new_titles and b >= 1]
        # Each is based on a revision of another page, which the receiver holds.
        assert len(cross) >= 10
        assert all(store.get_text(rid) is not None for _t, rid in cross)
        # ... and some held texts travel as context: named in the dictionary, base of no row
        used = {d[b - 1] for _t, b, d in rows if b >= 1}
        assert set(rows[0][2]) - used
    finally:
        store.close()
    pair.apply(made.path, "m2.wbm")
    assert store_history(pair.school) == dump_history(ESLAGUNANEGRA)


def test_switched_off_no_page_is_coded_against_another(pair, monkeypatch):
    monkeypatch.setenv("WIKIBUNDLE_CROSS_PAGE", "0")
    pair.carry(ESLAGUNANEGRA, 1, until=CUT - 1)
    made = pair.make(ESLAGUNANEGRA, "b2.bundle", since=os.path.join(pair.tmp, "m1.wbm"))
    store = pair.school.store()
    try:
        new_titles = {t for t in dump_history(ESLAGUNANEGRA) if store.page_by_title(t) is None}
    finally:
        store.close()
    assert not [t for t, b, _d in _frame_rows(made.path, pair.school) if t in new_titles and b >= 1]
