"""MediaWikiClient: unit tests over httpx.MockTransport, integration tests against real MediaWiki 1.39."""

from __future__ import annotations

import hashlib
import json
import struct
import traceback
import zlib
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import httpx
import pytest
from mediawiki_harness import free_port

from bundler.errors import WikiError, WikiLoginError, WikiUnreachableError
from bundler.mediawiki import USER_AGENT, Fields, MediaWikiClient
from bundler.model import format_timestamp, parse_timestamp, sha1_to_base36, text_sha1

API = "http://wiki.test/w/api.php"


# -- helpers ----------------------------------------------------------------------


def png(rgb: tuple[int, int, int], width: int = 2, height: int = 2) -> bytes:
    """A valid PNG of one colour (MediaWiki checks the bytes against the extension)."""
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


class FakeWiki:
    """A scripted api.php: ``handler(request, params)`` returns a Response or raises."""

    def __init__(self, handler):
        self.handler = handler
        self.seen: list[tuple[str, dict]] = []
        self.sleeps: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = {k: v[0] for k, v in parse_qs(request.url.query.decode()).items()}
        if request.method == "POST" and request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            params.update({k: v[0] for k, v in parse_qs(request.content.decode()).items()})
        self.seen.append((request.method, params))
        return self.handler(request, params)

    def client(self, **kw) -> MediaWikiClient:
        http = httpx.Client(transport=httpx.MockTransport(self))
        return MediaWikiClient(API, client=http, sleep=self.sleeps.append, **kw)


def ok(data: dict, **headers) -> httpx.Response:
    # A stream, not content=: httpx pre-reads content= responses, so nothing would cross "the wire".
    body = json.dumps(data).encode()
    return httpx.Response(200, stream=httpx.ByteStream(body),
                          headers={"Content-Type": "application/json", **headers})


def api_error(code: str, info: str = "", **headers) -> httpx.Response:
    return ok({"error": {"code": code, "info": info}}, **{"MediaWiki-API-Error": code, **headers})


def logged_in_handler(on_action):
    """Login flow plus CSRF tokens; everything else goes to ``on_action(request, params)``."""

    def handler(request, params):
        if params.get("meta") == "tokens" and params.get("type") == "login":
            return ok({"query": {"tokens": {"logintoken": "LT+\\"}}})
        if params.get("action") == "login":
            return ok({"login": {"result": "Success", "lguserid": 1, "lgusername": "Admin"}})
        if params.get("meta") == "tokens":
            return ok({"query": {"tokens": {"csrftoken": "CT+\\"}}})
        return on_action(request, params)

    return handler


# -- unit tests: transport, retries, errors ---------------------------------------------


def test_query_follows_continue_and_leaves_params_alone():
    batches = [
        ({}, {"continue": {"arvcontinue": "A", "continue": "-||"}, "query": {"n": 1}}),
        ({"arvcontinue": "A"}, {"continue": {"arvcontinue": "B", "continue": "-||"}, "query": {"n": 2}}),
        ({"arvcontinue": "B"}, {"batchcomplete": True, "query": {"n": 3}}),
    ]

    def handler(request, params):
        expect, answer = batches[len(wiki.seen) - 1]
        assert params.get("arvcontinue") == expect.get("arvcontinue")
        return ok(answer)

    wiki = FakeWiki(handler)
    client = wiki.client()
    params = {"list": "allrevisions", "arvlimit": 2}
    got = [b["query"]["n"] for b in client.query(params)]
    assert got == [1, 2, 3]
    assert params == {"list": "allrevisions", "arvlimit": 2}
    assert client.requests == 3
    assert client.bytes_received > 0
    method, first = wiki.seen[0]
    assert method == "GET"
    assert first["format"] == "json" and first["formatversion"] == "2" and first["maxlag"] == "5"


