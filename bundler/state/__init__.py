"""A side: its state directory, signing key, trusted peers and sync state.

    DIR/
      config.json     this side's wiki id, label and wiki (store path or API URL)
      key.secret      Ed25519 signing key, mode 0600
      state.sqlite    peers, checkpoints sent and received, what each peer holds
      lock            held (flock) while a command changes anything

The parts: ``Side`` (here: the directory, its config, key and lock), ``State``
(``db.py``: the sync state database, the only code that runs SQL on it; its
tables in ``schema.py``) and ``PeerView`` (``view.py``: what a peer holds at a
checkpoint).
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from contextlib import contextmanager
from typing import Iterator

from ..errors import LockedError, StateError, UsageError
from ..signing import PublicKey, SecretKey, check_private, write_private
from .db import Received, Sent, SourceMark, State
from .schema import MIGRATIONS
from .view import Drift, LivePage, PageView, PeerView

__all__ = [
    "CONFIG", "KEY", "LOCK", "MIGRATIONS", "PASSWORD", "STATE",
    "Drift", "LivePage", "PageView", "PeerView", "Received", "Sent", "Side", "SourceMark", "State",
]

CONFIG = "config.json"
KEY = "key.secret"
PASSWORD = "password.secret"
STATE = "state.sqlite"
LOCK = "lock"


class Side:
    """A state directory. ``Side.open`` checks it; ``Side.create`` makes it."""

    def __init__(self, path: str, config: dict):
        self.path = path
        self.config = config
        self.wiki_id: str = config["wiki_id"]
        self.label: str = config.get("label", "")
        self.wiki: str = config["wiki"]
        self.state = State(os.path.join(path, STATE))
        self._lock_fd: int | None = None

    @classmethod
    def create(cls, path: str, wiki: str, label: str | None = None, user: str | None = None, password: str | None = None,
               local: dict | None = None) -> "Side":
        if os.path.exists(os.path.join(path, CONFIG)):
            raise UsageError(f"{path} is already a wikibundle side", hint="Use it as it is, or choose another directory with -C.")
        os.makedirs(path, exist_ok=True)
        if not (wiki.startswith("http://") or wiki.startswith("https://")):
            wiki = os.path.relpath(os.path.abspath(wiki), os.path.abspath(path)) if not os.path.isabs(wiki) else wiki
        config = {
            "format": "wikibundle-side-v1",
            "wiki_id": uuid.uuid4().hex,
            "label": label or os.path.basename(os.path.abspath(path)),
            "wiki": wiki,
        }
        if user:
            config["user"] = user
        if local:  # a MediaWiki on this machine, written through its scripts (targets/local.py)
            config["local"] = local
        SecretKey.generate(os.path.join(path, KEY))
        if password is not None:
            # Kept only here, like the signing key: mode 0600, never printed.
            write_private(os.path.join(path, PASSWORD), password.encode("utf-8"))
        tmp = os.path.join(path, CONFIG + ".tmp")
        with open(tmp, "w") as f:
            json.dump(config, f, indent=2)
        os.replace(tmp, os.path.join(path, CONFIG))
        return cls(path, config)

    @classmethod
    def open(cls, path: str) -> "Side":
        cfg = os.path.join(path, CONFIG)
        if not os.path.exists(cfg):
            raise StateError(
                f"{os.path.abspath(path)} is not a wikibundle side (no {CONFIG})",
                hint="Give the side's directory with -C DIR, or make one with: bundle init -C DIR --wiki WIKI",
            )
        try:
            with open(cfg) as f:
                config = json.load(f)
            if config.get("format") != "wikibundle-side-v1" or not isinstance(config.get("wiki_id"), str):
                raise ValueError("unknown format")
        except (OSError, ValueError) as e:
            raise StateError(f"{cfg} is damaged ({e})", hint="Restore it from a backup.") from None
        return cls(path, config)

    @property
    def wiki_path(self) -> str:
        return self.wiki if os.path.isabs(self.wiki) else os.path.join(self.path, self.wiki)

    @property
    def is_api(self) -> bool:
        return self.wiki.startswith(("http://", "https://"))

    def secret_key(self) -> SecretKey:
        return SecretKey.load(os.path.join(self.path, KEY))

    def public_key(self) -> PublicKey:
        return PublicKey(self.wiki_id, self.secret_key().public, self.label)

    def store(self, *, create: bool = False):
        """The side's embedded wiki store (``bundle apply`` opens the side's wiki,
        whatever its kind, with ``targets.open_target``)."""
        from ..store import WikiStore

        if self.is_api:
            raise UsageError(
                f"this side's wiki is a MediaWiki ({self.wiki}), not an embedded wiki store",
                hint="Edit, show and export it on the wiki itself; bundle make and bundle apply work on it.",
            )
        return WikiStore(self.wiki_path, create=create)

    def api_client(self):
        """A client for this side's MediaWiki, logged in with the stored bot password."""
        from ..mediawiki import MediaWikiClient

        user = self.config.get("user")
        password = None
        if user:
            path = os.path.join(self.path, PASSWORD)
            try:
                check_private(path, os.stat(path), "the bot password")
                with open(path, encoding="utf-8") as f:
                    password = f.read()
            except FileNotFoundError:
                raise StateError(
                    f"the bot password for {user} is missing from {self.path}",
                    hint="Make the side again with bundle init (WIKIBUNDLE_PASSWORD or the prompt).",
                ) from None
        return MediaWikiClient(self.wiki, user, password)

    @contextmanager
    def locked(self) -> Iterator[None]:
        fd = os.open(os.path.join(self.path, LOCK), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise LockedError(
                    f"another wikibundle command is working on {os.path.abspath(self.path)}",
                    hint="Wait for it to finish, then run this again.",
                ) from None
            yield
        finally:
            os.close(fd)
