"""Real dumps rewritten into the shapes real wiki archives have (the conformance corpus).

Most wiki archives people hold were made by WikiTeam's tools, not by ``dumpBackup.php``.
Read from their code (saveweb/wikiteam3 4.4.0, ``dumpgenerator/dump/page/xmlrev/``):

- ``--xmlrevisions`` lists ``list=allrevisions`` oldest first, ``arvlimit`` at a time, and
  writes each batch's revisions of a page as one ``<page arvcontinue="...">`` block
  (``make_xml_from_page``): a page with a long history is in many blocks, far apart.
  Each block is ``<title>``, ``<ns>``, ``<id>``, then revisions whose children come in
  the order ``id, parentid, timestamp, contributor, minor, comment, origin, model, format,
  text, sha1``; ``<text bytes=".." xml:space="preserve">``; the sha1 is the API's (hex,
  not the base36 of dumps); every contributor is ``<username>`` and ``<id>`` (IP editors
  too, with id 0); no ``<redirect>``, no page-level ``<sha1>``.
- ``--xmlrevisions_page`` asks ``prop=revisions`` per title, ``rvlimit`` at a time, newest
  first (the API's default), one block per batch: one page in consecutive blocks, its
  revisions newest first.
- ``dumpBackup.php --revrange`` repeats pages across the range (docs/MEDIAWIKI_FINDINGS.md).
- Old exports (schema 0.3, MediaWiki 1.5) have no ids, no ``<ns>``, no ``<sha1>``.

Each shape takes a ``Dump`` (a real dump read whole: only small ones are used) and writes
the same revisions in that shape. The XML is written here with ElementTree, never by the
reader under test.
"""

from __future__ import annotations

import copy
import hashlib
import lzma
import random
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Callable

from bundler.model import parse_timestamp

XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
WIKITEAM_REV_ORDER = ["id", "parentid", "timestamp", "contributor", "minor", "comment", "origin", "model", "format", "text", "sha1"]


def _strip(elem: ET.Element) -> ET.Element:
    for e in elem.iter():
        e.tag = e.tag.rsplit("}", 1)[-1]
    return elem


@dataclass
class Page:
    head: list[ET.Element]  # the page's children before its revisions (title, ns, id, ...)
    revisions: list[ET.Element]  # in the source's order

    def child(self, name: str) -> str | None:
        return next((e.text for e in self.head if e.tag == name), None)


