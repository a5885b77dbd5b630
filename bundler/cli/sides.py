"""init, key, trust, status: making a side and introducing it to its peers."""

from __future__ import annotations

import json
import os

import typer
from rich.table import Table

from ..errors import KeyFileError, UsageError
from ..signing import parse_key_line
from ..state import Side
from .common import DirOption, check_new_folder, escape, handle_errors, open_side, out, why


@handle_errors
def init(
    dir: str = DirOption,
    wiki: str = typer.Option(..., "--wiki", help="The wiki: a path to an embedded SQLite wiki store (created if missing), or a MediaWiki's api.php URL."),
    label: str = typer.Option(None, "--label", help="A short name peers will see (default: the directory's name)."),
    user: str = typer.Option(None, "--user", help="Bot user name (Name@app) for a MediaWiki API wiki."),
    php: str = typer.Option("php", "--php", help="The PHP binary that runs a local MediaWiki's maintenance scripts."),
    api: str = typer.Option(None, "--api", help="A local MediaWiki's api.php URL (default: from its $wgServer and $wgScriptPath)."),
    mediawiki: str = typer.Option(None, "--mediawiki", help="A local MediaWiki's installation folder, if not beside LocalSettings.php (default there, else /usr/share/mediawiki)."),
) -> None:
    """Make DIR a side: a signing key, a wiki, and empty sync state.

    WIKI is a path to an embedded SQLite wiki store (created if missing), a
    MediaWiki's api.php URL (make bundles from it and apply bundles to it), or the
    LocalSettings.php (or its folder) of a MediaWiki on this machine: bundles are
    then written with its maintenance scripts (exact histories, no import
    records) and it is read over its api.php.
    A bot password (Special:BotPasswords, "Name@app") comes from the environment
    variable WIKIBUNDLE_PASSWORD or a prompt, never from the command line, and
    is kept only in DIR, readable by you alone.

    Examples:  bundle init -C school --wiki school/wiki.sqlite
               bundle init -C hq --wiki https://wiki.example.org/w/api.php --user Sync@bundle
               bundle init -C school --wiki /var/lib/mediawiki/LocalSettings.php
    """
    check_new_folder(dir, "-C", "Give a folder for the side (new or existing) in a place you may write to.")
    local = _local_wiki(wiki, php, api, mediawiki)
    if local is not None or wiki.startswith(("http://", "https://")):
        api_url = local.pop("api") if local is not None else wiki
        password = None
        if user:
            password = os.environ.get("WIKIBUNDLE_PASSWORD")
            if password is None:
                password = typer.prompt(f"Bot password for {user}", hide_input=True)
        # Check the wiki and the login before anything is written.
        from ..mediawiki import MediaWikiClient

        info = MediaWikiClient(api_url, user, password).siteinfo()
        side = Side.create(dir, api_url, label, user=user, password=password, local=local)
        out.print(f"Connected to {escape(info.site.sitename)} ({escape(info.version)}) as {escape(info.user or 'anonymous')}")
        if local is not None:
            out.print(f"  writes through the maintenance scripts of {escape(local['conf'])}")
    else:
        if user:
            raise UsageError("--user is for a MediaWiki reached over its API", hint="An embedded store needs no user.")
        _check_store_path(wiki)
        side = Side.create(dir, wiki, label)
        store = side.store(create=True)
        store.close()
    out.print(f"Initialized side [bold]{escape(side.label)}[/] in {escape(os.path.abspath(dir))}")
    out.print(f"  wiki id  {side.wiki_id}\n  wiki     {escape(side.wiki_path)}\n  key id   {side.public_key().key_id}")
    out.print(f"Next: [bold]bundle key -C {escape(dir)} > {escape(side.label)}.pub[/] and carry that file to your peer.")


def _local_wiki(wiki: str, php: str, api: str | None, install: str | None) -> dict | None:
    """A MediaWiki on this machine (``--wiki`` names its LocalSettings.php or the folder
    holding it): how to run its scripts and its api.php URL; None for another kind."""
    # a PHP file (checked by Scripts.locate), or a folder that holds LocalSettings.php
    url = wiki.startswith(("http://", "https://"))
    if url or not (wiki.endswith(".php") or os.path.isfile(os.path.join(wiki, "LocalSettings.php"))):
        if php != "php" or api or install:
            raise UsageError("--php, --api and --mediawiki are for a MediaWiki on this machine",
                             hint="Give its LocalSettings.php (or its folder) with --wiki.")
        return None
    from ..targets.local_scripts import Scripts

    scripts = Scripts.locate(wiki, php, install)
    if api is None:
        conf = scripts.settings("wgServer", "wgScriptPath")
        server = str(conf.get("wgServer") or "")
        if not server:
            raise UsageError(f"{scripts.conf} sets no $wgServer, so its api.php URL is unknown",
                             hint="Give it with --api http://HOST/PATH/api.php.")
        api = ("http:" + server if server.startswith("//") else server) + str(conf.get("wgScriptPath") or "") + "/api.php"
    return {"conf": scripts.conf, "install": scripts.install, "php": scripts.php, "api": api}


