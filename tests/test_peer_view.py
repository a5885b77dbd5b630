"""``PeerView``: what a peer holds at a chain of checkpoints, as an object (no mode set
on the state), and ``FreshIds``, the one rule every new id follows."""

from __future__ import annotations

import pytest

from bundler.errors import StateError
from bundler.identity import FRESH, FreshIds
from bundler.sources.dump import open_dump
from helpers import LDNONT, pair  # noqa: F401 (fixture)


def test_views_of_two_checkpoints_answer_each_for_its_own(pair):
    """Two views used in turn each answer for their own chain: the state has no
    current view that the newer one would switch."""
    pair.carry(LDNONT[0], 1)
    st, peer = pair.hq.state, pair.school.wiki_id
    with open_dump(LDNONT[0]) as reader:
        pages = [(ph.page.page_id, ph.page.title, len(list(ph.revisions))) for ph in reader]
    held, empty = st.peer_view(peer, st.chain(peer, 1)), st.peer_view(peer, [])
    for page_id, title, n in pages:
        assert empty.page(page_id) is None and empty.revs(page_id) == {}
        assert held.page(page_id).title == title and not held.page(page_id).deleted
        assert len(held.revs(page_id)) == n
    assert sorted(p.title for p in held.live_pages()) == sorted(t for _i, t, _n in pages)
    assert list(empty.live_pages()) == [] and empty.siteinfo() is None and held.siteinfo() is not None


def test_a_view_loaded_in_a_rolled_back_transaction_still_answers_for_itself(pair):
    """A rollback also undoes the loading of a view's chain: the view loads it again."""
    pair.carry(LDNONT[0], 1)
    st, peer = pair.hq.state, pair.school.wiki_id
    held = st.peer_view(peer, st.chain(peer, 1))
    n = len(list(held.live_pages()))
    with pytest.raises(RuntimeError), st.transaction():
        empty = st.peer_view(peer, [])
        assert list(empty.live_pages()) == []
        raise RuntimeError("make failed")
    assert list(empty.live_pages()) == []
    assert len(list(held.live_pages())) == n > 0


def test_fresh_ids_follow_the_highest_in_use_and_stop_at_the_end_of_their_range():
    assert FreshIds(FRESH, None, "x").take() == FRESH.start == (1 << 40) + 1  # "above 2^40" (BUNDLE.md)
    ids = FreshIds(range(10, 13), 10, "local pages")
    assert [ids.take(), ids.take()] == [11, 12]
    with pytest.raises(StateError, match="local pages: all 3 ids of its range are used up") as e:
        ids.take()
    assert e.value.hint and e.value.exit_code == 3


def test_ids_ever_given_to_the_peer_are_taken_whatever_the_view(pair):
    """Fresh ids for a peer continue above the highest it was ever given, in any
    checkpoint, and an id it holds for another page is taken."""
    pair.carry(LDNONT[0], 1)
    st, peer = pair.hq.state, pair.school.wiki_id
    view = st.peer_view(peer, [])  # (a full bundle: the view holds nothing)
    assert view.highest_page_id(FRESH) is None and view.highest_rev_id(FRESH) is None
    with st.transaction():
        st.record_held_page(peer, 1, FRESH.start + 41, 0, "Elsewhere", False)
    assert view.highest_page_id(FRESH) == FRESH.start + 41 and view.page(FRESH.start + 41) is None
    assert view.page_id_taken(FRESH.start + 41, [12345]) and not view.page_id_taken(FRESH.start + 42, [12345])
