"""The session with one wiki's ``api.php``: send, repeat, log in, tokens, errors.

``Session`` sends every Action API request wikibundle makes. ``_send`` is one HTTP
request with its repeats; ``_call`` adds the login, ``assert=user`` and the CSRF
token, and turns API errors into ``WikiError``; ``query`` follows ``continue``.
The typed API calls built on it are in ``api.py`` (reads) and ``write.py`` (writes).

How the API fails, and what this module does about it (measured on MediaWiki
1.39, see docs/MEDIAWIKI_FINDINGS.md):

* API errors are HTTP 200 with ``{"error": {"code", "info"}}``. They become
  ``WikiError`` with the API's ``code``, the wiki's message and a hint.
* ``maxlag`` (sent on every request): wait ``Retry-After`` and repeat.
* HTTP 429/502/503/504 and dropped connections: repeat with exponential
  backoff (1, 2, 4 ... s, at most 60 s, ``Retry-After`` wins), at most
  ``retries`` times, then ``WikiUnreachableError``; a ``Retry-After`` of 0 or
  in the past counts as absent, so a server cannot make us spin. A write whose
  request may already have reached the wiki (the connection broke after
  sending, or a 502/504 from a proxy) is *not* repeated: an edit, move or
  upload could land twice. Only import is repeated in that case, because
  MediaWiki skips a revision it already has (same page, timestamp and sha1).
* ``backend-fail-alreadyexists`` on upload: a second overwrite of one file
  within the same second clashes in MediaWiki's archive; wait 1 s and repeat.
* ``badtoken`` (session expired): fetch a new CSRF token and repeat once;
  ``assertuserfailed`` (logged out behind our back; every request of a logged-in
  client carries ``assert=user`` so it never edits as an IP): log in again and
  repeat once.

Secrets: the password lives in a ``_Secret`` whose repr is hidden, request bodies
are ``_Form`` dicts that mask passwords and tokens in their repr (tracebacks
with locals), and login failures carry MediaWiki's reason, never the password.
"""

from __future__ import annotations

import email.utils
import logging
import os
import time
from typing import Any, Callable, Iterator, Mapping
from urllib.parse import urljoin

import httpx

from ..errors import UsageError, WikiError, WikiLoginError, WikiUnreachableError

try:
    from .. import __version__ as _VERSION
except ImportError:  # pragma: no cover - the package always defines it today
    _VERSION = "0.1"

log = logging.getLogger(__name__)

USER_AGENT = f"wikibundle/{_VERSION} (+https://github.com/wikibundle/wikibundle)"
BACKOFF_BASE = 1.0  # seconds before the first repeat; doubled each time
BACKOFF_CAP = 60.0
RETRY_AFTER_CAP = 300.0  # a Retry-After beyond this is the server's problem, not a wait
MAXLAG_DEFAULT_WAIT = 5.0
TITLES_PER_REQUEST = 50  # the API's limit for titles= without apihighlimits

# Answers that say "not now" rather than "no". 429 and 503 are sent before the
# request is processed; 502 and 504 come from a proxy that may have passed it on.
_RETRY_STATUS = frozenset({429, 502, 503, 504})
_RETRY_STATUS_UNSENT = frozenset({429, 503})
# Transport errors raised before the request left this machine: safe to repeat a write.
_UNSENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

_HINT_URL = (
    "Check the URL (it must point at api.php, e.g. https://example.org/w/api.php) and that the "
    "wiki is up: the same URL with ?action=query&meta=siteinfo should answer in a browser."
)
_HINT_RIGHTS = (
    "The account lacks a right. Log in with a bot password (Special:BotPasswords) whose grants "
    "include: high-volume editing, edit existing pages, create/edit/move pages, delete pages, "
    "upload files, import revisions, view deleted content; and an account in the sysop group."
)
_HINTS = {
    "readonly": "The wiki is in read-only mode (maintenance); try again later.",
    "ratelimited": "Use an account with the noratelimit right (sysop or bot), or wait a minute.",
    "editconflict": "The page changed on the wiki since the base revision; sync again so it can be merged.",
    "pagedeleted": "The page was deleted on the wiki meanwhile; sync again.",
    "articleexists": "A page with that title already exists on the wiki.",
    "missingtitle": "The page does not exist (any more) on the wiki.",
    "fileexists-no-change": "The wiki already has exactly these bytes as the current version of the file.",
    "filetype-banned": "Allow the file type on the wiki ($wgFileExtensions) or leave the file out.",
    "uploaddisabled": "Enable uploads on the wiki ($wgEnableUploads = true).",
    "nointerwikiprefix": "Pass an interwiki prefix for imported user names.",
    "mustbeloggedin": "Give a user name and bot password for this wiki.",
    "notloggedin": "Give a user name and bot password for this wiki.",
}
_RIGHTS_CODES = frozenset(
    {
        "permissiondenied", "cantimport", "cantimport-upload", "readapidenied", "writeapidenied",
        "protectedpage", "cascadeprotected", "cantcreate", "cantmove", "cantmove-anon",
        "cantdelete", "cantundelete", "mwoauth-invalid-authorization", "badaccess-groups",
    }
)


