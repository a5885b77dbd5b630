"""What keeps the page safe: CSRF tokens, the password on a non-local host, inbox names.

* Every POST carries a token: an HMAC of the browser's session cookie under a key
  made when the server starts. A page from another site can make the browser send
  the cookie, but cannot read the token (same-origin policy); the cookie is also
  ``SameSite=Strict`` and ``HttpOnly``.
* On 127.0.0.1 the person at the machine may change the wiki. On any other host,
  everything that writes (every POST but the login) needs the password given at
  start (or the token printed then); a login marks the session as trusted on the
  server, so no secret is ever put in a cookie or a page.
* A file name from the inbox is one entry of the inbox folder as listed, never a
  path: no separators, no dot names, and its real path (symlinks resolved) lies in
  the inbox.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from ..errors import UsageError

SESSION_COOKIE = "wb_session"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class Forbidden(Exception):
    """A request refused for safety (403); the message says why, without secrets."""


class Guard:
    def __init__(self, host: str, password: str | None):
        self.key = secrets.token_bytes(32)
        self.local = host in LOCAL_HOSTS
        self.password = password  # None on a local host: no login needed
        if not self.local and not password:
            raise UsageError(f"--host {host} serves the page to other machines, so writing needs a password",
                             hint="Give --password (or let bundle serve print a token).")
        self._trusted: set[str] = set()  # sessions that logged in

    @staticmethod
    def new_session() -> str:
        return secrets.token_urlsafe(24)

    def csrf_token(self, session: str) -> str:
        return hmac.new(self.key, session.encode(), hashlib.sha256).hexdigest()

    def check_csrf(self, session: str | None, token: str | None) -> None:
        if not session or not token or not hmac.compare_digest(self.csrf_token(session), token):
            raise Forbidden("the form's security token is missing or wrong (open the page again and resend)")

    def login(self, session: str, password: str) -> bool:
        if self.password is None:
            return True
        ok = hmac.compare_digest(password.encode(), self.password.encode())
        if ok:
            self._trusted.add(session)
        return ok

    def may_write(self, session: str | None) -> bool:
        return self.local or (session is not None and session in self._trusted)

    def check_write(self, session: str | None) -> None:
        if not self.may_write(session):
            raise Forbidden("changing this wiki from another machine needs the password: log in first")


def inbox_file(inbox: str | None, name: str) -> str:
    """The path of the inbox entry ``name``; refuses anything that could leave the inbox."""
    if inbox is None:
        raise Forbidden("no inbox folder was given (bundle serve --inbox FOLDER)")
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name or name not in os.listdir(inbox):
        raise Forbidden(f"{name!r} is not a file in the inbox")
    root = os.path.realpath(inbox)
    path = os.path.realpath(os.path.join(root, name))
    if os.path.commonpath([root, path]) != root or not os.path.isfile(path):
        raise Forbidden(f"{name!r} is not a file in the inbox")
    return path
