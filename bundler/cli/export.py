"""bundle export / bundle import: the side's embedded store to and from XML dumps."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os

import typer

from ..errors import UsageError
from ..export import XmlWriter
from ..importer import import_dump
from ..model import file_title_to_name
from ..state import Side
from .common import DirOption, check_output, escape, handle_errors, open_side, out, progress_bar


def _open_out(path: str):
    if path.endswith(".gz"):
        return io.TextIOWrapper(gzip.open(path, "wb"), encoding="utf-8")
    if path.endswith(".bz2"):
        return io.TextIOWrapper(bz2.open(path, "wb"), encoding="utf-8")
    if path.endswith(".xz"):
        return io.TextIOWrapper(lzma.open(path, "wb"), encoding="utf-8")
    if path.endswith(".zst"):
        import zstandard

        return io.TextIOWrapper(zstandard.ZstdCompressor(level=10).stream_writer(open(path, "wb")), encoding="utf-8")
    return open(path, "w", encoding="utf-8", newline="\n")


@handle_errors
def export(
    dir: str = DirOption,
    out_path: str = typer.Option(..., "--out", "-o", help="The XML file to write (.xml, or .gz/.bz2/.xz/.zst to compress)."),
) -> None:
    """Write the side's wiki as MediaWiki export XML (schema 0.11), full history.

    Load it into a MediaWiki with:  php maintenance/importDump.php FILE.xml
    """
    side = open_side(dir)
    _embedded_only(side, "export")
    check_output(out_path, "--out", "wiki.xml")
    store = side.store()
    tmp = out_path + ".part"
    n_pages = n_revs = 0
    try:
        with progress_bar("Exporting", store.counts().pages) as bar:
            f = _open_out(tmp)
            try:
                w = XmlWriter(f, store.siteinfo())
                for ph in store.pages():
                    uploads = store.file_versions(file_title_to_name(ph.page.title)) if ph.page.namespace == 6 else ()
                    w.page(ph.page, ph.revisions, uploads, store.blob_chunks)
                    n_pages += 1
                    n_revs += ph.revision_count
                    bar(n_pages)
                w.close()
            finally:
                f.close()
        os.replace(tmp, out_path)
    finally:
        store.close()
        if os.path.exists(tmp):
            os.unlink(tmp)
    out.print(f"Wrote {escape(out_path)}: {n_pages:,} pages, {n_revs:,} revisions (schema 0.11).")


@handle_errors
def import_(
    dump: str = typer.Argument(..., help="A MediaWiki XML dump (plain, .gz, .bz2, .xz or .zst)."),
    dir: str = DirOption,
    delete_missing: bool = typer.Option(False, "--delete-missing", help="Delete pages the dump does not have (the dump is the whole wiki)."),
) -> None:
    """Load an XML dump into the side's own embedded wiki (as importDump.php does).

    Pages keep the dump's page ids, so a later dump of the same wiki brings its
    moves along; with --delete-missing also its deletions.
    """
    side = open_side(dir)
    _embedded_only(side, "import")
    if not os.path.exists(dump):
        raise UsageError(f"no such dump: {dump}", hint="Check the path.")
    with side.locked():
        store = side.store()
        try:
            with progress_bar("Importing " + os.path.basename(dump), os.path.getsize(dump), unit_bytes=True) as bar:
                res = import_dump(store, dump, delete_missing=delete_missing, progress=bar)
        finally:
            store.close()
    out.print(
        f"Imported {escape(os.path.basename(dump))}: {res.revisions_added:,} new revisions "
        f"({res.revisions_present:,} already here) on {res.pages:,} pages, {res.moves} moves, {res.deletions} deletions."
        + (f" {res.files_added:,} new file versions." if res.files_added else "")
    )
    if res.files_skipped:
        out.print(f"[yellow]{res.files_skipped:,} file versions had no bytes in the dump (no <contents>) and were left out.[/]")


def _embedded_only(side: Side, command: str) -> None:
    if side.is_api:
        raise UsageError(
            f"bundle {command} works on a side's embedded wiki store; this side's wiki is a MediaWiki ({side.wiki})",
            hint="Use the wiki's own Special:Export / Special:Import, or dumpBackup.php / importDump.php on its server.",
        )
