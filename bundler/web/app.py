"""The routes of ``bundle serve`` (Starlette, Jinja2 templates, plain forms).

Here: the home page, the wiki at MediaWiki's URLs (``/wiki/Title``,
``/index.php?title=T&action=history|edit``, ``Special:Search``, ``Special:RecentChanges``,
``Special:Diff/A/B``, ``Special:Upload``), the login, the error pages and ``create_app``;
the sync page and the conflicts are in ``sync_pages.py``, what they share in ``site.py``. Each request opens the side anew: the state and the
store are SQLite files, and a connection stays in the thread that opened it.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from urllib.parse import quote, unquote

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..edit import edit_page, upload_file
from ..errors import BundleError, UsageError
from ..state import Side
from . import inbox as inbox_mod
from .guard import SESSION_COOKIE, Forbidden, Guard
from .render import render
from .search import SearchIndex
from .site import HERE, Site, diff_table, elsewhere, main_page, rev_number, site_side, title_of, wiki_url
from .sync_pages import conflict, conflicts, job_json, job_page, peer_rows, sync, sync_apply, sync_return


# --- the wiki ----------------------------------------------------------------------------


async def home(request: Request) -> Response:
    site: Site = request.app.state.site
    side = site.side()
    counts = None
    if not side.is_api:
        with side.store() as store:
            counts = store.counts()
    entries = inbox_mod.scan(side, site.inbox) if site.inbox else []
    return site.page(request, "home.html", side=side, counts=counts, entries=entries, inbox=site.inbox,
                     peers=peer_rows(side))


async def wiki_page(request: Request) -> Response:
    title = title_of(request.path_params["title"])
    special, _, rest = title.partition("/")
    if request.method == "POST" and special.lower() != "special:upload":
        raise HTTPException(405)
    if special.lower() in SPECIAL:
        return await SPECIAL[special.lower()](request, rest)
    return await _view(request, title, oldid=None)


async def index_php(request: Request) -> Response:
    """MediaWiki's ``index.php?title=T&action=...`` (and ``oldid=N``)."""
    q = request.query_params
    action = q.get("action", "view")
    title = title_of(q.get("title", ""))
    if request.method == "POST":
        if action == "submit":
            return await _save(request, title)
        raise HTTPException(405)
    if action == "history":
        return await _history(request, title)
    if action == "edit":
        return await _edit_form(request, title)
    if action == "raw":
        return await _raw(request, title)
    if q.get("diff"):
        return await _diff(request, f"{q.get('oldid', '')}/{q.get('diff')}")
    oldid = q.get("oldid")
    if not title and not oldid:
        return RedirectResponse(wiki_url(main_page(site_side(request))), 303)
    return await _view(request, title, oldid=rev_number(oldid) if oldid else None)


async def _view(request: Request, title: str, oldid: int | None) -> Response:
    site: Site = request.app.state.site
    side = site.side()
    if side.is_api:
        return elsewhere(side, title)
    with side.store() as store:
        if oldid is not None:
            rev = store.revision(oldid)
            if rev is None:
                raise HTTPException(404, f"there is no revision {oldid} in this wiki")
            title = store.live_title(rev.page_id) or title
            head = store.head(rev.page_id)
            old = head is not None and head.rev_id != rev.rev_id
        else:
            page = store.page_by_title(title)
            if page is None:
                return site.page(request, "missing.html", status=404, side=side, title=title)
            rev = store.head(page.page_id)
            old = False
    return site.page(request, "page.html", side=side, title=title, rev=rev, old=old,
                     html=render(rev.text or "") if rev else "")


def _current(side: Side, title: str):
    """The current revision of the page ``title`` (with text), or None."""
    with side.store() as store:
        page = store.page_by_title(title)
        return store.head(page.page_id) if page else None


async def _raw(request: Request, title: str) -> Response:
    head = _current(site_side(request), title)
    if head is None:
        raise HTTPException(404, f"there is no page {title!r} in this wiki")
    return Response(head.text or "", media_type="text/plain; charset=utf-8")


async def _history(request: Request, title: str) -> Response:
    site: Site = request.app.state.site
    side = site.side()
    if side.is_api:
        return elsewhere(side, title, "history")
    with side.store() as store:
        page = store.page_by_title(title)
        if page is None:
            return site.page(request, "missing.html", status=404, side=side, title=title)
        revs = list(reversed(store.revision_meta(page.page_id).values()))
    return site.page(request, "history.html", side=side, title=title, revs=revs)


