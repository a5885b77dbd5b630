"""Cross-page bases (bundler/similar.py): which held texts a new page is coded against,
and a new page that arrives exact when coded against another page the receiver holds."""

from __future__ import annotations

import os

import pytest

from bundler.container import BundleReader
from bundler.model import parse_timestamp
from bundler.frame_reader import FrameReader
from bundler.similar import MIN_SIMILARITY, HeldTexts, similarity, sketch, split_language
from bundler.sources.dump import open_dump
from bundler.state import Side
from helpers import data, dump_history, embedded_to_wiki_sides, pair, run_cli, store_history  # noqa: F401

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
    assert len(a) == len(set(a)) == 16 and all(0 <= h < 1 << 32 for h in a)
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


def test_translation_siblings_most_alike_first(held, texts):
    held.add(10, 3, "Bienvenida", 110, texts[EPISODE])
    for pid, lang, t in ((11, "de", EPISODE), (12, "es", WELCOME_A), (13, "fr", EPISODE), (14, "it", EPISODE)):
        held.add(pid, 3, f"Bienvenida/{lang}", 100 + pid, texts[t] + " " + lang)
    c = held.choose(99, 3, "Bienvenida/ca", texts[WELCOME_B], base=False)
    # the base page, then the subpage most like the text, then by title (up to MAX_SIBLINGS)
    assert [h.rev_id for h in c.context] == [110, 112, 111]


def test_near_duplicate_chosen_over_unrelated_page(held, texts):
    held.add(1, 0, EPISODE, 201, texts[EPISODE])
    held.add(2, 3, WELCOME_A, 202, texts[WELCOME_A])
    # Another welcome message: like it, but rewritten enough to go as context (BASE_GAIN).
    c = held.choose(50, 3, "Usuario discusión:1.2.3.4", texts[WELCOME_B])
    assert c.base is None and [h.rev_id for h in c.context] == [202]  # the episode page is not like it
    # The same message to another address: a near-copy, the delta base.
    copy = texts[WELCOME_A].replace("83.50.189.64", "1.2.3.4")
    c = held.choose(50, 3, "Usuario discusión:1.2.3.4", copy)
    assert c.base is not None and c.base.rev_id == 202 and c.base.text == texts[WELCOME_A] and c.context == ()
    # As context only (a changed page keeps its own base):
    c = held.choose(50, 3, "Usuario discusión:1.2.3.4", copy, base=False)
    assert c.base is None and [h.rev_id for h in c.context] == [202]


def test_only_held_texts_of_other_pages_are_chosen(held, texts):
    held.add(2, 3, WELCOME_A, 202, texts[WELCOME_A])
    # the page itself (a changed page) is never its own cross-page base
    assert held.choose(2, 3, WELCOME_A, texts[WELCOME_B]) == (None, ())
    # a page the receiver does not hold is in no index: nothing is like it
    assert held.choose(3, 3, WELCOME_B, texts[EPISODE]) == (None, ())
    # a newer text of a held page replaces the older one: only what the receiver holds now
    held.add(2, 3, WELCOME_A, 203, texts[EPISODE])
    c = held.choose(4, 0, "Episodio", texts[EPISODE])
    assert c.base is not None and c.base.rev_id == 203
    assert held.choose(4, 3, WELCOME_B, texts[WELCOME_B]) == (None, ())


def _frame_rows(bundle: str, side, texts=None) -> list[tuple[str | None, int, list]]:
    """(title or None, b, dict) of every revision row of a bundle, verified by ``side`` and
    decoded with its store (before applying it), or with the store of ``texts``."""
    rows = []
    store = (texts or side).store()
    try:
        with BundleReader(bundle) as r:
            r.verify(side.state.peer_by_key_id)
            for i, fr in enumerate(r.frames()):
                reader = FrameReader(fr.meta, store.get_text, what=f"frame {i}", compact=fr.compact)
                dict_revs = reader.frame_meta()
                base_texts = reader.base_texts(dict_revs)
                payload = reader.payload(fr.body, fr.raw_len, dict_revs, reader.dictionary(dict_revs, base_texts))
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
        rows = _frame_rows(made.path, pair.school)
        # Held texts of other pages travel as context: named in the dictionary, the base
        # of no row (the welcome messages' kin) ...
        context = _context(rows)
        assert len(context) >= 5
        # ... which the receiver holds
        assert all(store.get_text(rid) is not None for rid in context)
    finally:
        store.close()
    pair.apply(made.path, "m2.wbm")
    assert store_history(pair.school) == dump_history(ESLAGUNANEGRA)


