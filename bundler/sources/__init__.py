"""Where a bundle's pages come from: an XML dump, the side's MediaWiki (through the
API), or the side's embedded store. ``open_source`` opens the one asked for.

What make asks of the pages is ``PageSource``: which pages to read for a peer,
given what it holds (``for_basis``). A source that can tell what changed since a
basis (a MediaWiki, ``api.py``) reads only those; any other is ``EveryPage``:
every page is read, and a page the peer holds that is not among them is gone.

(The parts are imported where they are opened: the store and the dump reader
import this package's ``dump`` module.)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Protocol

if TYPE_CHECKING:
    from ..files import FileSource
    from ..mediawiki import MediaWikiClient
    from ..model import PageHistory, SiteInfo
    from ..state import PeerView, Side, State
    from ..state.mediawiki import MediaWikiIds
    from .api import ApiSource, IdMap
    from .dump_files import DumpFiles


class PageSource(Protocol):
    """The pages make reads, for one peer. After they are read, a source that can read
    only what changed says where it read up to (``mark``: the wiki's clock when it
    began, None for a source that has no such thing; the highest ids it saw; whether
    it compared the whole wiki with the peer's view): the next bundle reads from there."""

    mark: int | None
    top_rev_id: int | None
    top_page_id: int | None
    verified: bool

    def for_basis(self, state: State, view: PeerView, basis_seq: int) -> tuple[Iterable[PageHistory], set[str] | None]:
        """(the pages to read, titles deleted since the basis ``basis_seq``), given what the
        peer holds (``view``). Deleted titles None: every page is read, and a page the
        peer holds that is not among them is gone."""
        ...


class EveryPage:
    """A ``PageSource`` that reads every page of ``pages`` (a dump, the store, a list)."""

    mark = top_rev_id = top_page_id = None
    verified = False

    def __init__(self, pages: Iterable[PageHistory]) -> None:
        self.pages = pages

    def __iter__(self) -> Iterator[PageHistory]:
        return iter(self.pages)

    def for_basis(self, state: State, view: PeerView, basis_seq: int) -> tuple[Iterable[PageHistory], None]:
        return self.pages, None


@dataclass
class Source:
    """An opened source, as ``make_bundle`` takes it; ``close()`` when done."""

    pages: PageSource
    siteinfo: SiteInfo
    name: str  # what the header's ``source`` says
    close: Callable[[], None]
    files: FileSource | None = None
    dump_files: DumpFiles | None = None  # of a dump: its files (those that lacked their bytes)
    api: ApiSource | None = None  # of a MediaWiki: the source (its drift, after --verify)
    get_text: Callable[[int], str | None] | None = None  # of the store: a revision's text by its id


def open_source(side: Side, *, from_dump: str | None = None, files_dir: str | None = None,
                client: MediaWikiClient | None = None, to: str | None = None, since: str | None = None,
                verify: bool = False, verify_every: int | None = None) -> Source:
    """The dump ``from_dump`` (its files in ``files_dir`` if given), else the side's
    wiki: its MediaWiki through ``client`` (or a new one), or its embedded store.
    ``to``/``since`` name the peer (a MediaWiki that takes its updates knows their
    revisions under its own ids); ``verify``/``verify_every``: ``ApiSource``'s."""
    if from_dump:
        from .dump import open_dump

        reader = open_dump(from_dump, files_dir=files_dir)
        return Source(EveryPage(reader), reader.siteinfo, os.path.basename(from_dump), reader.close, reader.files,
                      dump_files=reader.files)
    if side.is_api:
        from ..state.mediawiki import MediaWikiIds
        from .api import VERIFY_EVERY, ApiSource
        from .api_files import ApiFiles

        client = client if client is not None else side.api_client()
        ids = MediaWikiIds(side.state)
        src = ApiSource(client, ids.own_revisions(), _id_map(side, ids, to, since), verify=verify,
                        verify_every=VERIFY_EVERY if verify_every is None else verify_every)
        files = ApiFiles(client, ids, src)  # downloads only what the peer lacks
        return Source(src, src.siteinfo, side.wiki, files.close, files, api=src)
    from ..files import StoreFiles

    store = side.store()
    return Source(EveryPage(store.pages()), store.siteinfo(), "store", store.close, StoreFiles(store), get_text=store.get_text)


def _id_map(side: Side, ids: MediaWikiIds, to: str | None, since: str | None) -> IdMap | None:
    """For a MediaWiki that takes updates from the peer: its ids, as the peer knows them."""
    from ..manifest import read_manifest
    from ..identity import local_id_range
    from .api import IdMap

    st = side.state
    peer = read_manifest(since, st.peer_by_key_id)[1].wiki_id if since else st.find_peer(to).wiki_id
    return IdMap(ids, peer, local_id_range(side.wiki_id)) if st.is_upstream(peer) else None


__all__ = ["EveryPage", "PageSource", "Source", "open_source"]
