"""The sync pages of ``bundle serve``: this side and its peers, the inbox (the stick),
applying a bundle with progress, writing the return bundle, and the conflicts a
return left with the merge form that resolves one. Applying and the return call
what ``bundle apply`` calls (``jobs.py``)."""

from __future__ import annotations

from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from ..edit import edit_page
from ..errors import UsageError
from ..state import Side
from . import inbox as inbox_mod
from . import wiki
from .guard import inbox_file
from .jobs import return_name
from .site import Site, diff_table, elsewhere, rev_number, wiki_url


# --- sync ----------------------------------------------------------------------------------


def peer_rows(side: Side) -> list[dict]:
    st = side.state
    rows = []
    for p in st.peers():
        last_in = st.last_received(p.wiki_id)
        sent_seq = st.last_sent_seq(p.wiki_id)
        sent = st.sent(p.wiki_id, sent_seq) if sent_seq else None
        rows.append({"label": p.label, "wiki_id": p.wiki_id, "upstream": st.is_upstream(p.wiki_id),
                     "applied_seq": last_in.seq if last_in else 0, "applied_at": last_in.applied if last_in else None,
                     "sent_seq": sent_seq, "sent_at": sent.created if sent else None,
                     "confirmed": st.confirmed_seq(p.wiki_id)})
    return rows


def _upstream(side: Side) -> dict | None:
    return next((p for p in peer_rows(side) if p["upstream"]), None)


async def sync(request: Request) -> Response:
    site: Site = request.app.state.site
    side = site.side()
    peers = peer_rows(side)
    up = next((p for p in peers if p["upstream"]), None)
    waiting = []
    if up and not side.is_api:
        with side.store() as store:
            waiting = wiki.edits_waiting(store, side.state, side.wiki_id, up["wiki_id"], up["sent_at"] or 0)
    entries = inbox_mod.scan(side, site.inbox) if site.inbox else []
    return site.page(request, "sync.html", side=side, peers=peers, upstream=up, waiting=waiting,
                     entries=entries, inbox=site.inbox, wiki_id=side.wiki_id)


async def sync_apply(request: Request) -> Response:
    site: Site = request.app.state.site
    form = await site.form(request)
    name = form.get("name", "")
    inbox_file(site.inbox, name)  # the name is an inbox entry, or refused
    side = site.side()
    entry = inbox_mod.find(side, site.inbox, name)
    path = inbox_mod.whole(side, site.inbox, entry)
    if path is None:
        raise UsageError(entry.message, hint=entry.hint)
    job = site.jobs.apply(site.side_dir, path, entry.title, cleanup=entry.kind == "parts")
    return RedirectResponse(f"/sync/job/{job.id}", 303)


async def sync_return(request: Request) -> Response:
    site: Site = request.app.state.site
    await site.form(request)
    side = site.side()
    up = _upstream(side)
    if up is None:
        raise UsageError("this side has no upstream to write a return bundle for",
                         hint="A return goes back to the side this one applies updates from; apply an update first.")
    if site.inbox is None:
        raise UsageError("no inbox folder (the stick) was given", hint="Start bundle serve with --inbox FOLDER.")
    job = site.jobs.write_return(site.side_dir, return_name(site.inbox, side.label), up["wiki_id"], up["label"])
    return RedirectResponse(f"/sync/job/{job.id}", 303)


async def job_page(request: Request) -> Response:
    site: Site = request.app.state.site
    job = site.jobs.get(request.path_params["id"])
    if job is None:
        raise HTTPException(404, "no such job (the server was restarted?)")
    return site.page(request, "job.html", job=job, upstream=_upstream(site.side()))


async def job_json(request: Request) -> Response:
    job = request.app.state.site.jobs.get(request.path_params["id"])
    if job is None:
        raise HTTPException(404, "no such job")
    return JSONResponse(job.to_json())


# --- conflicts ---------------------------------------------------------------------------


async def conflicts(request: Request) -> Response:
    site: Site = request.app.state.site
    side = site.side()
    found = []
    if not side.is_api:
        with side.store() as store:
            found = wiki.conflicts(store)
    return site.page(request, "conflicts.html", side=side, conflicts=found)


async def conflict(request: Request) -> Response:
    site: Site = request.app.state.site
    side = site.side()
    if side.is_api:
        return elsewhere(side, "Special:RecentChanges")
    kept = rev_number(request.path_params["kept"])
    with side.store() as store:
        c = wiki.conflict(store, kept)
        if c is None:
            raise HTTPException(404, f"there is no conflict kept by revision {kept}")
        online, offline = store.revision(c.online), store.revision(c.offline)
        page = store.page_by_title(c.title)
        head = store.head(page.page_id) if page else None
    if request.method == "POST":
        form = await site.form(request)
        user = form.get("wpUser", "").strip()
        if not user:
            raise UsageError("say who you are (your name is kept in the history on both sides)", hint="Fill in 'Your name'.")
        with side.locked():
            edit_page(side, c.title, form.get("wpTextbox1", ""), user=user,
                      summary=f"Resolved the offline edit conflict (Special:Diff/{c.online}/{c.offline})")
        response = RedirectResponse(wiki_url(c.title), 303)
        response.set_cookie("wb_user", quote(user), samesite="strict", httponly=True)
        return response
    return site.page(request, "conflict.html", side=side, c=c, online=online, offline=offline, head=head,
                     table=diff_table(online.text or "", offline.text or "", online, offline),
                     user=request.cookies.get("wb_user", ""))