def _context(rows) -> set[int]:
    """Revisions named in a frame's dictionary that no row uses as its base (not the primer's parts)."""
    used = {d[b - 1] for _t, b, d in rows if b >= 1}
    return {rid for _t, _b, d in rows for rid in d if rid > 0} - used


def test_switched_off_no_page_is_coded_against_another(pair, monkeypatch):
    monkeypatch.setenv("WIKIBUNDLE_CROSS_PAGE", "0")
    pair.carry(ESLAGUNANEGRA, 1, until=CUT - 1)
    made = pair.make(ESLAGUNANEGRA, "b2.bundle", since=os.path.join(pair.tmp, "m1.wbm"))
    store = pair.school.store()
    try:
        new_titles = {t for t in dump_history(ESLAGUNANEGRA) if store.page_by_title(t) is None}
    finally:
        store.close()
    rows = _frame_rows(made.path, pair.school)
    assert not _context(rows)
    assert not [t for t, b, _d in rows if t in new_titles and b >= 1]


def test_store_new_page_coded_against_an_unchanged_page_it_reads_only_then(pair, texts):
    """From the store, unchanged pages are only noted (not read); a new page's edit
    makes make fetch their texts, and it is coded against one of them."""
    from bundler.edit import edit_page
    from bundler.importer import import_dump

    store = pair.hq.store(create=True)
    try:
        import_dump(store, ESLAGUNANEGRA)
    finally:
        store.close()
    pair.make(None, "b1.bundle")
    pair.apply(os.path.join(pair.tmp, "b1.bundle"), "m1.wbm")
    title = "Usuario discusión:10.0.0.1"
    text = texts[WELCOME_B].replace("84.124.148.122", "10.0.0.1").rstrip()
    edit_page(pair.hq, title, text, user="Admin", summary="bienvenida")
    made = pair.make(None, "b2.bundle", since=os.path.join(pair.tmp, "m1.wbm"))
    rows = _frame_rows(made.path, pair.school)
    assert [(t, b >= 1) for t, b, _d in rows] == [(title, True)]
    pair.apply(made.path, "m2.wbm")
    assert store_history(pair.school) == store_history(pair.hq)
    school = pair.school.store()
    try:
        assert school.head(school.page_by_title(title).page_id).text == text
    finally:
        school.close()


@pytest.mark.mediawiki
def test_mediawiki_receiver_rebuilds_a_page_coded_against_another(mediawiki, tmp_path, monkeypatch):
    """A real MediaWiki 1.39 as the receiver: the frame names a revision of another page
    (by the sender's id), which the target maps to its own and reads over the API."""
    hq, school, wiki = embedded_to_wiki_sides(mediawiki, tmp_path, monkeypatch)
    run_cli("import", "-C", hq, data("article-pear.xml"))
    run_cli("make", "-C", hq, "--out", tmp_path / "b1.bundle")
    run_cli("apply", "-C", school, tmp_path / "b1.bundle", "--manifest-out", tmp_path / "m1.wbm")
    pear = [r.text for r in wiki.page_revisions("Pear")][-1]
    text = "{{Traduction|en|Pear}}\n" + pear  # a translation begun from the English page
    (tmp_path / "fr.txt").write_text(text)
    run_cli("edit", "-C", hq, "Pear/fr", "--file", tmp_path / "fr.txt", "--summary", "traduction", "--user", "Vector")
    run_cli("make", "-C", hq, "--since", tmp_path / "m1.wbm", "--out", tmp_path / "b2.bundle")
    rows = _frame_rows(str(tmp_path / "b2.bundle"), Side.open(str(school)), texts=Side.open(str(hq)))
    assert [(t, b >= 1) for t, b, _d in rows] == [("Pear/fr", True)]
    run_cli("apply", "-C", school, tmp_path / "b2.bundle")
    # (the import's revision, and those applying makes itself: the same text)
    assert {r.text for r in wiki.page_revisions("Pear/fr")} == {text}


