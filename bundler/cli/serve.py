"""bundle serve: the side's own web page (bundler/web/)."""

from __future__ import annotations

import os
import secrets

import typer

from ..errors import UsageError
from .common import DirOption, escape, handle_errors, out


@handle_errors
def serve(
    dir: str = DirOption,
    port: int = typer.Option(8080, "--port", help="The port to listen on."),
    host: str = typer.Option("127.0.0.1", "--host", help="The address to listen on; anything but 127.0.0.1 lets other machines in, and then writing needs a password."),
    inbox: str = typer.Option(None, "--inbox", help="The folder of the USB stick (or mail attachments): bundles found there can be applied from the page, and the return bundle is written there."),
    password: bool = typer.Option(False, "--password", help="Ask for a password (or take WIKIBUNDLE_SERVE_PASSWORD) that anyone must give before changing anything. Without it, a non-local --host gets a token printed at start."),
) -> None:
    """Serve this side's wiki and sync page in a web browser.

    Read and search the wiki, edit pages and upload files, apply the bundles found
    on the stick (with the same checks as 'bundle apply'), see and resolve edit
    conflicts, and write the return bundle back to the stick.

    Example:  bundle serve -C school --inbox /media/usb     then open http://127.0.0.1:8080/
    """
    import uvicorn

    from ..web.app import create_app
    from ..web.guard import LOCAL_HOSTS

    secret = None
    if password:
        secret = os.environ.get("WIKIBUNDLE_SERVE_PASSWORD") or typer.prompt("Password for changes", hide_input=True)
    elif host not in LOCAL_HOSTS:
        secret = secrets.token_urlsafe(12)
    if not 0 < port < 65536:
        raise UsageError(f"--port {port} is not a port", hint="Give a number from 1 to 65535, e.g. 8080.")
    app = create_app(dir, inbox=inbox, host=host, password=secret)
    shown = f"[{host}]" if ":" in host else host
    out.print(f"Serving {escape(os.path.abspath(dir))} at [bold]http://{shown}:{port}/[/] (Ctrl-C stops it)")
    if secret and not password:
        out.print(f"To change anything from another machine, log in with this token: [bold]{secret}[/]")
    uvicorn.run(app, host=host, port=port, log_level="warning")
