"""Reading the elements of a MediaWiki XML dump: ``<siteinfo>``, a ``<revision>`` and an
``<upload>``, each turned into the model's values as MediaWiki's importer reads them.

``DumpReader`` (dump.py) drives the parser and hands each element here once it has
ended; nothing here keeps state between elements. Missing optional children take
MediaWiki's defaults (model ``wikitext``, format ``text/x-wiki``); a hidden
(``deleted="deleted"``) text, comment or contributor sets the revision's
``Deleted`` bits; a stub dump (texts stored elsewhere) is refused.
"""

from __future__ import annotations

from ..errors import DumpError
from ..model import (
    Deleted,
    PageId,
    RevId,
    Revision,
    SiteInfo,
    Slot,
    base36_to_sha1,
    parse_timestamp,
    text_sha1,
)
from ..identity import synthetic_id
from .dump_files import HINT_DUMP
from .dump_pages import title_key


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def child_text(elem, name: str) -> str | None:
    for c in elem:
        if local(c.tag) == name:
            return c.text if c.text is not None else ""
    return None


def parse_siteinfo(elem) -> tuple[SiteInfo, dict[str, int]]:
    """``<siteinfo>``: the site, and its namespaces' numbers by their names (the prefix of a title)."""
    ns_by_prefix: dict[str, int] = {}
    namespaces = []
    for c in elem:
        if local(c.tag) == "namespaces":
            for n in c:
                key = int(n.get("key", "0"))
                name = n.text or ""
                namespaces.append((key, n.get("case", ""), name))
                if name:
                    ns_by_prefix[name] = key
    site = SiteInfo(
        sitename=child_text(elem, "sitename") or "",
        dbname=child_text(elem, "dbname") or "",
        base=child_text(elem, "base") or "",
        generator=child_text(elem, "generator") or "",
        case=child_text(elem, "case") or "first-letter",
        namespaces=tuple(namespaces),
    )
    return site, ns_by_prefix


def parse_upload(elem) -> tuple[dict, str | None]:
    """``<upload>``: its children as they are (for ``DumpFiles.add``) and its base64 ``<contents>``."""
    f: dict = {}
    contents = None
    for c in elem:
        n = local(c.tag)
        if n == "contributor":
            for u in c:
                un = local(u.tag)
                if un in ("username", "ip"):
                    f[un] = u.text or ""
                elif un == "id":
                    try:
                        f["user_id"] = int(u.text or "")
                    except ValueError:
                        pass
        elif n == "contents":
            enc = c.get("encoding", "base64")
            if enc != "base64":
                raise DumpError(f"an <upload>'s <contents> is in encoding {enc!r}; this tool reads base64", hint=HINT_DUMP)
            contents = c.text or ""
        else:
            f[n] = c.text if c.text is not None else ""
    return f, contents


def parse_revision(elem, page_fields: dict) -> Revision:
    """``<revision>`` of the page whose fields (``title``, ``page_id``) are read so far."""
    f = _revision_fields(elem)
    title = page_fields["title"]
    what = f"revision {f['rev_id']}" if f["rev_id"] else f"a revision of {title!r}"
    ts = _revision_timestamp(f["timestamp"], what)
    deleted, text = f["deleted"], f["text"]
    if text is None and not deleted & Deleted.TEXT:
        text = ""  # no <text> at all, or an empty one
    # The dump's sha1 is of the text as stored; ours is recomputed from what we carry.
    # When the text is hidden we keep the dump's sha1 so the revision stays identifiable.
    sha1 = text_sha1(text) if text is not None else f["sha1"]
    rid = _revision_id(f["rev_id"], title, ts, sha1)
    try:
        pid = int(f["parent_id"]) if f["parent_id"] else None
    except ValueError:
        pid = None
    hidden_user = bool(deleted & Deleted.USER)
    return Revision(
        rev_id=RevId(rid),
        page_id=PageId(page_fields["page_id"]),
        timestamp=ts,
        text=text,
        user=None if hidden_user else f["user"],
        user_id=None if hidden_user else f["user_id"],
        comment=f["comment"],
        parent_id=RevId(pid) if pid else None,
        minor=f["minor"],
        deleted=deleted,
        model=f["model"],
        format=f["format"],
        slots=tuple(s for s in f["slots"] if s.role != "main"),
        sha1=sha1,
    )