async def _edit_form(request: Request, title: str, *, text: str | None = None, error: BundleError | None = None) -> Response:
    site: Site = request.app.state.site
    side = site.side()
    if side.is_api:
        return elsewhere(side, title, "edit")
    if text is None:
        head = _current(side, title)
        text = (head.text or "") if head else ""
    return site.page(request, "edit.html", side=side, title=title, text=text, error=error,
                     user=request.cookies.get("wb_user", ""), status=400 if error else 200)


async def _save(request: Request, title: str) -> Response:
    """The edit form's save: ``edit.edit_page``, as ``bundle edit`` calls it."""
    site: Site = request.app.state.site
    form = await site.form(request)
    text, user = form.get("wpTextbox1", ""), form.get("wpUser", "").strip()
    summary = form.get("wpSummary", "")
    try:
        if not user:
            raise UsageError("say who you are (your name is kept in the history on both sides)",
                             hint="Fill in 'Your name' and save again.")
        side = site.side()
        with side.locked():
            res = edit_page(side, title, text, user=user, summary=summary, minor=bool(form.get("wpMinoredit")))
    except BundleError as e:
        return await _edit_form(request, title, text=text, error=e)
    response = RedirectResponse(wiki_url(res.title), 303)
    response.set_cookie("wb_user", quote(user), samesite="strict", httponly=True)
    return response


async def _diff(request: Request, rest: str) -> Response:
    """``Special:Diff/A/B`` (or ``/B``: against its parent)."""
    site: Site = request.app.state.site
    side = site.side()
    bits = [b for b in rest.split("/") if b]
    if not bits or len(bits) > 2:
        raise UsageError("Special:Diff needs one or two revision numbers", hint="e.g. Special:Diff/4/5")
    with side.store() as store:
        new = store.revision(rev_number(bits[-1]))
        if new is None:
            raise HTTPException(404, f"there is no revision {bits[-1]} in this wiki")
        old_id = rev_number(bits[0]) if len(bits) == 2 else new.parent_id
        old = store.revision(old_id) if old_id is not None else None
        title = store.live_title(new.page_id) or ""
    return site.page(request, "diff.html", side=side, title=title, old=old, new=new,
                     table=diff_table(old.text if old else "", new.text or "", old, new))


async def _search(request: Request, _rest: str) -> Response:
    site: Site = request.app.state.site
    side = site.side()
    q = request.query_params.get("search", "").strip()
    if side.is_api:
        index = side.wiki.rsplit("/", 1)[0] + "/index.php"
        return RedirectResponse(f"{index}?title=Special:Search&search={quote(q)}", 303)
    hits = []
    if q:
        with side.store() as store:
            if request.query_params.get("go") and store.page_by_title(title_of(q)) is not None:
                return RedirectResponse(wiki_url(title_of(q)), 303)
            index = SearchIndex(store)
            try:
                hits = index.search(q)
            finally:
                index.close()
    return site.page(request, "search.html", side=side, q=q, hits=hits)


async def _recent(request: Request, _rest: str) -> Response:
    site: Site = request.app.state.site
    side = site.side()
    if side.is_api:
        return elsewhere(side, "Special:RecentChanges")
    with side.store() as store:
        changes = store.recent_changes(50)
    return site.page(request, "recent.html", side=side, changes=changes)


async def _permalink(request: Request, rest: str) -> Response:
    return await _view(request, "", oldid=rev_number(rest))


async def _upload(request: Request, _rest: str) -> Response:
    """Special:Upload: ``edit.upload_file``, as ``bundle upload`` calls it."""
    site: Site = request.app.state.site
    side = site.side()
    if side.is_api:
        return elsewhere(side, "Special:Upload")
    if request.method != "POST":
        return site.page(request, "upload.html", side=side, user=request.cookies.get("wb_user", ""), error=None)
    form = await site.form(request)
    upload = form.get("wpUploadFile")
    user = form.get("wpUser", "").strip()
    name = (form.get("wpDestFile") or "").strip() or (getattr(upload, "filename", "") or "")
    try:
        if not user:
            raise UsageError("say who you are (your name is kept on both sides)", hint="Fill in 'Your name' and upload again.")
        if upload is None or not hasattr(upload, "read"):
            raise UsageError("choose a file to upload", hint="Pick the file with the 'File' button.")
        with tempfile.TemporaryDirectory(prefix="wikibundle-upload-") as tmp:
            path = os.path.join(tmp, "upload")
            with open(path, "wb") as f:
                while chunk := await upload.read(1 << 20):
                    f.write(chunk)
            with side.locked():
                res = upload_file(side, path, name=os.path.basename(name), user=user, comment=form.get("wpUploadDescription", ""))
    except BundleError as e:
        return site.page(request, "upload.html", status=400, side=side, user=user, error=e)
    return RedirectResponse(wiki_url(f"File:{res.title}"), 303)


