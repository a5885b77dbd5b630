"""bundle serve through Starlette's test client: routes, rendering, the inbox, apply,
conflicts, the return trip, and what keeps the page safe (bundler/web/).

The world (tests/serve_world.py): a school with the London Ontario wiki, an edit
conflict kept at hq, and hq's update 2 on the stick.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import warnings

import pytest
from helpers import DATA, run_cli
from serve_world import OFFLINE_LINE, ONLINE_LINE, school_with_stick

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note about httpx versions
    from starlette.testclient import TestClient

from bundler.errors import UsageError
from bundler.web.app import create_app


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    return school_with_stick(str(tmp_path_factory.mktemp("world")))


@pytest.fixture
def world(pristine, tmp_path):
    """A copy of the pristine world for each test (sides are folders; paths inside are relative)."""
    shutil.copytree(pristine.tmp, tmp_path / "w")
    base = str(tmp_path / "w")
    from serve_world import World
    from bundler.state import Side

    return World(base, Side.open(os.path.join(base, "hq")), Side.open(os.path.join(base, "school")),
                 os.path.join(base, "stick"), os.path.join(base, "stick", "update-2.bundle"))


def client(world, **kw) -> TestClient:
    return TestClient(create_app(world.school.path, inbox=world.inbox, **kw))


def csrf(c: TestClient, url: str = "/sync") -> str:
    return re.search(r'name="csrf" (?:value|content)="([^"]+)"', c.get(url).text).group(1)


def wait(c: TestClient, location: str) -> dict:
    for _ in range(200):
        j = c.get(location + ".json").json()
        if j["state"] != "running":
            return j
        time.sleep(0.05)
    raise AssertionError("the job did not finish")


def apply_update(c: TestClient) -> str:
    return apply_update_named(c, "update-2.bundle")


def apply_update_named(c: TestClient, name: str) -> str:
    r = c.post("/sync/apply", data={"csrf": csrf(c), "name": name}, follow_redirects=False)
    assert r.status_code == 303
    job = wait(c, r.headers["location"])
    assert job["state"] == "done", job
    return c.get(r.headers["location"]).text


def test_the_stick_shows_what_the_bundle_brings_and_that_it_applies(world):
    c = client(world)
    assert 'id="stick-ready"' in c.get("/").text
    page = c.get("/sync").text
    assert "An update (bundle 2) from <b>hq</b>" in page and "building on bundle 1" in page
    assert "EDIT CONFLICT" in page  # the header's notices, as bundle inspect lists them
    assert "signed by a trusted peer, made for this side" in page and 'class="apply"' in page
    # The school's edit went back in return 2 (made in the same second): it is not waiting.
    waiting = page[page.index('id="waiting"'):]
    assert "None since the last return bundle" in waiting[:500]


def test_apply_with_progress_then_the_conflict_is_shown_and_resolved(world):
    c = client(world)
    result = apply_update(c)
    assert "Applied bundle 2" in result and "EDIT CONFLICT" in result and 'id="see-conflicts"' in result
    assert world.text(world.school, "Other Sites").startswith(ONLINE_LINE)  # the online text kept
    assert "applied here already" in c.get("/sync").text  # the same bundle again changes nothing
    listing = c.get("/conflicts").text
    kept = re.search(r'href="/conflicts/(\d+)"', listing).group(1)
    page = c.get(f"/conflicts/{kept}").text
    assert ONLINE_LINE in page and OFFLINE_LINE in page and "Special:PermanentLink/" in page
    assert 'class="diff"' in page and "diff_add" in page  # side by side, the changed line marked
    offline_rev = re.findall(r"/wiki/Special:PermanentLink/(\d+)", page)[1]
    assert OFFLINE_LINE in c.get(f"/wiki/Special:PermanentLink/{offline_rev}").text
    merged = world.text(world.school, "Other Sites").replace(ONLINE_LINE, ONLINE_LINE + " " + OFFLINE_LINE)
    r = c.post(f"/conflicts/{kept}", data={"csrf": csrf(c), "wpTextbox1": merged, "wpUser": "Teacher"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/wiki/Other_Sites"
    assert world.text(world.school, "Other Sites") == merged
    assert "the page was edited since" in c.get("/conflicts").text
    # The resolution is an edit made here: it is waiting for the return, and reaches hq in it.
    assert "Resolved the offline edit conflict" in c.get("/sync").text
    r = c.post("/sync/return", data={"csrf": csrf(c)}, follow_redirects=False)
    done = wait(c, r.headers["location"])
    assert done["state"] == "done", done
    written = re.search(r"Return bundle <b>([^<]+)</b>", c.get(r.headers["location"]).text).group(1)
    assert os.path.dirname(os.path.join(world.inbox, written)) == world.inbox
    res = world.hq_applies(os.path.join(world.inbox, written))
    assert res.revisions_added == 1 and not res.conflicts
    assert world.text(world.hq, "Other Sites") == merged
    # On the stick the return shows as written here, for hq; it does not apply here.
    assert "written here for hq" in c.get("/sync").text


def test_real_wikitext_renders_with_links_headings_templates_and_images(world):
    c = client(world)
    page = c.get("/wiki/Delmar_Restaurant").text  # a real page of the wiki, calling Template:Place
    assert '<span class="template"><strong>{{Place}}</strong>' in page or '<div class="template">' in page
    main = c.get("/wiki/Main_Page").text
    assert re.search(r"<h[1-6] id=", main) and 'class="wikilink"' in main and 'href="/wiki/' in main
    # An image from the store's files, uploaded through the page (the code of bundle upload).
    with open(os.path.join(DATA, "files", "headbg.jpg"), "rb") as f:
        jpeg = f.read()
    r = c.post("/wiki/Special:Upload", data={"csrf": csrf(c, "/wiki/Special:Upload"), "wpUser": "Teacher", "wpUploadDescription": "header"},
               files={"wpUploadFile": ("headbg.jpg", jpeg, "image/jpeg")}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/wiki/File:Headbg.jpg"
    got = c.get("/file/Headbg.jpg")
    assert got.content == jpeg and got.headers["content-type"] == "image/jpeg"
    text = ("== Map ==\n'''Bold''' and ''italic'' [[Main Page|home]].\n* a\n# b\n"
            "{| class=\"wikitable\"\n! Day !! Hours\n|-\n| Monday || 8-4\n|}\n[[File:Headbg.jpg|thumb|The header]]\n"
            "<script>alert(1)</script> [javascript:alert(2) click]")
    r = c.post("/index.php?title=Map&action=submit", data={"csrf": csrf(c), "wpTextbox1": text, "wpUser": "Teacher"}, follow_redirects=False)
    assert r.status_code == 303
    html = c.get("/wiki/Map").text
    for part in ('<h2 id="map">Map</h2>', "<strong>Bold</strong>", "<em>italic</em>", 'href="/wiki/Main_Page"',
                 "<ul>", "<ol>", "<th>", 'src="/file/Headbg.jpg"'):
        assert part in html, part
    assert "<script>alert" not in html and "javascript:" not in html


def test_search_history_diff_recent_changes_and_edit(world):
    c = client(world)
    hits = c.get("/wiki/Special:Search", params={"search": "Delmar"}).text
    assert 'href="/wiki/Delmar_Restaurant"' in hits and "<mark>" in hits
    assert "0 pages found" in c.get("/wiki/Special:Search", params={"search": 'NEAR( "x'}).text  # no FTS syntax errors
    assert c.get("/wiki/Special:Search", params={"search": "delmar Restaurant", "go": "1"}, follow_redirects=False).status_code == 303
    history = c.get("/index.php", params={"title": "Delmar Restaurant", "action": "history"}).text
    revs = re.findall(r"oldid=(\d+)", history)
    assert len(revs) == 15  # the page's 15 real revisions
    diff = c.get(f"/wiki/Special:Diff/{revs[1]}/{revs[0]}").text
    assert 'class="diff"' in diff and f"revision {revs[0]}" in diff
    assert "old revision" in c.get("/index.php", params={"title": "Delmar Restaurant", "oldid": revs[-1]}).text
    form = c.get("/index.php", params={"title": "Delmar Restaurant", "action": "edit"}).text
    assert "{{Place" in form  # the wikitext, escaped in the textarea
    r = c.post("/index.php?title=Delmar_Restaurant&action=submit",
               data={"csrf": csrf(c), "wpTextbox1": "A diner on Dundas Street.", "wpSummary": "short", "wpUser": "Teacher"},
               follow_redirects=False)
    assert r.status_code == 303 and world.text(world.school, "Delmar Restaurant") == "A diner on Dundas Street."
    recent = c.get("/wiki/Special:RecentChanges").text
    assert recent.index("Delmar Restaurant") < recent.index("Main Page") and "<i>(short)</i>" in recent
    assert c.get("/index.php", params={"title": "Delmar Restaurant", "action": "raw"}).text == "A diner on Dundas Street."
    # Without a name, the edit is refused with a message and a hint; nothing changes.
    r = c.post("/index.php?title=Delmar_Restaurant&action=submit", data={"csrf": csrf(c), "wpTextbox1": "x", "wpUser": ""})
    assert r.status_code == 400 and "say who you are" in r.text and "Fill in" in r.text
    assert world.text(world.school, "Delmar Restaurant") == "A diner on Dundas Street."


def test_posts_without_the_csrf_token_are_refused_and_change_nothing(world):
    c = client(world)
    before = world.text(world.school, "Main Page")
    for data in ({}, {"csrf": "0" * 64}):
        r = c.post("/index.php?title=Main_Page&action=submit", data={**data, "wpTextbox1": "defaced", "wpUser": "x"})
        assert r.status_code == 403 and "security token" in r.text
        assert c.post("/sync/apply", data={**data, "name": "update-2.bundle"}).status_code == 403
        assert c.post("/sync/return", data=data).status_code == 403
    # A token is bound to its session: another browser's token does not pass.
    other = client(world)
    assert c.post("/index.php?title=Main_Page&action=submit", data={"csrf": csrf(other), "wpTextbox1": "x", "wpUser": "x"}).status_code == 403
    assert world.text(world.school, "Main Page") == before
    assert "applies" in c.get("/sync").text  # not applied


def test_inbox_names_cannot_leave_the_inbox(world, tmp_path):
    c = client(world)
    token = csrf(c)
    outside = tmp_path / "outside.bundle"
    shutil.copy(world.update, outside)
    os.symlink(outside, os.path.join(world.inbox, "link.bundle"))
    for name in ("../school/state.sqlite", "/etc/passwd", "..", "", str(outside), "link.bundle", "update-2.bundle/../update-2.bundle"):
        r = c.post("/sync/apply", data={"csrf": token, "name": name})
        assert r.status_code == 403 and "not a file in the inbox" in r.text, name
    assert "applies" in c.get("/sync").text


def test_a_non_local_host_needs_the_password_to_write(world):
    with pytest.raises(UsageError):
        create_app(world.school.path, inbox=world.inbox, host="0.0.0.0")
    c = client(world, host="0.0.0.0", password="s3cret-pw")
    assert "Log in" in c.get("/").text and "Delmar" in c.get("/wiki/Delmar_Restaurant").text  # reading is open
    r = c.post("/index.php?title=Main_Page&action=submit", data={"csrf": csrf(c), "wpTextbox1": "x", "wpUser": "x"})
    assert r.status_code == 403 and "log in" in r.text
    assert c.post("/sync/apply", data={"csrf": csrf(c), "name": "update-2.bundle"}).status_code == 403
    assert c.post("/login", data={"csrf": csrf(c, "/login"), "password": "wrong"}).status_code == 403
    assert c.post("/login", data={"csrf": csrf(c, "/login"), "password": "s3cret-pw"}, follow_redirects=False).status_code == 303
    r = c.post("/index.php?title=Main_Page&action=submit", data={"csrf": csrf(c), "wpTextbox1": "logged in", "wpUser": "x"}, follow_redirects=False)
    assert r.status_code == 303 and world.text(world.school, "Main Page") == "logged in"
    for url in ("/", "/sync", "/login", "/conflicts", "/wiki/Main_Page", "/index.php?title=Main_Page&action=edit"):
        page = c.get(url)
        assert "s3cret-pw" not in page.text and "s3cret-pw" not in str(page.headers)
        assert not any(k.endswith(".secret") for k in os.listdir(world.school.path) if k in page.text)


def test_bad_input_is_one_message_with_a_hint_never_a_traceback(world):
    c = client(world)
    with open(world.update, "rb") as f:
        data = bytearray(f.read())
    data[len(data) // 2] ^= 0xFF
    with open(os.path.join(world.inbox, "damaged.bundle"), "wb") as f:
        f.write(data)
    with open(os.path.join(world.inbox, "cut.bundle"), "wb") as f:
        f.write(data[:100])
    page = c.get("/sync").text
    damaged = page[page.index("damaged.bundle"):]
    assert "✘" in damaged[:2000] and 'class="hint"' in damaged[:2000]
    r = c.post("/sync/apply", data={"csrf": csrf(c), "name": "damaged.bundle"}, follow_redirects=False)
    if r.status_code == 303:  # listed as refused, so applying it fails in the job, as bundle apply would
        job = wait(c, r.headers["location"])
        assert job["state"] == "failed" and job["message"] and job["hint"]
    else:
        assert r.status_code in (400, 409) and "hint:" in r.text
    for url in ("/wiki/Special:Diff/abc", "/wiki/Special:Diff/99999999", "/sync/job/nope", "/index.php?title=X&oldid=zz"):
        r = c.get(url)
        assert r.status_code in (400, 404) and "Traceback" not in r.text and 'id="error"' in r.text, url
    assert "applies" in c.get("/sync").text


def test_serve_refuses_what_is_not_a_side(tmp_path):
    r = run_cli("serve", "-C", tmp_path, code=3)
    assert "not a wikibundle side" in r.output


def test_a_side_on_a_mediawiki_links_to_that_wiki(tmp_path):
    from bundler.state import Side

    side = Side.create(str(tmp_path / "online"), "http://127.0.0.1:9/w/api.php", "online")  # never contacted here
    c = TestClient(create_app(side.path))
    assert 'href="http://127.0.0.1:9/w/index.php"' in c.get("/").text
    for url, where in (("/wiki/Malaria", "title=Malaria"), ("/index.php?title=Malaria&action=history", "action=history"),
                       ("/wiki/Special:Search?search=fever", "search=fever")):
        r = c.get(url, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("http://127.0.0.1:9/w/index.php?") and where in r.headers["location"]
    assert c.get("/sync").status_code == 200


def test_a_set_of_parts_is_checked_only_when_every_part_is_there(world):
    """Update 1 (the whole wiki, applied already) cut into parts on the stick."""
    from bundler.parts import split_bundle

    bundle = os.path.join(world.inbox, "update-1.bundle")
    shutil.copy(os.path.join(world.tmp, "update-1.bundle"), bundle)
    parts = split_bundle(bundle, 4096)
    assert len(parts) >= 3
    hidden = os.path.join(world.tmp, "part-2-left-at-home")
    os.rename(parts[1], hidden)
    c = client(world)
    page = c.get("/sync").text
    assert f"{len(parts) - 1} of {len(parts)} parts here; missing: 2" in page and "Copy the missing parts" in page
    r = c.post("/sync/apply", data={"csrf": csrf(c), "name": os.path.basename(parts[0])})
    assert r.status_code == 400 and "missing: 2" in r.text
    os.rename(hidden, parts[1])
    page = c.get("/sync").text
    assert f"({len(parts)} parts)" in page and "An update (bundle 1) from <b>hq</b>" in page
    assert "applied here already" in page
    result = apply_update_named(c, os.path.basename(parts[-1]))  # any part names the set
    assert "Bundle 1 was already applied here; nothing changed." in result
    assert not os.listdir(os.path.join(world.school.path, "incoming"))  # the put-together copy is gone


def test_a_conflict_is_found_whichever_of_the_two_edits_is_older(tmp_path):
    """The offline edit may be older than the online one (the two wikis' clocks, and
    when each person saved): the conflict edit's kept text still names the online one."""
    from bundler.landing import MERGE_USER
    from bundler.model import Page, PageId, RevId, Revision, text_sha1
    from bundler.store import WikiStore
    from bundler.web.wiki import conflicts

    store = WikiStore(str(tmp_path / "wiki.sqlite"), create=True)
    base, online_text, offline_text = "base\n", "the online text\n", "the offline text\n"
    revs = [  # (id, time, parent, text, user, comment): the offline edit (id 9001) is the oldest change
        (1, 100, None, base, "Someone", ""),
        (9001, 200, 1, offline_text, "Teacher", "offline"),
        (2, 300, 1, online_text, "Online.Editor", "online"),
        (3, 400, 9001, online_text, MERGE_USER, "Edit conflict: kept the online text of revision 2"),
    ]
    with store.transaction():
        store.put_page(Page(PageId(7), 0, "Shared page"))
        for rid, ts, parent, text, user, comment in revs:
            store.put_revision(Revision(rev_id=RevId(rid), page_id=PageId(7), timestamp=ts, text=text, user=user,
                                        comment=comment, parent_id=RevId(parent) if parent else None, sha1=text_sha1(text)))
    [c] = conflicts(store)
    assert (c.kept, c.online, c.offline, c.user, c.open) == (3, 2, 9001, "Teacher", True)
    store.close()