class _Secret:
    """A value that never shows itself in repr, str, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<hidden>"

    __str__ = __repr__


class _Form(dict):
    """Request parameters; masks credentials in repr so tracebacks with locals stay clean."""

    _MASKED = frozenset({"lgpassword", "password", "token", "lgtoken", "logintoken"})

    def __repr__(self) -> str:
        return repr({k: ("<hidden>" if k in self._MASKED else v) for k, v in self.items()})


# -- the session ------------------------------------------------------------------


class Session:
    """A session with one wiki's ``api.php``.

    Without ``user`` the client is anonymous (reads only; 50 revisions with
    content per request). With ``user`` ("Name@app", a bot password) it logs in
    lazily, on the first request. ``requests`` counts HTTP requests sent
    (repeats and login included); ``bytes_received`` counts bytes on the wire
    (before gzip decoding).
    """

    def __init__(
        self,
        api_url: str,
        user: str | None = None,
        password: str | None = None,
        *,
        client: httpx.Client | None = None,
        user_agent: str | None = None,
        maxlag: int | None = 5,
        retries: int = 5,
        timeout: float = 300.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if user is not None and password is None:
            raise UsageError(f"a password is needed to log in to {api_url} as {user}",
                             hint="Give the bot password that belongs to the user name.")
        self.api_url = api_url
        self.user = user
        self._password = _Secret(password) if password is not None else None
        self.maxlag = maxlag
        self.retries = retries
        self.requests = 0
        self.bytes_received = 0
        self._sleep = sleep
        self._own_client = client is None
        self._http = client if client is not None else httpx.Client(
            timeout=httpx.Timeout(timeout, connect=15.0), follow_redirects=True
        )
        self._headers = {
            "User-Agent": user_agent or USER_AGENT,
            "Accept-Encoding": "gzip, deflate",
        }
        self._logged_in = False
        self._csrf: str | None = None
        self._highlimits: bool | None = None

    def __repr__(self) -> str:
        who = self.user or "anonymous"
        return f"<{type(self).__name__} {self.api_url} as {who}>"

    def close(self) -> None:
        if self._own_client:
            self._http.close()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- transport -------------------------------------------------------------

    def _send(
        self,
        method: str,
        params: Mapping[str, Any],
        *,
        files: Mapping[str, tuple[str, bytes | os.PathLike | str, str]] | None = None,
        idempotent: bool = True,
    ) -> dict:
        """One API call with repeats for lag, overload and broken connections; returns the JSON.

        API errors other than ``maxlag`` are returned, not raised: ``_call`` decides.
        """
        body = _Form(format="json", formatversion="2")
        for k, v in params.items():
            value = _param(v)
            if value is not None:
                body[k] = value
        if self.maxlag is not None:
            body["maxlag"] = str(self.maxlag)
        attempt = 0
        while True:
            opened: list = []
            try:
                kwargs: dict[str, Any] = {"headers": self._headers}
                if method == "GET":
                    kwargs["params"] = body
                else:
                    kwargs["data"] = body
                    if files:
                        kwargs["files"] = _open_files(files, opened)
                self.requests += 1
                resp = self._http.request(method, self.api_url, **kwargs)
            except httpx.TransportError as e:
                wait = self._broken(e, str(params.get("action")), attempt, idempotent)
            else:
                data, wait = self._answer(resp, attempt, idempotent)
                if data is not None:
                    return data
            finally:
                for f in opened:
                    f.close()
            self._sleep(wait)
            attempt += 1

    def _broken(self, e: httpx.TransportError, action: str, attempt: int, idempotent: bool) -> float:
        """The wait before repeating a request whose connection failed; raises when it must not be."""
        reason = str(e) or type(e).__name__
        may_have_arrived = not isinstance(e, _UNSENT_ERRORS)
        if may_have_arrived and not idempotent:
            raise WikiUnreachableError(
                f"the connection to {self.api_url} broke during {action}: {reason}",
                hint="The change may or may not have reached the wiki; check the wiki, then run "
                "the command again (applying resumes where it stopped).",
            ) from e
        if attempt >= self.retries:
            raise WikiUnreachableError(f"cannot reach the wiki at {self.api_url}: {reason}", hint=_HINT_URL) from e
        wait = _backoff(attempt)
        log.debug("%s: %s; repeating in %.1f s", self.api_url, reason, wait)
        return wait

    def _answer(self, resp: httpx.Response, attempt: int, idempotent: bool) -> tuple[dict | None, float]:
        """The API's JSON, or None and the wait before repeating (overload, lag); raises on HTTP errors."""
        self.bytes_received += resp.num_bytes_downloaded
        status = resp.status_code
        retryable = _RETRY_STATUS if idempotent else _RETRY_STATUS_UNSENT
        if status in retryable:
            if attempt >= self.retries:
                raise WikiUnreachableError(
                    f"{self.api_url} answered HTTP {status} {attempt + 1} times",
                    hint="The wiki is overloaded or down for maintenance; try again later.",
                )
            wait = _retry_after(resp) or _backoff(attempt)
            log.debug("%s: HTTP %d; repeating in %.1f s", self.api_url, status, wait)
            return None, wait
        if status != 200:
            if status >= 500 and not idempotent:
                hint = ("The wiki or a proxy in front of it failed; the change may or may not have "
                        "been saved. Check the wiki, then run the command again.")
            elif status >= 500:
                hint = "The wiki failed; its error log may say why. Try again later."
            else:
                hint = _HINT_URL
            raise WikiError(f"{self.api_url} answered HTTP {status} {resp.reason_phrase}", hint=hint, code=f"http-{status}")
        data = _json(resp, self.api_url)
        error = data.get("error")
        if not (isinstance(error, dict) and error.get("code") == "maxlag"):
            return data, 0.0
        if attempt >= self.retries:
            raise WikiUnreachableError(
                f"{self.api_url}: database replication lag stayed above {self.maxlag} s ({error.get('info', '')})",
                hint="The wiki is busy; try again later.",
            )
        wait = _retry_after(resp) or MAXLAG_DEFAULT_WAIT
        log.debug("%s: maxlag; repeating in %.1f s", self.api_url, wait)
        return None, wait

    def _call(
        self,
        params: Mapping[str, Any],
        *,
        post: bool = False,
        token: bool = False,
        files: Mapping[str, tuple[str, Any, str]] | None = None,
        idempotent: bool = True,
    ) -> dict:
        """An authenticated API call; errors become exceptions."""
        if self.user is not None and not self._logged_in:
            self.login()
        relogged = retokened = False
        while True:
            p = dict(params)
            if self._logged_in:
                p["assert"] = "user"
            if token:
                p["token"] = self.csrf_token()
            data = self._send("POST" if post or token else "GET", p, files=files, idempotent=idempotent)
            _log_warnings(data, self.api_url)
            error = data.get("error")
            if not isinstance(error, dict):
                return data
            code = str(error.get("code", "unknown"))
            if code == "badtoken" and token and not retokened:
                retokened = True
                self._csrf = None
                continue
            if code == "assertuserfailed" and self.user is not None and not relogged:
                relogged = True
                self.login()
                continue
            raise self._error(params.get("action", "?"), code, str(error.get("info", "")))

    def _error(self, action: str, code: str, info: str) -> WikiError:
        if code in _RIGHTS_CODES:
            hint = _HINT_RIGHTS
        elif code.startswith("internal_api_error"):
            hint = "The wiki hit an internal error; its exception log has the details. Please report it."
        else:
            hint = _HINTS.get(code)
        return WikiError(self._scrub(f"{self.api_url}: {action} failed: {info} ({code})"), hint=hint, code=code)

    def _scrub(self, text: str) -> str:
        if self._password is not None and self._password.reveal():
            text = text.replace(self._password.reveal(), "<hidden>")
        return text

    # -- session ---------------------------------------------------------------

    def login(self) -> None:
        """Log in with the bot password (``action=login``); raises WikiLoginError."""
        if self.user is None or self._password is None:
            raise UsageError(f"no user name given for {self.api_url}", hint="Give a user name and bot password.")
        self._logged_in = False
        self._csrf = None
        for _ in range(2):  # a login token can expire between the two requests
            data = self._send("GET", {"action": "query", "meta": "tokens", "type": "login"})
            if "error" in data:
                raise self._error("login", str(data["error"].get("code")), str(data["error"].get("info", "")))
            login_token = data["query"]["tokens"]["logintoken"]
            data = self._send(
                "POST",
                _Form(action="login", lgname=self.user, lgpassword=self._password.reveal(), lgtoken=login_token),
            )
            if "error" in data:
                raise self._error("login", str(data["error"].get("code")), str(data["error"].get("info", "")))
            result = data.get("login", {})
            status = result.get("result")
            if status == "Success":
                self._logged_in = True
                return
            if status in ("NeedToken", "WrongToken"):
                continue
            break
        reason = self._scrub(str(result.get("reason") or status or "no reason given"))
        if status == "Throttled":
            hint = f"Too many failed logins; wait {result.get('wait', 'a few')} seconds."
        elif "@" in self.user:
            hint = (
                "Check the user name and bot password: the wiki's Special:BotPasswords lists the "
                "login name (User@app) and can make a new password if this one is lost."
            )
        else:
            hint = (
                "Log in with a bot password: create one at the wiki's Special:BotPasswords and give "
                "the login name it shows (User@app) with the generated password."
            )
        raise WikiLoginError(f"login to {self.api_url} as {self.user} failed: {reason}", hint=hint, code=status)

    def csrf_token(self) -> str:
        if self._csrf is None:
            data = self._call({"action": "query", "meta": "tokens", "type": "csrf"})
            self._csrf = data["query"]["tokens"]["csrftoken"]
        return self._csrf

    # -- reading -----------------------------------------------------------------

    def query(self, params: Mapping[str, Any]) -> Iterator[dict]:
        """Yield every batch of an ``action=query``, following ``continue``; ``params`` is not changed."""
        base = {"action": "query", **params}
        cont: Mapping[str, Any] = {}
        while True:
            data = self._call({**base, **cont})
            yield data
            cont = data.get("continue") or {}
            if not cont:
                return

    def download(self, url: str, *, chunk_size: int = 1 << 16) -> Iterator[bytes]:
        """Stream a file's bytes. Repeats like ``_send`` until the first byte arrives, not after."""
        url = urljoin(self.api_url, url)
        attempt = 0
        while True:
            started = False
            wait: float
            try:
                self.requests += 1
                with self._http.stream("GET", url, headers=self._headers) as resp:
                    try:
                        if resp.status_code == 200:
                            for chunk in resp.iter_bytes(chunk_size):
                                started = True
                                yield chunk
                            return
                        if resp.status_code not in _RETRY_STATUS or attempt >= self.retries:
                            raise WikiError(
                                f"download of {url} failed: HTTP {resp.status_code} {resp.reason_phrase}",
                                hint="The file may have been deleted or renamed on the wiki meanwhile; sync again.",
                                code=f"http-{resp.status_code}",
                            )
                        wait = _retry_after(resp) or _backoff(attempt)
                    finally:
                        self.bytes_received += resp.num_bytes_downloaded
            except httpx.TransportError as e:
                reason = str(e) or type(e).__name__
                if started:
                    raise WikiUnreachableError(f"download of {url} broke off: {reason}", hint=_HINT_URL) from e
                if attempt >= self.retries:
                    raise WikiUnreachableError(f"cannot download {url}: {reason}", hint=_HINT_URL) from e
                wait = _backoff(attempt)
            self._sleep(wait)
            attempt += 1


