"""Histories that fill more than one ``action=import`` request land on a real
MediaWiki 1.39 without a false revert (bundler/targets/mediawiki.py, ``_import``).

Every import request adds a null revision to each page it brings revisions to,
repeating the page's *current* text (docs/MEDIAWIKI_FINDINGS.md §action=import). A page split
oldest piece first got a null revision repeating an older text above the newer
revisions of the next piece — a revert that never happened — and then an edit
restoring the newest text. So a page travels whole in one request when its new
text fits one request, and when it does not, its newest piece goes first: every
null revision then repeats the newest text.

The request limit is made small here (``IMPORT_MAX_BYTES``) instead of sending
megabytes; the histories are real dumps (tests/data/README.md). The sender is an
embedded side; the receiver a real wiki, read back over its API.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx
import pytest

from bundler.mediawiki import session as mw_module
from bundler.mediawiki import MediaWikiClient
from bundler.model import text_sha1
from bundler.sources.dump import open_dump
from bundler.state import Side
from bundler.state.mediawiki import MediaWikiIds
from bundler.targets import mediawiki_import as target
from helpers import LDNONT, api_sides, data, embedded_to_wiki_sides, run_cli

pytestmark = pytest.mark.mediawiki


def own_revisions(school) -> set[int]:
    return set(MediaWikiIds(Side.open(str(school)).state).own_revisions())


def key(namespace: int, title: str) -> str:
    """A page's key across wikis: its namespace number and title without the
    namespace's name (the project namespace is named after each wiki)."""
    return f"{namespace}:{title.split(':', 1)[1]}" if namespace else title


def wiki_histories(client: MediaWikiClient) -> dict[str, list[tuple[int, int, str]]]:
    """key -> [(rev_id, timestamp, text sha1)] in the order the wiki's history shows them."""
    out: dict[str, list[tuple[int, int, str]]] = {}
    for page, rev in client.iter_allrevisions():
        out.setdefault(key(page.namespace, page.title), []).append((rev.rev_id, rev.timestamp, text_sha1(rev.text or "")))
    return out


def source_histories(dump: str) -> dict[str, list[tuple[int, str]]]:
    """key -> [(timestamp, text sha1)] of a dump's pages."""
    with open_dump(dump) as d:
        return {key(ph.page.namespace, ph.page.title): [(r.timestamp, text_sha1(r.text or "")) for r in ph.revisions] for ph in d}


def assert_no_false_history(client: MediaWikiClient, school, local: set[int], source: dict[str, list]) -> None:
    """Without the tool's own revisions (and the wiki's own, ``local``: its Main
    Page) each history is the source's; each own revision is a null revision (the
    text just below it again, so never a revert nor an edit restoring a text), and
    the current text is the newest (the source's, unless the wiki's own is newer)."""
    own = own_revisions(school)
    for title, revs in wiki_histories(client).items():
        assert [(ts, sha) for rid, ts, sha in revs if rid not in own | local] == source.get(title, []), title
        for below, (rid, _ts, sha) in zip(revs, revs[1:]):
            if rid in own:
                assert sha == below[2], f"{title}: revision {rid} of ours changes the text: " + " ".join(
                    f"{r}{'*' if r in own else ''}/{t}/{h[:6]}" for r, t, h in revs)
        newest = [sha for rid, _ts, sha in revs if rid not in own][-1]  # the source's, or the wiki's own Main Page
        assert revs[-1][2] == newest, f"{title}: the newest text is not current"


@dataclass
class Imports:
    """The ``action=import`` requests the wiki got. With ``cut_after=n`` the wiki
    is cut off once it has done the n-th (its answer lost, every later request
    refused), as when the process is killed or the line goes down mid-apply."""

    cut_after: int | None = None
    count: int = 0


class CountingTransport(httpx.HTTPTransport):
    def __init__(self, imports: Imports):
        super().__init__()
        self.imports = imports

    def handle_request(self, request):
        if self.imports.count == self.imports.cut_after:
            raise httpx.ConnectError("connection refused")
        response = super().handle_request(request)
        if b'name="action"\r\n\r\nimport\r\n' in request.read():
            self.imports.count += 1
            if self.imports.count == self.imports.cut_after:
                response.close()
                raise httpx.ReadError("connection reset by peer")
        return response


@pytest.fixture
def imports(monkeypatch):
    """Count (and perhaps cut off) the import requests of every API client the CLI
    opens: ``imports(cut_after=None)`` starts a new count and returns it."""
    real = Side.api_client
    current = [Imports()]

    def counted(side):
        client = real(side)
        client._http = httpx.Client(transport=CountingTransport(current[0]), timeout=client._http.timeout)
        return client

    def fresh(cut_after: int | None = None) -> Imports:
        current[0] = Imports(cut_after)
        return current[0]

    monkeypatch.setattr(Side, "api_client", counted)
    monkeypatch.setattr(mw_module, "BACKOFF_BASE", 0.01)
    return fresh


def apply(school, bundle, code: int = 0):
    return run_cli("apply", "-C", school, bundle, code=code)


