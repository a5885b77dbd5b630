"""Write MediaWiki export XML (schema 0.11) with full history, as dumpBackup.php does.

The output is what ``importDump.php`` and ``action=import`` read: the way onto a
MediaWiki the tool cannot reach over HTTP. Written as a stream, one page at a time.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import time
from typing import IO, Callable, Iterable, Iterator
from xml.sax.saxutils import escape, quoteattr

from .model import Deleted, FileVersion, Page, Revision, SiteInfo, format_timestamp, sha1_to_base36

SCHEMA = "0.11"
_NS = f"http://www.mediawiki.org/xml/export-{SCHEMA}/"


def _esc(s: str) -> str:
    # XML 1.0 cannot carry most control characters; MediaWiki never stores them in
    # wikitext, but a hostile source might: drop them rather than write invalid XML.
    out = escape(s, {"\r": "&#13;"})
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in out):
        out = "".join(ch for ch in out if ord(ch) >= 32 or ch in "\t\n\r")
    return out


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _contributor(user: str | None, user_id: int | None, indent: str) -> str:
    """A revision's or upload's ``<contributor>``. ``<ip>`` only for a name that is an
    IP address (an anonymous edit): a user without an id here (an edit or upload made
    on the embedded store, ``bundle edit``/``upload``) is a ``<username>`` with id 0,
    which MediaWiki's importer maps to a local user or ``prefix>Name``. Given as
    ``<ip>``, MediaWiki 1.39 cannot make an actor of a usable user name
    (CannotCreateActorException: the whole ``action=import`` answers HTTP 500)."""
    if user_id is None and user is not None and _is_ip(user):
        return f"{indent}<contributor>\n{indent}  <ip>{_esc(user)}</ip>\n{indent}</contributor>\n"
    return (f"{indent}<contributor>\n{indent}  <username>{_esc(user or '')}</username>\n"
            f"{indent}  <id>{user_id or 0}</id>\n{indent}</contributor>\n")


class XmlWriter:
    def __init__(self, out: IO[str], siteinfo: SiteInfo):
        self.out = out
        w = out.write
        w(
            f'<mediawiki xmlns="{_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            f'xsi:schemaLocation="{_NS} http://www.mediawiki.org/xml/export-{SCHEMA}.xsd" '
            f'version="{SCHEMA}" xml:lang="en">\n'
        )
        w("  <siteinfo>\n")
        w(f"    <sitename>{_esc(siteinfo.sitename)}</sitename>\n")
        if siteinfo.dbname:
            w(f"    <dbname>{_esc(siteinfo.dbname)}</dbname>\n")
        w(f"    <base>{_esc(siteinfo.base)}</base>\n")
        w(f"    <generator>{_esc(siteinfo.generator or 'wikibundle')}</generator>\n")
        w(f"    <case>{_esc(siteinfo.case)}</case>\n")
        w("    <namespaces>\n")
        for key, case, name in siteinfo.namespaces:
            case_attr = f" case={quoteattr(case)}" if case else ""
            if name:
                w(f'      <namespace key="{key}"{case_attr}>{_esc(name)}</namespace>\n')
            else:
                w(f'      <namespace key="{key}"{case_attr} />\n')
        w("    </namespaces>\n  </siteinfo>\n")

    def page(
        self,
        page: Page,
        revisions: Iterable[Revision],
        uploads: Iterable[FileVersion] = (),
        blob: Callable[[str], Iterator[bytes]] | None = None,
    ) -> None:
        """A page with its history; a file page also with its file's versions
        (``uploads``, oldest first, the newest being the current file) and their
        bytes from ``blob(sha1)`` as base64 ``<contents>``, as ``dumpBackup.php
        --uploads --include-files`` writes them (``importDump.php --uploads`` loads them)."""
        w = self.out.write
        w("  <page>\n")
        w(f"    <title>{_esc(page.title)}</title>\n")
        w(f"    <ns>{page.namespace}</ns>\n")
        w(f"    <id>{page.page_id}</id>\n")
        if page.redirect is not None:
            w(f"    <redirect title={quoteattr(_esc_attr(page.redirect))} />\n")
        for rev in revisions:
            self._revision(rev)
        versions = list(uploads)
        for i, fv in enumerate(versions):
            # MediaWiki names an old version by the time it was replaced: the next one's upload.
            archived = versions[i + 1].timestamp if i + 1 < len(versions) else None
            self._upload(fv, archived, blob)
        w("  </page>\n")

    def _upload(self, fv: FileVersion, archived: int | None, blob) -> None:
        w = self.out.write
        h = hashlib.md5(fv.name.encode("utf-8")).hexdigest()
        archive_name = time.strftime("%Y%m%d%H%M%S", time.gmtime(archived)) + "!" + fv.name if archived is not None else None
        rel = f"archive/{h[0]}/{h[:2]}/{archive_name}" if archive_name else f"{h[0]}/{h[:2]}/{fv.name}"
        w("    <upload>\n")
        w(f"      <timestamp>{format_timestamp(fv.timestamp)}</timestamp>\n")
        w(_contributor(fv.user, fv.user_id, "      "))
        w(f"      <comment>{_esc(fv.comment or '')}</comment>\n")
        w(f"      <filename>{_esc(fv.name)}</filename>\n")
        if archive_name:
            w(f"      <archivename>{_esc(archive_name)}</archivename>\n")
        w("      <src></src>\n")
        w(f"      <size>{fv.size}</size>\n")
        w(f"      <sha1base36>{sha1_to_base36(fv.sha1)}</sha1base36>\n")
        w(f"      <rel>{_esc(rel)}</rel>\n")
        if blob is not None:
            w('      <contents encoding="base64">')
            carry = b""
            for chunk in blob(fv.sha1):  # 3-byte groups, so the pieces join into one base64 text
                data = carry + chunk
                cut = len(data) - len(data) % 3
                w(base64.b64encode(data[:cut]).decode("ascii"))
                carry = data[cut:]
            w(base64.b64encode(carry).decode("ascii"))
            w("</contents>\n")
        w("    </upload>\n")

    def _revision(self, r: Revision) -> None:
        w = self.out.write
        w("    <revision>\n")
        w(f"      <id>{r.rev_id}</id>\n")
        if r.parent_id:
            w(f"      <parentid>{r.parent_id}</parentid>\n")
        w(f"      <timestamp>{format_timestamp(r.timestamp)}</timestamp>\n")
        if r.deleted & Deleted.USER:
            w('      <contributor deleted="deleted" />\n')
        else:
            w(_contributor(r.user, r.user_id, "      "))
        if r.minor:
            w("      <minor />\n")
        if r.deleted & Deleted.COMMENT:
            w('      <comment deleted="deleted" />\n')
        elif r.comment:
            w(f"      <comment>{_esc(r.comment)}</comment>\n")
        w(f"      <model>{_esc(r.model)}</model>\n")
        w(f"      <format>{_esc(r.format)}</format>\n")
        w(_text_element(r.text, "      "))
        for slot in r.slots:  # non-main slots of a multi-content revision
            w(f"      <content>\n        <role>{_esc(slot.role)}</role>\n")
            w(f"        <model>{_esc(slot.model)}</model>\n        <format>{_esc(slot.format)}</format>\n")
            w(_text_element(slot.text, "        "))
            w("      </content>\n")
        if r.sha1:
            w(f"      <sha1>{sha1_to_base36(r.sha1)}</sha1>\n")
        else:
            w("      <sha1 />\n")
        w("    </revision>\n")

    def close(self) -> None:
        self.out.write("</mediawiki>\n")


def _text_element(text: str | None, indent: str) -> str:
    if text is None:
        return f'{indent}<text bytes="-1" deleted="deleted" />\n'
    return f'{indent}<text bytes="{len(text.encode("utf-8"))}" xml:space="preserve">{_esc(text)}</text>\n'


def _esc_attr(s: str) -> str:
    return "".join(ch for ch in s if ord(ch) >= 32)