_REVISION_TAGS = {"id": "rev_id", "parentid": "parent_id", "timestamp": "timestamp"}


def _revision_fields(elem) -> dict:
    """A ``<revision>``'s children as they are in the dump, not yet checked."""
    f: dict = {
        "rev_id": None, "parent_id": None, "timestamp": None, "user": None, "user_id": None, "comment": None,
        "text": None, "sha1": "", "minor": False, "deleted": Deleted(0), "model": "wikitext",
        "format": "text/x-wiki", "slots": [],
    }
    for c in elem:
        n = local(c.tag)
        if n in _REVISION_TAGS:
            f[_REVISION_TAGS[n]] = c.text
        elif n == "contributor":
            _read_contributor(c, f)
        elif n == "minor":
            f["minor"] = True
        elif n == "comment":
            if c.get("deleted") == "deleted":
                f["deleted"] |= Deleted.COMMENT
            else:
                f["comment"] = c.text or ""
        elif n in ("model", "format"):
            f[n] = c.text or f[n]
        elif n == "text":
            _read_text(c, f)
        elif n == "sha1":
            if c.text and c.text.strip():
                try:
                    f["sha1"] = base36_to_sha1(c.text.strip())
                except ValueError:
                    f["sha1"] = ""
        elif n == "content":
            f["slots"].append(_read_slot(c))
    return f


def _read_contributor(c, f: dict) -> None:
    """``<contributor>``: the user name or IP and the user id; hidden, it marks the revision."""
    if c.get("deleted") == "deleted":
        f["deleted"] |= Deleted.USER
    for u in c:
        un = local(u.tag)
        if un in ("username", "ip"):
            f["user"] = u.text or ""
        elif un == "id":
            try:
                f["user_id"] = int(u.text or "")
            except ValueError:
                f["user_id"] = None


def _read_text(c, f: dict) -> None:
    """``<text>``: the revision's text, hidden, or (a stub dump) stored elsewhere: refused."""
    if c.get("deleted") == "deleted":
        f["deleted"] |= Deleted.TEXT
    elif c.text is None and c.get("location"):
        raise DumpError(
            "this is a stub dump: revision texts are stored elsewhere",
            hint="Use a dump with text (pages-meta-history / dumpBackup.php --full).",
        )
    else:
        f["text"] = c.text or ""


def _read_slot(c) -> Slot:
    """A ``<content>`` block (schema 0.11): one slot; its text is None when hidden."""
    role = child_text(c, "role") or "main"
    ctext_el = next((x for x in c if local(x.tag) == "text"), None)
    ctext = None
    if ctext_el is not None and ctext_el.get("deleted") != "deleted":
        ctext = ctext_el.text or ""
    return Slot(role, child_text(c, "model") or "", child_text(c, "format") or "", ctext)


def _revision_timestamp(timestamp: str | None, what: str) -> int:
    if not timestamp:
        raise DumpError(f"{what} has no <timestamp>", hint=HINT_DUMP)
    try:
        return parse_timestamp(timestamp)
    except ValueError:
        raise DumpError(f"{what} has a malformed timestamp {timestamp!r}", hint=HINT_DUMP) from None


def _revision_id(rev_id: str | None, title: str, ts: int, sha1: str) -> int:
    if rev_id is None:
        # No <id> (schema 0.3 exports): one from what MediaWiki's importer knows a
        # revision by, so the same revision listed twice is kept once, as it does.
        return synthetic_id("rev", title_key(title), ts, sha1)
    try:
        return int(rev_id)
    except ValueError:
        raise DumpError(f"a revision of {title!r} has a malformed <id> {rev_id!r}", hint=HINT_DUMP) from None