def test_histories_larger_than_one_request_land_without_a_false_revert(mediawiki, tmp_path, monkeypatch, imports):
    # A small request limit, so that many ldnont pages (revisions of 1-4 KB) fill
    # more than one request alone, and others share requests with them.
    monkeypatch.setattr(target, "IMPORT_MAX_BYTES", 8_000)
    hq, school, wiki = embedded_to_wiki_sides(mediawiki, tmp_path, monkeypatch)
    local = {rid for revs in wiki_histories(wiki).values() for rid, _ts, _sha in revs}
    run_cli("make", "-C", hq, "--from", LDNONT[-1], "--out", tmp_path / "b1.bundle")
    counted = imports()
    apply(school, tmp_path / "b1.bundle")
    assert counted.count > 20
    assert_no_false_history(wiki, school, local, source_histories(LDNONT[-1]))


def test_a_page_larger_than_one_request_goes_newest_piece_first_and_a_rerun_finishes(mediawiki, tmp_path, monkeypatch, imports):
    # frwiki "Raymond Beaudet": 72 revisions of up to 20 KB, 659 KB in all; a
    # request holds 60 KB, so the page goes in about a dozen pieces. Beside it a
    # small page ("Hôtes de passage", 11 revisions).
    monkeypatch.setattr(target, "IMPORT_MAX_BYTES", 60_000)
    dump = data("frwiki-20220101-pages-articles.xml")
    hq, school, wiki = embedded_to_wiki_sides(mediawiki, tmp_path, monkeypatch)
    run_cli("make", "-C", hq, "--from", dump, "--out", tmp_path / "b1.bundle")
    source = source_histories(dump)["Raymond Beaudet"]
    local = {rid for revs in wiki_histories(wiki).values() for rid, _ts, _sha in revs}

    # The wiki is cut off after it has done the third import request.
    imports(cut_after=3)
    r = apply(school, tmp_path / "b1.bundle", code=51)
    assert "hint:" in r.output
    # What landed is the newest end of the history, under null revisions of the newest text.
    landed = wiki_histories(wiki)["Raymond Beaudet"]
    real = [(ts, sha) for _rid, ts, sha in landed if (ts, sha) in set(source)]
    assert 0 < len(real) < len(source) and real == source[-len(real):]
    assert {sha for _rid, ts, sha in landed if (ts, sha) not in set(source)} == {source[-1][1]}

    counted = imports()
    apply(school, tmp_path / "b1.bundle")
    assert counted.count >= 8
    assert_no_false_history(wiki, school, local, source_histories(dump))
    # and applied once more: already applied, nothing changes
    before = wiki_histories(wiki)
    apply(school, tmp_path / "b1.bundle")
    assert wiki_histories(wiki) == before


def test_two_big_new_revisions_of_a_held_page_after_other_pages_go_in_one_request(mediawiki_pair, tmp_path, monkeypatch, imports):
    # Real texts (frwiki "Raymond Beaudet", 14-20 KB each) edited onto a real online
    # wiki, on four pages the offline wiki holds: three get one new revision, then
    # "Big" two. The request limit lets Big's two revisions share a request with
    # each other, not with the three pages before them.
    with open_dump(data("frwiki-20220101-pages-articles.xml")) as d:
        texts = [r.text for ph in d for r in ph.revisions if ph.page.title == "Raymond Beaudet"][-6:]
    online, offline, hq, school = api_sides(mediawiki_pair, tmp_path, monkeypatch)
    others = ("Other 1", "Other 2", "Other 3")
    for title in others:
        online.edit(title, f"{title}\n", "create")
    online.edit("Big", texts[0], "create")
    run_cli("make", "-C", hq, "--out", tmp_path / "b1.bundle")
    local = {rid for revs in wiki_histories(offline).values() for rid, _ts, _sha in revs}
    run_cli("apply", "-C", school, tmp_path / "b1.bundle", "--manifest-out", tmp_path / "m1.wbm")
    time.sleep(1.05 - time.time() % 1)  # edits after the import's null revision (its second)
    for i, title in enumerate(others, 1):
        online.edit(title, texts[i], "edit")
    online.edit("Big", texts[4], "edit 1")
    online.edit("Big", texts[5], "edit 2")
    cost = [len(t.encode()) + 400 + 10 for t in texts]
    monkeypatch.setattr(target, "IMPORT_MAX_BYTES", sum(cost[1:4]) + cost[4] + cost[5] // 2)
    assert cost[4] + cost[5] < target.IMPORT_MAX_BYTES
    run_cli("make", "-C", hq, "--since", tmp_path / "m1.wbm", "--out", tmp_path / "b2.bundle")
    counted = imports()
    run_cli("apply", "-C", school, tmp_path / "b2.bundle")
    assert counted.count == 2
    source = {title: [(ts, sha) for _rid, ts, sha in revs] for title, revs in wiki_histories(online).items()}
    source.pop("Main Page")  # the same revision on both wikis (one template): the wiki's own
    assert_no_false_history(offline, school, local, source)
    assert len(source["Big"]) == 3