# -- helpers ----------------------------------------------------------------------


def _param(v: Any) -> str | None:
    """A parameter value as the API wants it: lists joined by |, booleans present or absent."""
    if v is None or v is False:
        return None
    if v is True:
        return "1"
    if isinstance(v, (list, tuple)):
        items = [str(x) for x in v]
        if any("|" in x for x in items):
            return "\x1f" + "\x1f".join(items)  # the API's alternative separator
        return "|".join(items)
    return str(v)


def _open_files(files: Mapping[str, tuple[str, Any, str]], opened: list) -> dict:
    """Multipart parts; paths are opened per attempt so a repeat sends the whole file again."""
    parts = {}
    for name, (filename, source, mime) in files.items():
        if isinstance(source, (bytes, bytearray, memoryview)):
            parts[name] = (filename, bytes(source), mime)
        else:
            try:
                f = open(source, "rb")
            except OSError as e:
                raise UsageError(f"cannot read {source}: {e.strerror}", hint="Check the path.") from None
            opened.append(f)
            parts[name] = (filename, f, mime)
    return parts


def _backoff(attempt: int) -> float:
    return min(BACKOFF_BASE * (2**attempt), BACKOFF_CAP)


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)


def _json(resp: httpx.Response, api_url: str) -> dict:
    try:
        data = resp.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise WikiError(
            f"{api_url} did not answer with MediaWiki API JSON "
            f"(Content-Type {resp.headers.get('Content-Type', 'none')})",
            hint=_HINT_URL,
            code="notapi",
        )
    if "error" not in data and resp.headers.get("MediaWiki-API-Error"):
        data["error"] = {"code": resp.headers["MediaWiki-API-Error"], "info": ""}
    return data


def _log_warnings(data: Mapping[str, Any], api_url: str) -> None:
    for module, w in (data.get("warnings") or {}).items():
        text = w.get("warnings") if isinstance(w, dict) else w
        log.warning("%s: API warning from %s: %s", api_url, module, text)