async def file_bytes(request: Request) -> Response:
    """An upload's current version, from the store (``/file/Name``)."""
    side = site_side(request)
    if side.is_api:
        raise HTTPException(404)
    name = unquote(request.path_params["name"]).replace(" ", "_")
    name = name[:1].upper() + name[1:]
    with side.store() as store:
        versions = list(store.file_versions(name))
    if not versions:
        raise HTTPException(404, f"there is no file {name!r} in this wiki")
    fv = versions[-1]

    def chunks():  # runs in a worker thread: its own connection, one chunk in memory at a time
        with side.store() as store:
            yield from store.blob_chunks(fv.sha1)

    return StreamingResponse(chunks(), media_type=fv.mime or "application/octet-stream",
                             headers={"Content-Length": str(fv.size), "X-Content-Type-Options": "nosniff",
                                      "Content-Security-Policy": "sandbox"})


SPECIAL = {
    "special:search": _search,
    "special:recentchanges": _recent,
    "special:diff": _diff,
    "special:permanentlink": _permalink,
    "special:upload": _upload,
}


# --- login (a non-local host) ---------------------------------------------------------------


async def login(request: Request) -> Response:
    site: Site = request.app.state.site
    if request.method == "POST":
        form = await site.form(request, write=False)
        if site.guard.login(request.state.session, form.get("password", "")):
            return RedirectResponse("/", 303)
        await asyncio.sleep(1)  # a slower guess, without holding up other requests
        return site.page(request, "login.html", status=403, failed=True)
    return site.page(request, "login.html", failed=False)


# --- errors and the session --------------------------------------------------------------------


async def bundle_error(request: Request, exc: BundleError) -> Response:
    return _error(request, 409 if exc.exit_code >= 20 else 400, exc.message, exc.hint)


async def forbidden(request: Request, exc: Forbidden) -> Response:
    return _error(request, 403, str(exc), "Nothing was changed.")


async def http_error(request: Request, exc: HTTPException) -> Response:
    return _error(request, exc.status_code, exc.detail or "not found", None)


async def server_error(request: Request, exc: Exception) -> Response:
    return _error(request, 500, f"internal error ({type(exc).__name__}); please report it", "Nothing half-done was kept.")


def _error(request: Request, status: int, message: str, hint: str | None) -> Response:
    site: Site = request.app.state.site
    if request.url.path.endswith(".json"):
        return JSONResponse({"error": message, "hint": hint}, status_code=status)
    try:
        return site.page(request, "error.html", status=status, message=message, hint=hint)
    except Exception:  # the side itself cannot be opened: a plain page
        from html import escape

        return Response(f"<!doctype html><title>error</title><p>error: {escape(message)}</p><p>{escape(hint or '')}</p>",
                        status_code=status, media_type="text/html")


class Session(BaseHTTPMiddleware):
    """A random session id per browser (``wb_session``): what the CSRF token and a login hang on."""

    async def dispatch(self, request: Request, call_next):
        sid = request.cookies.get(SESSION_COOKIE)
        fresh = not sid or len(sid) > 64
        if fresh:
            sid = Guard.new_session()
        request.state.session = sid
        response = await call_next(request)
        if fresh:
            response.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="strict")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response


def create_app(side_dir: str, *, inbox: str | None = None, host: str = "127.0.0.1", password: str | None = None) -> Starlette:
    """The page for the side in ``side_dir`` (checked here, so a wrong -C fails at start)."""
    Side.open(side_dir)
    if inbox is not None and not os.path.isdir(inbox):
        raise UsageError(f"--inbox {inbox} is not a folder", hint="Give the stick's folder, e.g. /media/usb.")
    guard = Guard(host, password)
    routes = [
        Route("/", home),
        Route("/wiki/{title:path}", wiki_page, methods=["GET", "POST"]),
        Route("/index.php", index_php, methods=["GET", "POST"]),
        Route("/file/{name:path}", file_bytes),
        Route("/sync", sync),
        Route("/sync/apply", sync_apply, methods=["POST"]),
        Route("/sync/return", sync_return, methods=["POST"]),
        Route("/sync/job/{id}.json", job_json),
        Route("/sync/job/{id}", job_page),
        Route("/conflicts", conflicts),
        Route("/conflicts/{kept}", conflict, methods=["GET", "POST"]),
        Route("/login", login, methods=["GET", "POST"]),
        Mount("/static", StaticFiles(directory=os.path.join(HERE, "static")), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(Session)],
        exception_handlers={BundleError: bundle_error, Forbidden: forbidden, HTTPException: http_error, Exception: server_error},
    )
    app.state.site = Site(side_dir, inbox, guard)
    return app
