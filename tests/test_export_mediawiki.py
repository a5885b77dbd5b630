"""`bundle export` is the way onto a MediaWiki the tool cannot reach over HTTP: its XML,
loaded by MediaWiki's own importDump.php into a real MediaWiki 1.39, gives the same
histories (read back through the Action API)."""

from __future__ import annotations

import pytest

from bundler.mediawiki import MediaWikiClient
from bundler.sources.dump import open_dump
from helpers import LDNONT, pair, run_cli  # noqa: F401


def key(namespace: int, title: str) -> tuple[int, str]:
    """Pages by namespace number and local title: the project namespace's name is
    the site's own (LdnOnt: here, the test wiki's name there), as MediaWiki imports it."""
    return (namespace, title.split(":", 1)[1] if namespace else title)


@pytest.mark.mediawiki
def test_exported_store_imports_into_real_mediawiki(pair, mediawiki, tmp_path):
    pair.carry(LDNONT[0], 1)
    pair.carry(LDNONT[-1], 2)  # across the re-import that renumbered every id
    xml = tmp_path / "school.xml"
    run_cli("export", "-C", pair.school.path, "--out", xml)
    client = MediaWikiClient(mediawiki.api_url, mediawiki.bot_user, mediawiki.bot_password)
    own = {rev.rev_id for _page, rev in client.iter_allrevisions()}  # the fresh wiki's Main Page
    mediawiki.run_maintenance("importDump.php", str(xml))

    got: dict[tuple[int, str], list[tuple]] = {}
    for page, rev in client.iter_allrevisions():
        if rev.rev_id in own:
            continue
        # importDump prefixes users this wiki does not have with "imported>" (and
        # keeps one prefix); the source dump has such users too, from its own re-import.
        user = (rev.user or "").removeprefix("imported>")
        got.setdefault(key(page.namespace, page.title), []).append((rev.sha1, rev.timestamp, user, rev.comment or ""))
    with open_dump(LDNONT[-1]) as d:
        want = {
            key(ph.page.namespace, ph.page.title): [
                (r.sha1, r.timestamp, (r.user or "").removeprefix("imported>"), r.comment or "") for r in ph.revisions
            ]
            for ph in d
        }
    assert set(got) == set(want)
    for title in want:
        assert sorted(got[title], key=lambda r: r[1]) == sorted(want[title], key=lambda r: r[1]), title
