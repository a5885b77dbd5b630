"""One page with a very long history, made from real article text (for memory tests and
benchmarks/memory.py).

The text is that of French Wikipedia's "Raymond Beaudet" (72 real revisions, up to 19 KB)
and "Hôtes de passage" (11 revisions) from tests/data/frwiki-20220101-pages-articles.xml.
A revision of the long page is ``sections`` copies of Raymond Beaudet, each at its own
point of that article's real history, then Hôtes de passage, under a maintenance line
with the revision's date (so no two edits have the same text). Each edit moves one section
to the next real revision of its article (a real edit, with its real comment and user);
every 101st edit is a vandal's blanking of a section, reverted by the next edit to the
exact text before it (as real long histories have). One section is about 8.9 KB on
average: ``sections=7`` gives ~63 KB per revision, 15,000 revisions ~0.95 GB of text.
"""

from __future__ import annotations

import os
from typing import Iterator

from bundler.export import XmlWriter
from bundler.model import Page, PageId, RevId, Revision, SiteInfo, format_timestamp
from bundler.sources.dump import open_dump

FRWIKI = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "frwiki-20220101-pages-articles.xml")
START = 1262304000  # 2010-01-01T00:00:00Z
PAGE = Page(PageId(1), 0, "Histoire longue", None)
SITEINFO = SiteInfo(sitename="Wikipédia", dbname="frwiki", base="https://fr.wikipedia.org/wiki/Accueil",
                    generator="tests/long_history.py", namespaces=((0, "first-letter", ""),))


def _articles() -> tuple[list[Revision], list[Revision]]:
    with open_dump(FRWIKI) as d:
        pages = {ph.page.title: [r for r in ph.revisions if r.text is not None] for ph in d}
    return pages["Raymond Beaudet"], pages["Hôtes de passage"]


def revisions(n: int, sections: int = 7) -> Iterator[Revision]:
    """The long page's ``n`` revisions, oldest first, made one at a time."""
    beaudet, hotes = _articles()
    pools = [beaudet] * sections + [hotes]
    pos = [(j * 17) % len(pool) for j, pool in enumerate(pools)]
    before = ""  # the text before the last edit (what a revert restores)
    text = ""
    for i in range(n):
        ts = START + 3600 * i
        step = i % 101
        if step == 100 and before:
            user, uid = "Salebot", 1
            comment = "Révocation des modifications de 192.0.2.7 (retour à la dernière version)"
            new = before
        else:
            parts = [pool[p].text or "" for pool, p in zip(pools, pos)]
            if step == 99:
                parts[i % len(pools)] = ""  # blanked
                user, uid, comment = "192.0.2.7", None, ""
            else:
                j = i % len(pools)
                pos[j] = (pos[j] + 1) % len(pools[j])
                src = pools[j][pos[j]]
                parts[j] = src.text or ""
                user, uid, comment = src.user, src.user_id, src.comment
            new = "{{Mise à jour|date=" + format_timestamp(ts) + "}}\n" + "\n\n".join(parts)
        before, text = text, new
        yield Revision(rev_id=RevId(1000 + i), page_id=PAGE.page_id, timestamp=ts, text=text, user=user, user_id=uid,
                       comment=comment, parent_id=RevId(999 + i) if i else None)


def write_dump(path: str, n: int, sections: int = 7) -> int:
    """Write the long page with ``n`` revisions as an XML dump; returns the characters of text."""
    total = 0

    def counted() -> Iterator[Revision]:
        nonlocal total
        for rev in revisions(n, sections):
            total += len(rev.text or "")
            yield rev

    with open(path, "w", encoding="utf-8") as f:
        w = XmlWriter(f, SITEINFO)
        w.page(PAGE, counted())
        w.close()
    return total
