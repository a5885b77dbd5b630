"""The typed field checker (bundler/fields.py): the spec's types as msgpack decodes them,
the error kinds, and each region's wording, which people and scripts read."""

import pytest

from bundler import fields
from bundler.container import Header
from bundler.errors import FormatError, LimitError
from bundler.manifest import Manifest


def test_a_bool_is_not_an_int():
    assert fields.is_int(0) and not fields.is_int(True) and not fields.is_int(1.0)
    assert fields.of_type(False, bool) and not fields.of_type(False, int)
    with pytest.raises(FormatError, match="expected an integer, got bool"):
        fields.integer(True, "frame 0")
    with pytest.raises(FormatError, match=r"expected an integer in \[0, 3\), got bool True"):
        fields.integer(True, "blob encoding", 0, 3)


def test_ranges_sizes_and_sha1s():
    assert fields.integer(-5, "ts", -(1 << 63)) == -5
    with pytest.raises(FormatError, match=r"user index: expected an integer in \[0, 2\), got int 2"):
        fields.integer(2, "user index", 0, 2)
    assert fields.size(10, "blob size", 10) == 10
    with pytest.raises(LimitError, match="blob size: 11 bytes, over the limit of 10"):
        fields.size(11, "blob size", 10)
    assert fields.sha1(bytes(range(20)), "sha1") == bytes(range(20)).hex()
    with pytest.raises(FormatError, match="expected a 20-byte sha1"):
        fields.sha1(bytes(19), "sha1")
    with pytest.raises(FormatError, match="expected a string or nil"):
        fields.string_or_nil(b"x", "mime")
    assert fields.string(None, "title", nullable=True) is None
    with pytest.raises(FormatError, match="malformed move record"):
        fields.row([1, 2, 3], 4, "frame 0: malformed move record")


def _header() -> dict:
    return Header(sender="a" * 32, receiver="b" * 32, seq=2, basis_seq=1, basis=bytes(16),
                  checkpoint=bytes(16), created=1, signer="c" * 16).to_wire()


@pytest.mark.parametrize("change, message", [
    ({"seq": True}, "header: field 'seq' is missing or not int"),
    ({"kind": None}, "header: field 'kind' is missing or not str"),
    ({"tool": 3}, "header: field 'tool' must be str"),
    ({"signer": "C" * 16}, "header: sender and receiver must be 32 hex digits, signer 16"),
    ({"ack": [True, bytes(16)]}, r"header: ack must be \[seq > 0, 16-byte checkpoint id\]"),
])
def test_header_wording(change, message):
    with pytest.raises(FormatError, match=f"^{message}$"):
        Header.from_wire({**_header(), **change})


def test_header_counts_and_missing_keys():
    d = _header()
    d["counts"] = {**d["counts"], "pages": "1"}
    with pytest.raises(FormatError, match="^header counts: field 'pages' is missing or not int$"):
        Header.from_wire(d)
    d = _header()
    del d["receiver"]
    with pytest.raises(FormatError, match="^header: field 'receiver' is missing or not str$"):
        Header.from_wire(d)


def test_manifest_wording():
    body = Manifest("a" * 32, "b" * 32, 1, bytes(16), 1, 2, 3).to_wire()
    del body["peer"]
    with pytest.raises(FormatError, match="^manifest: field 'peer' is missing$"):
        Manifest.from_wire(body)
    with pytest.raises(FormatError, match="^manifest: expected int, got bool$"):
        Manifest.from_wire({**Manifest("a" * 32, "b" * 32, 1, bytes(16), 1, 2, 3).to_wire(), "pages": False})
