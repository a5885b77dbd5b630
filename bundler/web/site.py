"""What every route of ``bundle serve`` shares: the ``Site`` (the side's folder, the
inbox, the guard, the jobs, the templates) and small helpers for titles, revision
numbers, diffs and a side whose wiki is a real MediaWiki."""

from __future__ import annotations

import difflib
import os
from urllib.parse import quote, unquote, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from ..errors import UsageError
from ..model import format_timestamp
from ..state import Side
from . import wiki
from .guard import Guard
from .jobs import Jobs

HERE = os.path.dirname(os.path.abspath(__file__))


class Site:
    """What every route needs: the side's folder, the inbox, the guard and the jobs."""

    def __init__(self, side_dir: str, inbox: str | None, guard: Guard):
        self.side_dir = side_dir
        self.inbox = inbox
        self.guard = guard
        self.jobs = Jobs()
        self.templates = Jinja2Templates(directory=os.path.join(HERE, "templates"))
        self.templates.env.filters["when"] = lambda t: format_timestamp(t).replace("T", " ").rstrip("Z") if t else ""
        self.templates.env.filters["wikiurl"] = wiki_url

    def side(self) -> Side:
        return Side.open(self.side_dir)

    def page(self, request: Request, template: str, status: int = 200, **context) -> Response:
        session = request.state.session
        side = context.pop("side", None) or self.side()
        context.update(
            csrf=self.guard.csrf_token(session),
            may_write=self.guard.may_write(session),
            side_label=side.label,
            is_api=side.is_api,
            wiki_home=side.wiki.rsplit("/", 1)[0] + "/index.php" if side.is_api else None,
            mainpage=main_page(side),
            conflicts_open=open_conflicts(side),
        )
        return self.templates.TemplateResponse(request, template, context, status_code=status)

    async def form(self, request: Request, *, write: bool = True) -> dict:
        """The POSTed form, after its CSRF token (and, off 127.0.0.1, the login) is checked."""
        form = await request.form()
        self.guard.check_csrf(request.state.session, form.get("csrf"))
        if write:
            self.guard.check_write(request.state.session)
        return form


def wiki_url(title: str) -> str:
    return "/wiki/" + quote(title.replace(" ", "_"), safe="/:")


def main_page(side: Side) -> str:
    if side.is_api:
        return "Main Page"
    with side.store() as store:
        base = store.siteinfo().base
    name = unquote(urlsplit(base).path.rsplit("/", 1)[-1]) if base else ""
    return name.replace("_", " ") or "Main Page"


def open_conflicts(side: Side) -> int:
    if side.is_api:
        return 0
    with side.store() as store:
        return sum(c.open for c in wiki.conflicts(store))


def title_of(raw: str) -> str:
    t = " ".join(unquote(raw).replace("_", " ").split())
    return t[:1].upper() + t[1:]


def site_side(request: Request) -> Side:
    return request.app.state.site.side()


def rev_number(s: str) -> int:
    try:
        return int(s)
    except ValueError:
        raise UsageError(f"{s!r} is not a revision number", hint="Revision numbers are whole numbers, as in the history.") from None


def elsewhere(side: Side, title: str, action: str | None = None) -> Response:
    """A side on a real MediaWiki: its own wiki shows the page."""
    index = side.wiki.rsplit("/", 1)[0] + "/index.php"
    url = f"{index}?title={quote(title.replace(' ', '_'))}" + (f"&action={action}" if action else "")
    return RedirectResponse(url, 303)


def diff_table(a: str, b: str, old, new) -> str:
    """Both texts side by side, changed lines marked (difflib's table, escaped by difflib)."""
    label = lambda r: f"revision {r.rev_id}" if r else "(nothing)"  # noqa: E731
    return difflib.HtmlDiff(wrapcolumn=60).make_table(
        (a or "").splitlines(), (b or "").splitlines(), label(old), label(new), context=True, numlines=3)
