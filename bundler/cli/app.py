"""The ``bundle`` (alias ``wikibundle``) command."""

from __future__ import annotations

import typer

from . import apply as apply_cmd
from . import edit as edit_cmd
from . import export as export_cmd
from . import inspect as inspect_cmd
from . import make as make_cmd
from . import serve as serve_cmd
from . import sides

app = typer.Typer(
    name="bundle",
    help=(
        "Keep MediaWiki wikis in sync over USB sticks and e-mail.\n\n"
        "online$  bundle make -C hq --out /media/usb/update.bundle\n\n"
        "offline$ bundle apply -C school /media/usb/update.bundle"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # never print keys or passwords from a frame
    rich_markup_mode=None,
)

app.command("init")(sides.init)
app.command("key")(sides.key)
app.command("trust")(sides.trust)
app.command("status")(sides.status)
app.command("make")(make_cmd.make)
app.command("apply")(apply_cmd.apply)
app.command("manifest")(apply_cmd.manifest)
app.command("inspect")(inspect_cmd.inspect)
app.command("export")(export_cmd.export)
app.command("import")(export_cmd.import_)
app.command("edit")(edit_cmd.edit)
app.command("show")(edit_cmd.show)
app.command("upload")(edit_cmd.upload)
app.command("serve")(serve_cmd.serve)


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", is_eager=True),
) -> None:
    if version:
        from .. import __version__

        print(f"wikibundle {__version__}")
        raise typer.Exit(0)
    if ctx.invoked_subcommand is None:
        print(ctx.get_help())
        raise typer.Exit(0)


def main() -> None:
    app()
