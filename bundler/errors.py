"""One exception tree for everything a user can get wrong or a file can carry wrong.

    BundleError                      exit 1   base; carries message, hint, exit code
    ├── UsageError                   exit 2   a command was called in a way that cannot work
    ├── StateError                   exit 3   the state directory is missing, locked or damaged
    │   └── LockedError              exit 4   another command holds this side's lock
    ├── DumpError                    exit 10  an XML dump cannot be read (malformed, unknown schema)
    ├── FormatError                  exit 20  a bundle or manifest is not well formed
    │   ├── TruncatedError           exit 21  it ends before its declared end
    │   ├── VersionError             exit 22  unknown format version or mandatory capability
    │   └── LimitError               exit 23  a declared size exceeds what a reader accepts
    ├── IntegrityError               exit 30  a hash does not match (damaged in transit)
    ├── SignatureError               exit 31  the signature does not verify
    ├── UntrustedKeyError            exit 32  signed by a key this side does not trust
    ├── WrongPeerError               exit 33  made for another wiki, or by a wiki we did not expect
    ├── BasisError                   exit 34  this side does not hold what the bundle builds on
    ├── StaleBundleError             exit 35  an older bundle, superseded by one already applied
    ├── ContentError                 exit 36  the bundle's content does not fit this side's store
    ├── KeyFileError                 exit 40  a key file is unreadable, malformed or too open
    └── WikiError                    exit 50  a MediaWiki API call failed; ``code`` is the API's error code
        ├── WikiUnreachableError     exit 51  no usable answer from the wiki (connection, timeout, 5xx) after retries
        └── WikiLoginError           exit 52  the wiki refused the login (wrong user name or bot password)

Library code raises these and never prints or exits; ``bundler.cli`` turns them into
one message, one hint and the exit code. The codes are part of the command-line
interface (documented in the README) so scripts can tell the kinds apart.
"""

from __future__ import annotations


class BundleError(Exception):
    exit_code = 1
    kind = "error"

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(BundleError):
    exit_code = 2
    kind = "usage"


class StateError(BundleError):
    exit_code = 3
    kind = "state"


class LockedError(StateError):
    exit_code = 4
    kind = "locked"


class DumpError(BundleError):
    exit_code = 10
    kind = "dump"


class FormatError(BundleError):
    exit_code = 20
    kind = "format"


class TruncatedError(FormatError):
    exit_code = 21
    kind = "truncated"


class VersionError(FormatError):
    exit_code = 22
    kind = "version"


class LimitError(FormatError):
    exit_code = 23
    kind = "limit"


class IntegrityError(BundleError):
    exit_code = 30
    kind = "integrity"


class SignatureError(BundleError):
    exit_code = 31
    kind = "signature"


class UntrustedKeyError(BundleError):
    exit_code = 32
    kind = "untrusted"


class WrongPeerError(BundleError):
    exit_code = 33
    kind = "wrong-peer"


class BasisError(BundleError):
    exit_code = 34
    kind = "basis"


class StaleBundleError(BundleError):
    exit_code = 35
    kind = "stale"


class ContentError(BundleError):
    exit_code = 36
    kind = "content"


class KeyFileError(BundleError):
    exit_code = 40
    kind = "key"


class WikiError(BundleError):
    exit_code = 50
    kind = "wiki"

    def __init__(self, message: str, hint: str | None = None, code: str | None = None):
        super().__init__(message, hint)
        self.code = code  # MediaWiki's error code ("editconflict", "missingtitle", ...), if any


class WikiUnreachableError(WikiError):
    exit_code = 51
    kind = "unreachable"


class WikiLoginError(WikiError):
    exit_code = 52
    kind = "login"
