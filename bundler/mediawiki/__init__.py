"""The MediaWiki Action API, as the one place in wikibundle that talks to a live wiki.

``MediaWikiClient`` wraps ``api.php`` over httpx: ``format=json&formatversion=2``,
bot-password login, a cached CSRF token, POST bodies for every write module, and
``query()``, a continuation generator. The package is split by concern:

* ``session.py``: ``Session``, sending, repeats and backoff, login, tokens, the
  mapping of API errors to ``WikiError`` with hints, secrets kept out of reprs;
* ``api.py``: ``MediaWikiClient``, the typed reading calls (revisions by id,
  page histories, deleted revisions, page info, file info, logs, listings);
* ``write.py``: import, upload, edit, move, delete, undelete, merge history;
* ``records.py``: what the calls return (``WikiInfo``, ``LogEvent``, ...) and the
  parsers from API JSON.

No Action API parameters are built outside this package.
"""

from .api import MediaWikiClient
from .records import ApiFileInfo, EditResult, Fields, LogEvent, PageLatest, StoredFile, WikiInfo
from .session import TITLES_PER_REQUEST, USER_AGENT, Session

__all__ = [
    "ApiFileInfo", "EditResult", "Fields", "LogEvent", "MediaWikiClient", "PageLatest", "Session", "StoredFile",
    "TITLES_PER_REQUEST", "USER_AGENT", "WikiInfo",
]