def _check_store_path(wiki: str) -> None:
    """The embedded store's file: an existing file, or a name in a folder that is
    there (or is made with the side: ``--wiki hq/wiki.sqlite`` beside ``-C hq``)."""
    if os.path.isdir(wiki):
        raise UsageError(f"--wiki {wiki} is a folder; the embedded wiki store is a file",
                         hint=f"Give a file name, e.g. {os.path.join(wiki, 'wiki.sqlite')}.")
    if os.path.lexists(wiki) and not os.path.isfile(wiki):
        raise UsageError(f"--wiki {wiki} is not a regular file", hint="Give a new or existing SQLite file, e.g. wiki.sqlite.")
    if not os.path.exists(wiki):
        check_new_folder(os.path.dirname(os.path.abspath(wiki)), "--wiki",
                         "Give a file in a folder you may write to, e.g. DIR/wiki.sqlite beside -C DIR.", shown=wiki)


@handle_errors
def key(dir: str = DirOption) -> None:
    """Print this side's public key: one line to carry to the peer, who runs 'bundle trust'."""
    side = open_side(dir)
    print(side.public_key().line())


@handle_errors
def trust(
    keyfile: str = typer.Argument(..., help="A file holding the peer's key line (what 'bundle key' printed there)."),
    dir: str = DirOption,
) -> None:
    """Trust a peer's key: accept bundles and manifests it signs, and make bundles for it."""
    side = open_side(dir)
    try:
        with open(keyfile, encoding="utf-8") as f:
            text = f.read(4096)
    except OSError as e:
        raise KeyFileError(f"cannot read the key file {keyfile}: {why(e)}", hint="Give the file that 'bundle key' wrote on the peer.") from None
    except UnicodeDecodeError:
        raise KeyFileError(f"the key file {keyfile} is not text", hint="Give the file that 'bundle key' wrote on the peer.") from None
    pk = parse_key_line(text, source=keyfile)
    if pk.wiki_id == side.wiki_id:
        raise UsageError("that is this side's own key", hint="Trust the other side's key (run 'bundle key' over there).")
    with side.locked(), side.state.transaction():
        new = side.state.add_peer(pk)
    if new:
        out.print(f"Trusted [bold]{escape(pk.label or '?')}[/] (wiki {pk.wiki_id}, key {pk.key_id})")
    else:
        out.print(f"Already trusted: {escape(pk.label or '?')} (key {pk.key_id}); nothing changed")


@handle_errors
def status(dir: str = DirOption, as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """What this side is, whom it trusts, and where each sync stands."""
    side = open_side(dir)
    st = side.state
    rows = []
    for p in st.peers():
        last_in = st.last_received(p.wiki_id)
        rows.append(
            {
                "peer": p.label,
                "wiki_id": p.wiki_id,
                "key_id": p.key_id,
                "bundles_made": st.last_sent_seq(p.wiki_id),
                "confirmed": st.confirmed_seq(p.wiki_id),
                "applied_from": last_in.seq if last_in else 0,
                # the peer this side takes updates from (bundles to it are returns), or one it updates
                "role": "upstream" if st.is_upstream(p.wiki_id) else "downstream",
            }
        )
    info = {"label": side.label, "wiki_id": side.wiki_id, "wiki": side.wiki_path, "key_id": side.public_key().key_id, "peers": rows}
    if not side.is_api:
        store = side.store()
        c = store.counts()
        store.close()
        info.update(pages=c.pages, revisions=c.revisions, deleted_pages=c.deleted_pages)
    if as_json:
        print(json.dumps(info, indent=2))
        return
    out.print(f"[bold]{escape(side.label)}[/]  wiki {side.wiki_id}  key {info['key_id']}")
    out.print(f"  {escape(side.wiki_path)}: {info.get('pages', '?')} pages, {info.get('revisions', '?')} revisions")
    t = Table("peer", "wiki id", "role", "bundles made", "confirmed by peer", "applied from peer")
    for r in rows:
        role = "sends us updates" if r["role"] == "upstream" else "gets our updates"
        t.add_row(escape(r["peer"]), r["wiki_id"][:8], role, str(r["bundles_made"]), str(r["confirmed"]), str(r["applied_from"]))
    out.print(t)