def test_which_revisions_seek_other_pages(texts):
    """A new page's first text is offered bases; a changed page only when its text grows
    far beyond its own base (then as context: its own base stays); a small edit never."""
    from bundler.history import history_of
    from bundler.model import Page, PageId, RevId, Revision
    from bundler.plan import Carried, PageChanges
    from bundler.similar import Choice, Held

    asked = []

    def choose(text, base):
        asked.append((len(text), base))
        return Choice(None, (Held(7, "context"),))

    ch = PageChanges(Page(PageId(1), 0, "P"), history_of([]), [], None, False, choose=choose)
    rev = lambda text: Revision(RevId(2), PageId(1), 0, text)  # noqa: E731
    long = texts[EPISODE] * 3
    assert ch._cross(Carried(rev(long), None, None, 1)).cross == Choice(None, (Held(7, "context"),))
    assert ch._cross(Carried(rev(long), 1, texts[WELCOME_A][:200], 1)).cross is not None  # grew 20-fold
    assert ch._cross(Carried(rev(long), 1, long[:-10], 1)).cross is None  # a small edit
    assert asked == [(len(long), True), (len(long), False)]


# Character pages of eslagunanegra: one subject (the series' cast), each in its own words.
CHARACTERS = ("Marcos", "Iván", "Julia", "Vicky", "Roque", "Paula")
NEW_CHARACTER = "Carolina"


@pytest.fixture(scope="module")
def cast() -> dict[str, str]:
    return _latest(ESLAGUNANEGRA, NEW_CHARACTER, *CHARACTERS, WELCOME_A, WELCOME_B)


def _hold_cast(held: HeldTexts, cast: dict[str, str]) -> dict[int, str]:
    """The receiver holds the welcome messages and the other characters; rev_id -> title."""
    by_rev = {}
    for i, title in enumerate((WELCOME_A, WELCOME_B, *CHARACTERS), 1):
        held.add(i, 3 if title.startswith("Usuario") else 0, title, 100 + i, cast[title])
        by_rev[100 + i] = title
    return by_rev


def test_related_texts_are_on_the_new_texts_subject(held, cast):
    by_rev = _hold_cast(held, cast)
    new = cast[NEW_CHARACTER]
    # cross-page bases take the few most alike (MAX_CHOSEN at most); the subject is the whole cast
    assert len(held.choose(99, 0, NEW_CHARACTER, new).context) < len(CHARACTERS)
    got = [by_rev[h.rev_id] for h in held.related([new], 1 << 20, lambda r: False)]
    # the characters, most related last (nearest the data); the welcome messages, if at all, before them
    assert set(got[-len(CHARACTERS):]) == set(CHARACTERS)
    # within the budget: only the most related that fits
    best = got[-1]
    one = held.related([new], len(cast[best].encode()), lambda r: False)
    assert [by_rev[h.rev_id] for h in one] == [best] and one[0].text == cast[best]
    # what the frame has already is skipped
    rest = held.related([new], 1 << 20, lambda r: by_rev[r] == best)
    assert best not in [by_rev[h.rev_id] for h in rest]
    assert held.related(["short"], 1 << 20, lambda r: False) == []


def test_a_frame_of_new_text_takes_related_held_texts_where_they_pay(held, cast, tmp_path):
    """Filler tries the frame again with held texts on its subject in the dictionary and
    keeps what is smaller; the receiver rebuilds the text exactly from its own copies."""
    from bundler.container import BundleWriter, compact_meta, expand_meta
    from bundler.fill import Filler
    from bundler.model import Page, PageId, RevId, Revision
    from bundler.frame_reader import decode_frame

    by_rev = _hold_cast(held, cast)
    sizes = {}
    for name, h in (("without", None), ("with", held)):
        filler = Filler(BundleWriter(str(tmp_path / f"{name}.bundle")), None, h)
        rev = Revision(RevId(500), PageId(50), 1_400_000_000, cast[NEW_CHARACTER], user="U", comment="nuevo")
        filler.fb.add_revision(Page(PageId(50), 0, NEW_CHARACTER), rev, None, None)
        meta, body, raw_len = filler._with_context(*filler.fb.build(compact=True))
        sizes[name] = len(body)
        meta = expand_meta(compact_meta(meta), "t")
        held_text = {r: cast[t] for r, t in by_rev.items()}
        content = decode_frame(meta, body, raw_len, held_text.get, what="t", compact=True)
        assert [r.text for r in content.revisions] == [cast[NEW_CHARACTER]]
        held_named = [r for r in meta["dict"] if r > 0]  # (entries ≤ 0 name primer parts)
        if h is not None:
            assert {by_rev[r] for r in held_named} >= set(CHARACTERS)
        else:
            assert held_named == []
    assert sizes["with"] < 0.9 * sizes["without"]
