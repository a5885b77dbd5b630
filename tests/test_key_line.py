"""The key line (formats/BUNDLE.md §Conventions, "Key line"): what `bundle trust` accepts."""

from __future__ import annotations

import base64

import pytest

from bundler.errors import KeyFileError
from bundler.signing import KEY_LINE_PREFIX, parse_key_line

WIKI = "0123456789abcdef0123456789abcdef"
KEY = bytes(range(32))
B64 = base64.urlsafe_b64encode(KEY).decode().rstrip("=")


def line(b64: str, label: str = " school") -> str:
    return f"{KEY_LINE_PREFIX} {WIKI} {b64}{label}\n"


def test_unpadded_and_padded_keys_are_read():
    assert parse_key_line(line(B64), source="k").public == KEY
    assert parse_key_line(line(B64 + "="), source="k").public == KEY
    assert parse_key_line("# a comment\n\n" + line(B64, ""), source="k").label == ""


@pytest.mark.parametrize("damage", [
    lambda b: b[:20] + "!" + b[21:],        # a character outside base64url
    lambda b: b[:20] + "*" + b[20:],        # one inserted: base64 would skip it
    lambda b: b[:20] + "+" + b[21:],        # standard base64, not base64url
    lambda b: b[:-1],                       # cut short
    lambda b: b + "A",                      # too long
    lambda b: b + "==",                     # over-padded
])
def test_a_damaged_key_is_refused(damage):
    with pytest.raises(KeyFileError, match="not 32 bytes"):
        parse_key_line(line(damage(B64)), source="k")
