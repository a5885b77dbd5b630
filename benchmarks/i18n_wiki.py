"""A wiki with translations, from real translated text: MediaWiki's own interface messages.

Real dumps of wikis that keep translations as subpages (``Page/fr``, the Translate
extension's layout) are not among the project's data, so this builds one from the
translations every MediaWiki installation ships: ``languages/i18n/*.json`` (Debian's
``mediawiki`` package, GPL-2.0-or-later, translated on translatewiki.net). Each message
of at least ``MIN_CHARS`` characters in English is a page ``Key`` (English), and its
translation into each of ``LANGUAGES`` the page ``Key/<code>``, created later: the
English pages first, then one language after another. A cut at q=0.9 then leaves the
last language(s) new, each page with its English page and other translations held —
the shape ``bundler/similar.py`` looks for by title.

Usage: ``python benchmarks/i18n_wiki.py OUT.xml`` then ``python benchmarks/sizes.py OUT.xml``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bundler.export import XmlWriter  # noqa: E402
from bundler.model import Page, PageId, RevId, Revision, SiteInfo  # noqa: E402

I18N = "/usr/share/mediawiki/languages/i18n"
LANGUAGES = ("de", "fr", "es", "it", "pt", "nl", "pl", "sv", "ru", "ja", "zh-hans", "ca")
MIN_CHARS = 150
T0 = 1_600_000_000  # 2020-09-13: the English pages; each language a day later than the one before


def messages(lang: str) -> dict[str, str]:
    with open(os.path.join(I18N, f"{lang}.json"), encoding="utf-8") as f:
        return {k: v for k, v in json.load(f).items() if not k.startswith("@")}


def _title(key: str) -> str:
    return (key[0].upper() + key[1:]).replace("_", " ")


def main(out: str) -> None:
    en = messages("en")
    keys = sorted(k for k, v in en.items() if len(v) >= MIN_CHARS)
    pages: list[tuple[str, int, str]] = [(_title(k), T0 + i, en[k]) for i, k in enumerate(keys)]
    for j, lang in enumerate(LANGUAGES, 1):
        tr = messages(lang)
        pages += [(f"{_title(k)}/{lang}", T0 + j * 86400 + i, tr[k]) for i, k in enumerate(keys) if tr.get(k)]
    si = SiteInfo(sitename="i18n", dbname="i18nwiki", base="http://127.0.0.1/wiki/Main_Page", namespaces=((0, "first-letter", ""),))
    with open(out, "w", encoding="utf-8", newline="") as f:
        w = XmlWriter(f, si)
        for n, (title, ts, text) in enumerate(pages, 1):
            w.page(Page(PageId(n), 0, title), [Revision(RevId(n), PageId(n), ts, text, user="translatewiki.net", user_id=1)])
        w.close()
    print(f"{out}: {len(keys)} messages, {len(pages)} pages, {sum(len(t) for _, _, t in pages):,} characters")


if __name__ == "__main__":
    main(sys.argv[1])
