"""Dumps as real archives have them, read as MediaWiki reads them.

Each shape of ``dump_shapes`` (pages split into blocks far apart, newest first, no sha1,
WikiTeam's element order, schema 0.3 without ids), made from two real dumps, is:

- loaded by MediaWiki's own ``importDump.php`` into a real MediaWiki 1.39 and read back
  over the API: the reference;
- carried to an embedded store in two bundles (hq makes from the dump cut at a time with
  ``until``, then from the whole dump; school applies both);
- loaded with ``bundle import`` into another embedded store.

Both stores must end as MediaWiki's reading: the same pages, and per page the same
revisions (sha1 of text, timestamp, user, comment) in the same order. Within one second
MediaWiki keeps revisions in the order it imported them (a newest-first dump reverses
them), so revisions of the same page and second are compared as a set.
"""

from __future__ import annotations

import pytest
from dump_shapes import SHAPES, Dump, Page
from helpers import LDNONT, cli_sides, data, new_pair, run_cli  # noqa: F401 (cli_sides: a fixture)

from bundler.importer import import_dump
from bundler.mediawiki import MediaWikiClient
from bundler.store import WikiStore


def _eslagunanegra_subset():
    """20 pages of 5–40 revisions and 10 of one, from the Wikia dump (0.6): 470 revisions,
    8 non-ASCII titles, 9 redirects, a user page."""
    counts = {"many": 0, "one": 0}

    def keep(page: Page) -> bool:
        n = len(page.revisions)
        if 5 <= n <= 40 and page.child("ns") in ("0", "2", "10", "14") and counts["many"] < 20:
            counts["many"] += 1
            return True
        if n == 1 and page.child("ns") == "0" and counts["one"] < 10:
            counts["one"] += 1
            return True
        return False

    return Dump.read(data("eslagunanegra-pages-full.xml.xz"), keep)


SOURCES = {
    "ldnont": lambda: Dump.read(LDNONT[-1]),  # 112 pages, 268 revisions, schema 0.11
    "eslagunanegra": _eslagunanegra_subset,
}


def _without_ns(dump: Dump) -> Dump:
    """For shapes without <ns>: MediaWiki then parses the title's prefix by its own
    namespace names (an English test wiki), the reader by the dump's siteinfo; they agree
    on the main namespace and on names both wikis share."""
    shared = {"0", "1", "2", "3", "10", "11", "14", "15"} if dump.siteinfo.findtext("sitename") == "LdnOnt" else {"0"}
    return Dump(dump.version, dump.siteinfo, [p for p in dump.pages if p.child("ns") in shared])


def _key(namespace: int, title: str) -> tuple[int, str]:
    # The project namespace is named after each site (LdnOnt: here, the test wiki's name there).
    return (namespace, title.split(":", 1)[1] if namespace else title)


def _reading(pages) -> dict[tuple[int, str], list[tuple]]:
    """(namespace, title) -> [(timestamp, the second's revisions as a sorted tuple)]."""
    out: dict[tuple[int, str], list[tuple]] = {}
    for page, rev in pages:
        seconds = out.setdefault(_key(page.namespace, page.title), [])
        # importDump prefixes users this wiki does not know ("imported>Name"); ldnont's own
        # re-import did so too. The prefix is not what is compared.
        item = (rev.sha1, (rev.user or "").removeprefix("imported>"), rev.comment or "")
        if seconds and seconds[-1][0] == rev.timestamp:
            seconds[-1] = (rev.timestamp, tuple(sorted(seconds[-1][1] + (item,))))
        else:
            seconds.append((rev.timestamp, (item,)))
    return out


def _store_reading(path: str) -> dict:
    store = WikiStore(path)
    try:
        return _reading((ph.page, r) for ph in store.pages() for r in ph.revisions)
    finally:
        store.close()


@pytest.fixture(scope="module")
def shaped(tmp_path_factory):
    """(source, shape) -> (path of the shaped dump, the cut for the first bundle, its pages)."""
    made: dict = {}
    root = tmp_path_factory.mktemp("shapes")

    def get(source: str, shape: str):
        if (source, shape) not in made:
            dump = SOURCES[source]()
            if shape == "schema-0.3-no-ids":
                dump = _without_ns(dump)
            path = str(root / f"{source}-{shape}.xml")
            SHAPES[shape](dump, path)
            made[source, shape] = (path, dump.median_time(), len(dump.pages))
        return made[source, shape]

    return get


@pytest.mark.mediawiki
@pytest.mark.parametrize("source", sorted(SOURCES))
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_shaped_dump_ends_as_mediawiki_reads_it(shape, source, shaped, mediawiki_factory, tmp_path):
    path, cut, pages = shaped(source, shape)

    wiki = mediawiki_factory("ref")
    client = MediaWikiClient(wiki.api_url, wiki.bot_user, wiki.bot_password)
    own = {rev.rev_id for _page, rev in client.iter_allrevisions()}  # the fresh wiki's Main Page
    wiki.run_maintenance("importDump.php", "--no-updates", path)
    want = _reading((p, r) for p, r in client.iter_allrevisions() if r.rev_id not in own)
    assert len(want) == pages

    pair = new_pair(str(tmp_path / "sides"))
    first, _ = pair.carry(path, 1, until=cut)
    second, _ = pair.carry(path, 2)
    assert first.counts.revisions > 0 and second.counts.revisions > 0  # both bundles carried a part
    assert _store_reading(pair.school.wiki_path) == want

    imported = str(tmp_path / "imported.sqlite")
    store = WikiStore(imported, create=True)
    try:
        import_dump(store, path)
    finally:
        store.close()
    assert _store_reading(imported) == want


def test_split_page_through_the_cli(shaped, tmp_path, cli_sides):
    """``bundle make --from`` a split dump and ``bundle apply``: one page per title (before,
    apply refused the bundle: "two pages would have the title ...", exit 36)."""
    path, _cut, pages = shaped("ldnont", "split-far")
    _tmp, hq, school = cli_sides
    run_cli("make", "-C", hq, "--from", path, "--to", "school", "--out", tmp_path / "b1.bundle")
    run_cli("apply", "-C", school, tmp_path / "b1.bundle")
    got = _store_reading(str(school / "wiki.sqlite"))
    run_cli("import", "-C", hq, path)
    assert got == _store_reading(str(hq / "wiki.sqlite"))
    assert len(got) == pages