@dataclass
class Dump:
    version: str
    siteinfo: ET.Element
    pages: list[Page]

    @classmethod
    def read(cls, path: str, keep: Callable[[Page], bool] = lambda p: True) -> "Dump":
        raw = lzma.open(path).read() if path.endswith(".xz") else open(path, "rb").read()
        root = _strip(ET.fromstring(raw))
        pages = []
        for p in root.findall("page"):
            page = Page([c for c in p if c.tag not in ("revision", "upload")], p.findall("revision"))
            if keep(page):
                pages.append(page)
        return cls(root.get("version", "0.10"), root.find("siteinfo"), pages)

    def revision_count(self) -> int:
        return sum(len(p.revisions) for p in self.pages)

    def median_time(self) -> int:
        """A cut that leaves about half the revisions on each side (for ``--until``)."""
        times = sorted(_ts(r) for p in self.pages for r in p.revisions)
        return times[len(times) // 2]


def _ts(rev: ET.Element) -> int:
    return parse_timestamp(rev.findtext("timestamp"))


def _rid(rev: ET.Element) -> int:
    return int(rev.findtext("id") or 0)


def _history(page: Page) -> list[ET.Element]:
    return sorted(page.revisions, key=lambda r: (_ts(r), _rid(r)))


def _write(path: str, version: str, siteinfo: ET.Element, blocks: list[ET.Element]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(f'<mediawiki xmlns="http://www.mediawiki.org/xml/export-{version}/" version="{version}" xml:lang="en">\n')
        f.write(ET.tostring(siteinfo, encoding="unicode"))
        for b in blocks:
            f.write(ET.tostring(b, encoding="unicode"))
            f.write("\n")
        f.write("</mediawiki>\n")


def _block(page: Page, revisions: list[ET.Element], head: list[ET.Element] | None = None) -> ET.Element:
    b = ET.Element("page")
    b.text = "\n"
    b.extend(copy.deepcopy(head if head is not None else page.head))
    b.extend(copy.deepcopy(revisions))
    return b


def _chunks(items: list, sizes: list[int]) -> list[list]:
    out, i = [], 0
    for n in sizes:
        out.append(items[i : i + n])
        i += n
    return [c for c in out if c]


def split_far(dump: Dump, path: str, seed: int = 1) -> None:
    """Every page with 2+ revisions in 2–5 blocks of consecutive revisions, the blocks
    dealt round-robin: a page's next block comes after every other page's block."""
    rnd = random.Random(seed)
    rounds: list[list[ET.Element]] = []
    for page in dump.pages:
        hist = _history(page)
        k = min(len(hist), rnd.randint(2, 5)) if len(hist) > 1 else 1
        cuts = sorted(rnd.sample(range(1, len(hist)), k - 1)) if k > 1 else []
        sizes = [b - a for a, b in zip([0] + cuts, cuts + [len(hist)])]
        for n, chunk in enumerate(_chunks(hist, sizes)):
            while len(rounds) <= n:
                rounds.append([])
            rounds[n].append(_block(page, chunk))
    _write(path, dump.version, dump.siteinfo, [b for r in rounds for b in r])


def newest_first(dump: Dump, path: str, rvlimit: int = 3) -> None:
    """wikiteam3 ``--xmlrevisions_page``: newest first, ``rvlimit`` revisions a block."""
    blocks = []
    for page in dump.pages:
        hist = _history(page)[::-1]
        blocks += [_block(page, hist[i : i + rvlimit]) for i in range(0, len(hist), rvlimit)]
    _write(path, dump.version, dump.siteinfo, blocks)


def no_sha1(dump: Dump, path: str) -> None:
    """The dump as it is, without any ``<sha1>`` (page-level ones included)."""
    blocks = []
    for page in dump.pages:
        b = _block(page, page.revisions, [e for e in page.head if e.tag != "sha1"])
        for rev in b.findall("revision"):
            for s in rev.findall("sha1"):
                rev.remove(s)
        blocks.append(b)
    _write(path, dump.version, dump.siteinfo, blocks)


def _wikiteam_revision(rev: ET.Element) -> ET.Element:
    rev = copy.deepcopy(rev)
    text = rev.find("text")
    if text is not None and text.get("deleted") != "deleted":
        body = text.text or ""
        text.attrib = {"bytes": str(len(body.encode("utf-8"))), XML_SPACE: "preserve"}
        for s in rev.findall("sha1"):
            rev.remove(s)
        ET.SubElement(rev, "sha1").text = hashlib.sha1(body.encode("utf-8")).hexdigest()  # the API's hex
    contributor = rev.find("contributor")
    if contributor is not None and contributor.find("ip") is not None:
        ip = contributor.findtext("ip")
        contributor.clear()
        ET.SubElement(contributor, "username").text = ip
        ET.SubElement(contributor, "id").text = "0"
    children = {c.tag: c for c in rev}
    out = ET.Element("revision")
    out.extend(children.pop(t) for t in WIKITEAM_REV_ORDER if t in children)
    out.extend(children.values())
    return out


def wikiteam_allrevisions(dump: Dump, path: str, arvlimit: int = 20) -> None:
    """wikiteam3 ``--xmlrevisions``: every revision oldest first, ``arvlimit`` a batch, one
    block per page and batch, in wikiteam's element order (see the module docstring)."""
    revs = sorted(((_ts(r), _rid(r), i, r) for i, p in enumerate(dump.pages) for r in p.revisions), key=lambda t: t[:2])
    blocks = []
    for start in range(0, len(revs), arvlimit):
        batch = revs[start : start + arvlimit]
        cont = f"{batch[0][0]}|{batch[0][1]}" if start else ""
        by_page: dict[int, list[ET.Element]] = {}
        for _ts_, _id, i, r in batch:
            by_page.setdefault(i, []).append(_wikiteam_revision(r))
        for i, rs in by_page.items():
            page = dump.pages[i]
            b = ET.Element("page", {"arvcontinue": cont})
            for name in ("title", "ns", "id"):
                ET.SubElement(b, name).text = page.child(name)
            b.extend(rs)
            blocks.append(b)
    _write(path, dump.version, dump.siteinfo, blocks)


def schema03_no_ids(dump: Dump, path: str) -> None:
    """A schema 0.3 export: no page or revision ids, no ``<ns>``, ``<sha1>``, ``<model>``,
    ``<format>``, ``<parentid>`` or ``<redirect>``; revisions in the source's order."""
    drop = {"id", "parentid", "sha1", "model", "format", "origin"}
    blocks = []
    for page in dump.pages:
        b = _block(page, page.revisions, [e for e in page.head if e.tag == "title"])
        for rev in b.findall("revision"):
            for c in [c for c in rev if c.tag in drop]:
                rev.remove(c)
        blocks.append(b)
    siteinfo = copy.deepcopy(dump.siteinfo)  # 0.3's: sitename, base, generator, case, namespaces
    for extra in [c for c in siteinfo if c.tag not in ("sitename", "base", "generator", "case", "namespaces")]:
        siteinfo.remove(extra)
    _write(path, "0.3", siteinfo, blocks)


SHAPES: dict[str, Callable[[Dump, str], None]] = {
    "split-far": split_far,
    "newest-first": newest_first,
    "no-sha1": no_sha1,
    "wikiteam-allrevisions": wikiteam_allrevisions,
    "schema-0.3-no-ids": schema03_no_ids,
}
