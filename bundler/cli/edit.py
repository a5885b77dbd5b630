"""bundle edit: edit, move or delete a page of the embedded wiki store."""

from __future__ import annotations

import json
import sys

import typer

from ..edit import delete_page, edit_page, move_page
from ..errors import UsageError
from .common import DirOption, escape, handle_errors, open_side, out, why


@handle_errors
def edit(
    title: str = typer.Argument(..., help="The page's full title, e.g. 'Malaria' or 'Help:Contents'."),
    dir: str = DirOption,
    file: str = typer.Option(None, "--file", "-f", help="The page's new text (wikitext); '-' reads standard input."),
    summary: str = typer.Option("", "--summary", "-m", help="The edit summary, as in MediaWiki."),
    user: str = typer.Option(None, "--user", "-u", help="Who made the edit (kept in the history and on the online wiki)."),
    minor: bool = typer.Option(False, "--minor", help="Mark the edit as minor."),
    move_to: str = typer.Option(None, "--move-to", help="Move (rename) the page to this title instead of editing it."),
    delete: bool = typer.Option(False, "--delete", help="Delete the page instead of editing it."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Edit, move or delete a page of this side's embedded wiki store.

    On an offline side these changes travel back in the next return bundle
    ('bundle apply --return-out', or 'bundle make'); edits made on both sides to
    one page are merged there three ways, and conflicts are kept, never lost.

    Examples:  bundle edit -C school Malaria --file malaria.txt --summary "dosage table" --user Nurse.Ada
               bundle edit -C school "Old name" --move-to "New name"
               bundle edit -C school "Spam page" --delete
    """
    chosen = sum(x for x in (file is not None, move_to is not None, delete))
    if chosen != 1:
        raise UsageError("say what to do: --file TEXT, --move-to TITLE or --delete (one of them)",
                         hint="bundle edit -C DIR TITLE --file page.txt --summary '...' --user NAME")
    side = open_side(dir)
    with side.locked():
        if delete:
            res = delete_page(side, title)
            what = f"Deleted {escape(res.title)}."
        elif move_to is not None:
            res = move_page(side, title, move_to)
            what = f"Moved {escape(title)} to {escape(res.title)}."
        else:
            if not user:
                raise UsageError("--user is needed for an edit", hint="Give the editor's name: it is kept in the history on both sides.")
            text = _read(file)
            res = edit_page(side, title, text, user=user, summary=summary, minor=minor)
            what = (f"{'Created' if res.created else 'Edited'} {escape(res.title)} (revision {res.rev_id})."
                    if res.rev_id is not None else f"{escape(res.title)}: the text is unchanged; no new revision.")
    if as_json:
        print(json.dumps({"title": res.title, "page_id": res.page_id, "rev_id": res.rev_id, "created": res.created}))
        return
    out.print(what)


def _read(path: str) -> str:
    try:
        if path == "-":
            return sys.stdin.read()
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        raise UsageError(f"cannot read {path}: {why(e)}", hint="Give a UTF-8 text file with the page's wikitext.") from None
    except UnicodeDecodeError:
        raise UsageError(f"cannot read {path}: it is not UTF-8 text", hint="Give a UTF-8 text file with the page's wikitext.") from None


@handle_errors
def show(
    title: str = typer.Argument(None, help="The page's full title; omit it with --rev."),
    dir: str = DirOption,
    rev: int = typer.Option(None, "--rev", help="Show this revision instead (e.g. the offline text of an edit conflict)."),
    history: bool = typer.Option(False, "--history", help="List the page's revisions instead of its text."),
) -> None:
    """Print a page's current text (or one revision, or its history) from the embedded wiki store.

    Examples:  bundle show -C school Malaria > malaria.txt
               bundle show -C hq --rev 1234            # a revision named in a conflict notice
               bundle show -C hq Malaria --history
    """
    from rich.table import Table

    from ..model import format_timestamp

    side = open_side(dir)
    store = side.store()
    try:
        if rev is not None:
            r = store.revision(rev)
            if r is None:
                raise UsageError(f"there is no revision {rev} in this wiki", hint="'bundle show TITLE --history' lists a page's revisions.")
            sys.stdout.write((r.text or "") + "\n")
            return
        if title is None:
            raise UsageError("give a title, or --rev N", hint="bundle show -C DIR 'Main Page'")
        page = store.page_by_title(" ".join(title.replace("_", " ").split()))
        if page is None:
            raise UsageError(f"there is no page {title!r} in this wiki", hint="Titles are case-sensitive after the first letter.")
        if history:
            t = Table("revision", "time (UTC)", "user", "summary")
            for r in store.revision_meta(page.page_id).values():
                t.add_row(str(r.rev_id), format_timestamp(r.timestamp), escape(r.user or ""), escape(r.comment or ""))
            out.print(t)
            return
        head = store.head(page.page_id)
        sys.stdout.write(((head.text or "") if head else "") + "\n")
    finally:
        store.close()


@handle_errors
def upload(
    file: str = typer.Argument(..., help="The file to upload (any type; JPEG, PNG, PDF are never recompressed)."),
    dir: str = DirOption,
    name: str = typer.Option(None, "--name", help="The file's name on the wiki (default: the file's own name)."),
    user: str = typer.Option(..., "--user", "-u", help="Who uploaded it (kept on both sides)."),
    comment: str = typer.Option("", "--comment", "-m", help="The upload summary; on a first upload also the description page's text."),
) -> None:
    """Upload a file (or a new version of one) to this side's embedded wiki store.

    On an offline side it travels back in the next return bundle, its bytes
    sent once whatever its name.

    Example:  bundle upload -C school clinic-map.png --user Nurse.Ada --comment "map of the clinic"
    """
    from ..edit import upload_file

    side = open_side(dir)
    with side.locked():
        res = upload_file(side, file, name=name, user=user, comment=comment)
    if not res.changed:
        out.print(f"{escape(res.title)}: the wiki holds these bytes as its current version already; nothing changed.")
    else:
        out.print(f"Uploaded {escape(res.title)}" + (" (a new file)." if res.created else " (a new version)."))