def test_headers_name_the_tool_and_accept_gzip():
    seen = []

    def handler(request, params):
        seen.append(request.headers)
        return ok({"query": {}})

    FakeWiki(handler).client()._call({"action": "query"})
    assert seen[0]["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith("wikibundle/")
    assert "gzip" in seen[0]["Accept-Encoding"]


def test_writes_go_in_the_post_body_with_token():
    def on_action(request, params):
        assert request.method == "POST"
        assert "title" not in request.url.params and "token" not in request.url.params
        return ok({"move": {"from": params["from"], "to": params["to"]}})

    wiki = FakeWiki(logged_in_handler(on_action))
    client = wiki.client(user="Admin@sync", password="s3cret-pass")
    assert client.move("A", "B", "why") == {"from": "A", "to": "B"}
    move = [p for _, p in wiki.seen if p.get("action") == "move"][0]
    assert move["token"] == "CT+\\" and move["assert"] == "user" and move["reason"] == "why"
    assert "noredirect" not in move and "movetalk" not in move  # False means absent


@pytest.mark.parametrize("status", [503, 429])
def test_overload_is_retried_with_exponential_backoff(status):
    def handler(request, params):
        if len(wiki.seen) <= 3:
            return httpx.Response(status)
        return ok({"query": {"fine": True}})

    wiki = FakeWiki(handler)
    client = wiki.client()
    assert client._call({"action": "query"})["query"] == {"fine": True}
    assert wiki.sleeps == [1.0, 2.0, 4.0]
    assert client.requests == 4


def test_retry_after_header_wins_over_backoff():
    def handler(request, params):
        if len(wiki.seen) == 1:
            return httpx.Response(429, headers={"Retry-After": "7"})
        return ok({"query": {}})

    wiki = FakeWiki(handler)
    wiki.client()._call({"action": "query"})
    assert wiki.sleeps == [7.0]


def test_retry_after_as_http_date_or_garbage():
    answers = iter([
        httpx.Response(503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),  # past: backoff, no spin
        httpx.Response(503, headers={"Retry-After": "soon-ish"}),  # unreadable: backoff
        None,
    ])

    def handler(request, params):
        return next(answers) or ok({"query": {}})

    wiki = FakeWiki(handler)
    wiki.client()._call({"action": "query"})
    assert wiki.sleeps == [1.0, 2.0]


def test_server_error_on_a_write_is_not_repeated():
    def on_action(request, params):
        return httpx.Response(502)

    wiki = FakeWiki(logged_in_handler(on_action))
    with pytest.raises(WikiError) as ei:
        wiki.client(user="Admin@sync", password="s3cret-pass").move("A", "B", "r")
    assert ei.value.code == "http-502" and "may or may not" in ei.value.hint
    assert [p.get("action") for _, p in wiki.seen].count("move") == 1 and wiki.sleeps == []


def test_retries_are_bounded():
    wiki = FakeWiki(lambda request, params: httpx.Response(503))
    client = wiki.client(retries=3)
    with pytest.raises(WikiUnreachableError) as ei:
        client._call({"action": "query"})
    assert client.requests == 4
    assert wiki.sleeps == [1.0, 2.0, 4.0]
    assert "503" in str(ei.value) and ei.value.hint


def test_backoff_is_capped():
    wiki = FakeWiki(lambda request, params: httpx.Response(502))
    with pytest.raises(WikiUnreachableError):
        wiki.client(retries=9)._call({"action": "query"})
    assert max(wiki.sleeps) == 60.0 and len(wiki.sleeps) == 9


def test_dropped_connection_is_retried_for_reads():
    def handler(request, params):
        if len(wiki.seen) <= 2:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
        return ok({"query": {"fine": True}})

    wiki = FakeWiki(handler)
    client = wiki.client()
    assert client._call({"action": "query"})["query"] == {"fine": True}
    assert wiki.sleeps == [1.0, 2.0]


def test_write_is_not_repeated_when_it_may_have_arrived():
    def on_action(request, params):
        if params.get("action") == "edit":
            raise httpx.ReadError("connection reset", request=request)
        return ok({})

    wiki = FakeWiki(logged_in_handler(on_action))
    client = wiki.client(user="Admin@sync", password="s3cret-pass")
    with pytest.raises(WikiUnreachableError) as ei:
        client.edit("A", "text", "summary")
    assert [p.get("action") for _, p in wiki.seen].count("edit") == 1
    assert "may or may not" in ei.value.hint


def test_write_is_repeated_when_it_never_left():
    def on_action(request, params):
        if params.get("action") == "delete" and sum(p.get("action") == "delete" for _, p in wiki.seen) == 1:
            raise httpx.ConnectError("connection refused", request=request)
        return ok({"delete": {"title": params["title"], "reason": params["reason"], "logid": 9}})

    wiki = FakeWiki(logged_in_handler(on_action))
    client = wiki.client(user="Admin@sync", password="s3cret-pass")
    assert client.delete("A", "r")["logid"] == 9
    assert wiki.sleeps == [1.0]


def test_maxlag_waits_retry_after_and_repeats():
    def handler(request, params):
        assert params["maxlag"] == "3"
        if len(wiki.seen) <= 2:
            return api_error("maxlag", "Waiting for db: 6 seconds lagged.", **{"Retry-After": "6"})
        return ok({"query": {"fine": True}})

    wiki = FakeWiki(handler)
    client = wiki.client(maxlag=3)
    assert client._call({"action": "query"})["query"] == {"fine": True}
    assert wiki.sleeps == [6.0, 6.0]


def test_maxlag_gives_up_after_retries():
    wiki = FakeWiki(lambda request, params: api_error("maxlag", "lagged"))
    with pytest.raises(WikiUnreachableError, match="lag"):
        wiki.client(retries=2)._call({"action": "query"})
    assert wiki.sleeps == [5.0, 5.0]


def test_api_error_becomes_wiki_error_with_code_and_hint():
    def on_action(request, params):
        return api_error("editconflict", "Edit conflict.")

    client = FakeWiki(logged_in_handler(on_action)).client(user="Admin@sync", password="s3cret-pass")
    with pytest.raises(WikiError) as ei:
        client.edit("A", "text", "summary", baserevid=3)
    assert ei.value.code == "editconflict"
    assert "Edit conflict." in str(ei.value) and ei.value.hint
    assert ei.value.exit_code == 50


def test_badtoken_fetches_a_new_token_once():
    tokens = iter(["old+\\", "new+\\"])

    def handler(request, params):
        if params.get("meta") == "tokens":
            return ok({"query": {"tokens": {"csrftoken": next(tokens)}}})
        if params["token"] == "old+\\":
            return api_error("badtoken", "Invalid CSRF token.")
        return ok({"delete": {"title": "A", "reason": "r", "logid": 1}})

    wiki = FakeWiki(handler)
    assert wiki.client().delete("A", "r")["logid"] == 1
    assert [p.get("token") for _, p in wiki.seen if p.get("action") == "delete"] == ["old+\\", "new+\\"]


def test_lost_session_logs_in_again():
    logins = []

    def on_action(request, params):
        assert params["assert"] == "user"  # never edit as an IP behind our back
        if len(logins) == 1:  # the wiki forgot the first session
            return api_error("assertuserfailed", "You are no longer logged in.")
        return ok({"query": {"fine": True}})

    login_flow = logged_in_handler(on_action)

    def handler(request, params):
        if params.get("action") == "login":
            logins.append(1)
        return login_flow(request, params)

    client = FakeWiki(handler).client(user="Admin@sync", password="s3cret-pass")
    assert client._call({"action": "query", "list": "x"})["query"] == {"fine": True}
    assert len(logins) == 2


def test_upload_waits_out_an_archive_clash():
    uploads = []

    def on_action(request, params):
        if params.get("meta") == "siteinfo":  # the wiki's maxuploadsize, asked once per client
            return ok({"query": {"general": {"maxuploadsize": 100 << 20}}})
        # Multipart bodies are not parsed by FakeWiki; the upload is the multipart request.
        assert request.headers["content-type"].startswith("multipart/form-data")
        body = request.read()
        assert b'filename="X.png"' in body and b"the bytes" in body and b"CT+\\" in body
        uploads.append(1)
        if len(uploads) < 3:
            return api_error("backend-fail-alreadyexists", "The file already exists.")
        return ok({"upload": {"result": "Success", "filename": "X.png"}})

    wiki = FakeWiki(logged_in_handler(on_action))
    client = wiki.client(user="Admin@sync", password="s3cret-pass")
    assert client.upload("X.png", b"the bytes", "c")["filename"] == "X.png"
    assert len(uploads) == 3 and wiki.sleeps == [1.0, 1.0]


def test_answer_that_is_not_the_api():
    wiki = FakeWiki(lambda request, params: httpx.Response(200, text="<html>hello</html>",
                                                            headers={"Content-Type": "text/html"}))
    with pytest.raises(WikiError) as ei:
        wiki.client().siteinfo()
    assert ei.value.code == "notapi" and "api.php" in ei.value.hint


def test_login_failure_never_shows_the_password():
    password = "hunter2-very-secret"

    def handler(request, params):
        if params.get("meta") == "tokens":
            return ok({"query": {"tokens": {"logintoken": "LT+\\"}}})
        # A wiki (or proxy) that echoes what it was sent must not leak it either.
        return ok({"login": {"result": "Failed", "reason": f"Incorrect password {params['lgpassword']}."}})

    client = FakeWiki(handler).client(user="Admin@sync", password=password)
    with pytest.raises(WikiLoginError) as ei:
        client.siteinfo()
    err = ei.value
    shown = "".join(traceback.format_exception(err)) + repr(err.args) + str(err.hint) + repr(client)
    assert password not in shown
    assert "Admin@sync" in str(err) and "Special:BotPasswords" in err.hint
    assert err.exit_code == 52


def test_download_repeats_until_the_first_byte():
    def handler(request, params):
        if len(wiki.seen) == 1:
            raise httpx.ConnectError("refused", request=request)
        if len(wiki.seen) == 2:
            return httpx.Response(503)
        return httpx.Response(200, stream=httpx.ByteStream(b"x" * 200_000))

    wiki = FakeWiki(handler)
    client = wiki.client()
    assert b"".join(client.download("/images/a/ab/X.png")) == b"x" * 200_000
    assert wiki.sleeps == [1.0, 2.0]
    assert client.requests == 3 and client.bytes_received == 200_000


def test_download_of_a_missing_file():
    wiki = FakeWiki(lambda request, params: httpx.Response(404, text="404 Not Found\n"))
    with pytest.raises(WikiError) as ei:
        list(wiki.client().download("http://wiki.test/images/nope.png"))
    assert ei.value.code == "http-404" and wiki.sleeps == []


# -- integration tests against real MediaWiki 1.39 -------------------------------------------


def bot(wiki, **kw) -> MediaWikiClient:
    return MediaWikiClient(wiki.api_url, wiki.bot_user, wiki.bot_password, **kw)


@pytest.mark.mediawiki
def test_login_and_siteinfo(mediawiki):
    with bot(mediawiki) as client:
        info = client.siteinfo()
        assert info.user == "Admin" and info.user_id == 1
        assert "sysop" in info.groups
        assert info.apihighlimits
        assert {"import", "upload", "move", "delete", "undelete", "deletedhistory"} <= info.rights
        assert info.version.startswith("MediaWiki 1.39")
        assert info.site.sitename == "wiki"
        assert (0, "first-letter", "") in info.site.namespaces
        assert (6, "first-letter", "File") in info.site.namespaces
        assert client.requests == 3  # login token, login, siteinfo
        assert mediawiki.bot_password not in repr(client)

    with MediaWikiClient(mediawiki.api_url) as anonymous:
        info = anonymous.siteinfo()
        assert info.user_id == 0 and not info.apihighlimits


@pytest.mark.mediawiki
def test_wrong_password(mediawiki):
    wrong = "Wrong-" + mediawiki.bot_password[:20]
    client = MediaWikiClient(mediawiki.api_url, mediawiki.bot_user, wrong)
    with pytest.raises(WikiLoginError) as ei:
        client.siteinfo()
    err = ei.value
    assert "Incorrect username or password" in str(err)
    assert mediawiki.api_url in str(err) and "Admin@sync" in str(err)
    assert "Special:BotPasswords" in err.hint
    shown = "".join(traceback.format_exception(err)) + repr(err.args) + err.hint + repr(client)
    assert wrong not in shown and mediawiki.bot_password not in shown


def test_unreachable_wiki():
    url = f"http://127.0.0.1:{free_port()}/api.php"  # nothing listens there
    sleeps: list[float] = []
    client = MediaWikiClient(url, "Admin@sync", "not-used-pass", retries=2, sleep=sleeps.append)
    with pytest.raises(WikiUnreachableError) as ei:
        client.siteinfo()
    assert f"cannot reach the wiki at {url}" in str(ei.value)
    assert "api.php" in ei.value.hint
    assert sleeps == [1.0, 2.0] and client.requests == 3
    assert "not-used-pass" not in "".join(traceback.format_exception(ei.value))


@pytest.mark.mediawiki
def test_changes_read_back(mediawiki):
    client = bot(mediawiki)
    first = client.edit("Sync Test", "line1\nline2", "create", createonly=True)
    assert first.new and not first.nochange
    second = client.edit("Sync Test", "line1\nline2\nline3 ü", "more", baserevid=first.rev_id, nocreate=True)
    again = client.edit("Sync Test", "line1\nline2\nline3 ü", "same text")
    assert again.nochange and again.rev_id == second.rev_id
    with pytest.raises(WikiError) as ei:
        client.edit("Sync Test", "x", "exists", createonly=True)
    assert ei.value.code == "articleexists"

    client.move("Sync Test", "Moved Page", "rename", noredirect=True)
    doomed = client.edit("Doomed", "bye", "create")
    deleted = client.delete("Doomed", "cleanup")
    with pytest.raises(WikiError) as ei:
        client.delete("Doomed", "again")
    assert ei.value.code == "missingtitle"

    red, green = png((255, 0, 0)), png((0, 255, 0))
    client.upload("Red dot.png", red, "first version", text="A red dot.")
    client.upload("Red dot.png", green, "second version")
    with pytest.raises(WikiError) as ei:
        client.upload("Red dot.png", green, "same bytes")
    assert ei.value.code == "fileexists-no-change"

    # Revisions: ours, in (timestamp, rev_id) order, with text and hex sha1.
    revs = list(client.iter_allrevisions())
    assert [r.rev_id for _, r in revs] == sorted(r.rev_id for _, r in revs)
    assert all(r.sha1 == text_sha1(r.text) for _, r in revs)
    moved = [r for p, r in revs if p.title == "Moved Page"]
    assert [r.comment for r in moved] == [
        "create", "more", "Admin moved page [[Sync Test]] to [[Moved Page]] without leaving a redirect: rename"
    ]
    assert moved[1].text == "line1\nline2\nline3 ü" and moved[1].parent_id == first.rev_id
    assert moved[2].sha1 == moved[1].sha1  # a move adds a null revision
    assert all(r.user == "Admin" and r.user_id == 1 for r in moved)
    assert not any(p.title == "Doomed" for p, _ in revs)  # deleted revisions are not listed
    assert [r.rev_id for r in client.page_revisions("Moved Page")] == [r.rev_id for r in moved]

    # Log events, merged over the types in (timestamp, log_id) order.
    events = list(client.iter_logevents())
    kinds = [(e.type, e.action, e.title) for e in events]
    assert kinds == [
        ("move", "move", "Sync Test"),
        ("delete", "delete", "Doomed"),
        ("upload", "upload", "File:Red dot.png"),
        ("upload", "overwrite", "File:Red dot.png"),
    ]
    assert events[0].params["target_title"] == "Moved Page" and events[0].page_id == first.page_id
    assert events[1].log_id == deleted["logid"] and events[1].comment == "cleanup"
    assert events[3].params["img_sha1"] == sha1_to_base36(hashlib.sha1(green).hexdigest())
    assert [e.type for e in client.iter_logevents(types=["delete"])] == ["delete"]

    # Files: both versions, newest first, bytes match their sha1.
    versions = client.imageinfo(["File:Red dot.png", "File:Red_dot.png", "File:Nope.png"])
    assert versions["File:Nope.png"] == []
    assert versions["File:Red dot.png"] == versions["File:Red_dot.png"]
    current, old = versions["File:Red dot.png"]
    assert (current.comment, old.comment) == ("second version", "first version")
    assert current.archive_name is None and old.archive_name.endswith("!Red_dot.png")
    assert current.mime == "image/png" and current.size == len(green)
    for version, data in ((current, green), (old, red)):
        got = b"".join(client.download(version.url))
        assert got == data and hashlib.sha1(got).hexdigest() == version.sha1

    # Latest revision of every page, for the fallback comparison.
    latest = {pl.page.title: pl for pl in client.iter_allpages_latest()}
    assert set(latest) == {"Main Page", "Moved Page", "File:Red dot.png"}
    assert latest["Moved Page"].rev_id == moved[-1].rev_id and latest["Moved Page"].sha1 == moved[-1].sha1
    assert latest["File:Red dot.png"].page.namespace == 6

    _typed_reads(client, first, moved, doomed, current, len(revs))

    restored = client.undelete("Doomed", "restore")
    assert restored["revisions"] == 1
    assert [r.text for r in client.page_revisions("Doomed")] == ["bye"]


def _typed_reads(client, first, moved, doomed, current, edits) -> None:
    """The client's typed reads on the wiki test_changes_read_back made (Doomed deleted)."""
    # Revisions by id: one shape, at three depths; a deleted one only when asked, from the archive.
    ids = [r.rev_id for r in moved] + [doomed.rev_id]
    full = list(client.revisions_by_id(ids))
    assert [(p.title, r.rev_id, r.text) for p, r in full] == [("Moved Page", r.rev_id, r.text) for r in moved]
    bare = [r for _p, r in client.revisions_by_id(ids, Fields.IDS)]
    assert [(r.rev_id, r.parent_id, r.text, r.timestamp) for r in bare] == [(r.rev_id, r.parent_id, None, 0) for r in moved]
    sha1s = {r.rev_id: (r.timestamp, r.sha1) for _p, r in client.revisions_by_id(ids, Fields.SHA1)}
    assert sha1s == {r.rev_id: (r.timestamp, r.sha1) for r in moved}
    page, gone = list(client.revisions_by_id(ids, deleted=True))[-1]
    assert (page.page_id, page.title, gone.rev_id, gone.text) == (0, "Doomed", doomed.rev_id, "bye")
    assert client.has_deleted_revisions("Doomed") and not client.has_deleted_revisions("Moved Page")

    # A page's history between two moments, and current revisions by page id or title.
    span = list(client.page_revisions("Moved Page", content=False, start=moved[1].timestamp, end=moved[1].timestamp))
    assert moved[1].rev_id in [r.rev_id for r in span] and {r.timestamp for r in span} == {moved[1].timestamp}
    cur = list(client.current_revisions(page_ids=[first.page_id], titles=["Moved Page", "Nope"]))
    assert [(p.title, r.rev_id, r.sha1, r.text) for p, r in cur] == [("Moved Page", moved[-1].rev_id, moved[-1].sha1, None)] * 2
    ((_p, r),) = client.current_revisions(page_ids=[first.page_id], content=True)
    assert r.text == moved[-1].text

    # All revisions since a moment (by one user), answer by answer: the last says no more follow.
    batches = list(client.allrevisions_batches(moved[0].timestamp, user="Admin"))
    assert batches[-1][1] is False
    assert {r.rev_id for r in moved} <= {r.rev_id for listed, _more in batches for _p, r in listed}

    # Files by their bytes, every file name, the wiki's counters.
    found = client.file_by_sha1(current.sha1)
    assert (found.name, found.url, found.size) == ("Red_dot.png", current.url, current.size)
    assert client.file_by_sha1(hashlib.sha1(b"no such file").hexdigest()) is None
    assert list(client.file_names()) == ["Red_dot.png"]
    assert 0 < client.statistics()["edits"] and client.statistics()["pages"] >= 2 and edits > 0


def _xml_page(title: str, revisions: list[dict]) -> bytes:
    parts = [
        '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" version="0.11" xml:lang="en">',
        f"<page><title>{escape(title)}</title><ns>0</ns><id>4242</id>",
    ]
    for i, r in enumerate(revisions):
        text = r["text"]
        parts.append(
            f"<revision><id>{900 + i}</id>"
            + (f"<parentid>{899 + i}</parentid>" if i else "")
            + f"<timestamp>{format_timestamp(r['timestamp'])}</timestamp>"
            + f"<contributor><username>{escape(r['user'])}</username><id>{77 + i}</id></contributor>"
            + ("<minor/>" if r.get("minor") else "")
            + f"<comment>{escape(r['comment'])}</comment>"
            + "<model>wikitext</model><format>text/x-wiki</format>"
            + f'<text bytes="{len(text.encode())}" xml:space="preserve">{escape(text)}</text>'
            + f"<sha1>{sha1_to_base36(text_sha1(text))}</sha1></revision>"
        )
    parts.append("</page></mediawiki>")
    return "\n".join(parts).encode("utf-8")


@pytest.mark.mediawiki
def test_import_keeps_history(mediawiki_pair, tmp_path):
    revisions = [
        {"timestamp": parse_timestamp("2020-01-02T03:04:05Z"), "user": "Alice", "comment": "start", "text": "one"},
        {"timestamp": parse_timestamp("2020-01-02T03:04:06Z"), "user": "Bob", "comment": "fix <b>&",
         "text": "one\ntwo & <three>", "minor": True},
        {"timestamp": parse_timestamp("2021-06-07T08:09:10Z"), "user": "Admin", "comment": "ünïcode",
         "text": "one\ntwo & <three>\nvier ü"},
    ]
    xml = tmp_path / "history.xml"
    xml.write_bytes(_xml_page("Imported Page", revisions))

    # One httpx client for both wikis: their cookie prefixes keep the sessions apart (G7).
    with httpx.Client() as http:
        offline = bot(mediawiki_pair.offline, client=http)
        online = bot(mediawiki_pair.online, client=http)
        result = offline.import_xml(xml, "sync bundle 1", interwikiprefix="online")
        assert result == [{"ns": 0, "title": "Imported Page", "revisions": 3}]

        history = list(offline.page_revisions("Imported Page"))
        imported, null = history[:3], history[3]
        assert [r.timestamp for r in imported] == [r["timestamp"] for r in revisions]
        assert [r.user for r in imported] == ["online>Alice", "online>Bob", "Admin"]  # Admin is local
        assert [r.comment for r in imported] == [r["comment"] for r in revisions]
        assert [r.sha1 for r in imported] == [text_sha1(r["text"]) for r in revisions]
        assert [r.text for r in imported] == [r["text"] for r in revisions]
        assert [r.minor for r in imported] == [False, True, False]
        assert [r.parent_id for r in imported[1:]] == [r.rev_id for r in imported[:2]]
        assert imported[0].rev_id != 900  # ids are renumbered
        assert null.sha1 == imported[2].sha1 and "sync bundle 1" in null.comment and null.user == "Admin"

        # Importing the same XML again adds nothing (same page, timestamp and sha1).
        assert offline.import_xml(xml.read_bytes(), "sync bundle 1 again", "online")[0]["revisions"] == 0
        assert len(list(offline.page_revisions("Imported Page"))) == 4
        assert [e.action for e in offline.iter_logevents(types=["import"])] == ["upload"]

        # The other wiki of the pair is untouched, and still logged in on the shared client.
        assert list(online.page_revisions("Imported Page")) == []
        assert online.siteinfo().user == "Admin" and offline.siteinfo().user == "Admin"


@pytest.mark.mediawiki
def test_continuation_and_request_counter(mediawiki):
    client = bot(mediawiki)
    for i in range(6):
        client.edit(f"Page {i % 3}", f"text {i}", f"edit {i}")
    client.move("Page 0", "Page 0 moved", "m1")
    client.move("Page 1", "Page 1 moved", "m2")

    everything = list(client.iter_allrevisions())
    before = client.requests
    batches = list(client.query({"list": "allrevisions", "arvprop": "ids", "arvlimit": 2, "arvdir": "newer"}))
    assert client.requests - before == len(batches) >= 6
    assert sum(len(p["revisions"]) for b in batches for p in b["query"]["allrevisions"]) == len(everything)

    before, received = client.requests, client.bytes_received
    small = list(client.iter_allrevisions(limit=2))
    assert [(p, r.rev_id, r.sha1) for p, r in small] == [(p, r.rev_id, r.sha1) for p, r in everything]
    assert client.requests - before == len(batches) and client.bytes_received > received

    first, last = everything[1][1].timestamp, everything[-1][1].timestamp
    window = list(client.iter_allrevisions(start_ts=first, end_ts=last, limit=3))
    assert {r.rev_id for _, r in window} >= {r.rev_id for _, r in everything[1:]}  # bounds are inclusive
    assert list(client.iter_allrevisions(namespaces=[6])) == []
    assert all(r.user != "Admin" for _, r in client.iter_allrevisions(exclude_user="Admin"))

    moves = list(client.iter_logevents(types=["move"], limit=1))
    assert [e.params["target_title"] for e in moves] == ["Page 0 moved", "Page 1 moved"]
    latest = list(client.iter_allpages_latest(namespaces=[0]))
    assert {pl.page.title for pl in latest} >= {"Page 0 moved", "Page 1 moved", "Page 2", "Page 0", "Page 1"}
    assert {pl.page.title for pl in latest if pl.redirect} == {"Page 0", "Page 1"}


@pytest.mark.mediawiki
def test_rapid_overwrites_all_land(mediawiki):
    # MediaWiki names archived versions by the second; the client waits out the clash.
    client = bot(mediawiki)
    versions = [png((0, 0, 40 * i)) for i in range(4)]
    for i, data in enumerate(versions):
        client.upload("Blue.png", data, f"v{i}")
    stored = client.imageinfo(["File:Blue.png"])["File:Blue.png"]
    assert [v.comment for v in stored] == ["v3", "v2", "v1", "v0"]
    assert [v.sha1 for v in stored] == [hashlib.sha1(d).hexdigest() for d in reversed(versions)]


@pytest.mark.mediawiki
def test_harness_stop_ends_the_server(mediawiki_factory):
    wiki = mediawiki_factory("short-lived")
    assert json.loads(httpx.get(wiki.api_url, params={"action": "query", "format": "json"}).text) is not None
    wiki.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(wiki.api_url, timeout=2)
    assert wiki.run_maintenance("showSiteStats").returncode == 0  # the files stay usable
