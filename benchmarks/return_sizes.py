"""Bytes to carry offline edits back: the return bundle against what people send today.

    PYTHONPATH=. .venv/bin/python benchmarks/return_sizes.py [DUMP] [--edits 1,10,50]

The online side imports DUMP (default: the last ldnont dump) into its embedded store
and carries it to the offline side; there, k pages get one edit each (a sentence
added in the middle of the page, as a teacher would). Printed per k, side by side:

* the return bundle (``bundle make`` on the offline side: deltas against the texts
  the online side holds, signed);
* baseline A: those revisions as a Special:Export XML file (full texts), ``xz -9e``;
* baseline B: the same XML, ``zstd -19``.

Not a test: numbers, not assertions. Machines are noisy; sizes are not.
"""

from __future__ import annotations

import argparse
import glob
import lzma
import os
import sys
import tempfile

import zstandard
from rich.console import Console
from rich.table import Table

from bundler.edit import edit_page
from bundler.export import XmlWriter
from bundler.files import StoreFiles
from bundler.importer import import_dump
from bundler.make import make_bundle
from bundler.sources import EveryPage
from bundler.apply import apply_bundle
from bundler.state import Side

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make(side: Side, out: str):
    store = side.store()
    try:
        return make_bundle(side, out, EveryPage(store.pages()), siteinfo=store.siteinfo(), source_name="store", files=StoreFiles(store))
    finally:
        store.close()


def sides(tmp: str, dump: str) -> tuple[Side, Side]:
    hq = Side.create(os.path.join(tmp, "hq"), os.path.join(tmp, "hq", "wiki.sqlite"), "hq")
    school = Side.create(os.path.join(tmp, "school"), os.path.join(tmp, "school", "wiki.sqlite"), "school")
    for s in (hq, school):
        s.store(create=True).close()
    for a, b in ((hq, school), (school, hq)):
        with a.state.transaction():
            a.state.add_peer(b.public_key())
    store = hq.store()
    import_dump(store, dump)
    store.close()
    u1 = make(hq, os.path.join(tmp, "u1.bundle"))
    apply_bundle(school, u1.path)
    r0 = make(school, os.path.join(tmp, "r0.bundle"))  # an empty return: hq learns what arrived
    apply_bundle(hq, r0.path)
    return hq, school


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dump", nargs="?", default=sorted(glob.glob(os.path.join(ROOT, "examples", "ldnont", "*.xml.xz")))[-1])
    ap.add_argument("--edits", default="1,10,50")
    args = ap.parse_args()
    t = Table(title=f"carrying k offline edits back: {os.path.basename(args.dump)}")
    for col in ("k edits", "return bundle", "A: XML, xz -9e", "B: XML, zstd -19", "bundle / better baseline"):
        t.add_column(col, justify="right")
    for k in [int(x) for x in args.edits.split(",")]:
        with tempfile.TemporaryDirectory(prefix="wikibundle-return-") as tmp:
            hq, school = sides(tmp, args.dump)
            store = school.store()
            pages = [ph for ph in store.pages() if ph.page.namespace == 0]
            texts = {ph.page.title: list(ph.revisions)[-1].text or "" for ph in pages}
            store.close()
            titles = sorted(texts, key=lambda ti: -len(texts[ti]))[:k]
            for title in titles:
                lines = texts[title].split("\n")
                lines.insert(len(lines) // 2, f"Offline note for {title}: opening hours changed in the holidays.")
                edit_page(school, title, "\n".join(lines), user="Teacher", summary="holiday hours")
            ret = make(school, os.path.join(tmp, "r1.bundle"))
            xml_path = os.path.join(tmp, "edits.xml")
            store = school.store()
            with open(xml_path, "w", encoding="utf-8") as f:
                w = XmlWriter(f, store.siteinfo())
                for ph in store.pages():
                    if ph.page.title in titles:
                        w.page(ph.page, [list(ph.revisions)[-1]])
                w.close()
            store.close()
            raw = open(xml_path, "rb").read()
            xz = len(lzma.compress(raw, preset=9 | lzma.PRESET_EXTREME))
            zs = len(zstandard.ZstdCompressor(level=19).compress(raw))
            t.add_row(str(k), f"{ret.size:,}", f"{xz:,}", f"{zs:,}", f"{ret.size / min(xz, zs):.2f}")
    Console().print(t)


if __name__ == "__main__":
    sys.exit(main())
