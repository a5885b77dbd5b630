"""The byte tables and constants of formats/BUNDLE.md and MANIFEST.md against the code.

Each table in the specs is preceded by a marker comment naming what it
describes: ``<!-- struct: container.HEADER_FIXED -->`` (an
``Offset | Size | Type | Field`` table, checked against the ``struct.Struct``),
``<!-- constants -->`` (``Name | Value | Code``), ``<!-- map: ... -->`` (the keys
of a msgpack map, checked against what the writer produces) and
``<!-- columns: records._REV_COLS -->``. So spec and code cannot drift apart.
"""

from __future__ import annotations

import os
import re
import struct

import pytest

from bundler import coder, compact, container, files, frame_reader, identity, manifest, parts, records, wire
from bundler.model import Page, PageId, RevId, Revision

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPECS = [os.path.join(ROOT, "formats", n) for n in ("BUNDLE.md", "MANIFEST.md")]
MODULES = {"coder": coder, "compact": compact, "files": files, "container": container, "manifest": manifest, "records": records, "frame_reader": frame_reader, "wire": wire, "identity": identity,
           "parts": parts}
TYPES = {"u8": "B", "u16": "H", "u32": "I", "u64": "Q"}


def tables(kind: str) -> list[tuple[str, str, list[list[str]]]]:
    """(spec file, marker argument, rows) for every table marked ``<!-- kind... -->``."""
    out = []
    for path in SPECS:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        for i, line in enumerate(lines):
            m = re.fullmatch(rf"<!-- {kind}:?\s*(\S*) -->", line.strip())
            if not m:
                continue
            rows = []
            for row in lines[i + 3 :]:  # marker, header row, separator
                if not row.startswith("|"):
                    break
                rows.append([c.strip() for c in re.split(r"(?<!\\)\|", row.strip())[1:-1]])
            assert rows, f"{path}: marker {line!r} is not followed by a table"
            out.append((os.path.basename(path), m.group(1), rows))
    return out


def resolve(name: str):
    mod, attr = name.split(".", 1)
    return getattr(MODULES[mod], attr)


def code_name(cell: str) -> str:
    m = re.match(r"`([^`]+)`", cell)
    assert m, f"no `name` in {cell!r}"
    return m.group(1)


def hex_value(cell: str) -> bytes | None:
    m = re.search(r"`((?:[0-9A-F]{2} )*[0-9A-F]{2})`", cell)
    return bytes.fromhex(m.group(1)) if m else None


STRUCT_TABLES = tables("struct")


def test_every_struct_is_described():
    described = {name for _, name, _ in STRUCT_TABLES}
    assert described == {
        "container.HEADER_FIXED", "container.FRAME_FIXED", "container.TRAILER", "container.SIGNATURE",
        "compact.COMPACT_FIXED", "compact.COMPACT_TRAILER", "compact.COMPACT_SIGNATURE", "manifest.FIXED", "manifest.SIG",
        "parts.PART_HEADER",
    }


@pytest.mark.parametrize("spec,name,rows", STRUCT_TABLES, ids=[t[1] for t in STRUCT_TABLES])
def test_struct_tables_match_code(spec, name, rows):
    st: struct.Struct = resolve(name)
    fmt = ">"
    offset = 0
    for off, size, typ, field in rows:
        assert int(off) == offset, f"{spec} {name} {field[:20]}: offset {off}, expected {offset}"
        if typ in TYPES:
            fmt += TYPES[typ]
            assert int(size) == struct.calcsize(">" + TYPES[typ]), f"{spec} {name}: {typ} is not {size} bytes"
        else:
            m = re.fullmatch(r"byte\[(\d+)\]", typ)
            assert m and int(m.group(1)) == int(size), f"{spec} {name}: type {typ!r} vs size {size}"
            fmt += f"{size}s"
        offset += int(size)
        value = hex_value(field)
        if code_name(field) == "magic":
            assert value is not None, f"{spec} {name}: magic row without its bytes"
            magic = {"container.HEADER_FIXED": container.MAGIC, "container.TRAILER": container.TRAILER_MAGIC,
                     "compact.COMPACT_FIXED": container.MAGIC,
                     "manifest.FIXED": manifest.MAGIC, "parts.PART_HEADER": parts.PART_MAGIC}[name]
            assert value == magic
        if code_name(field) == "version":
            version = "compact.VERSION_COMPACT" if name == "compact.COMPACT_FIXED" else name.split(".")[0] + ".VERSION"
            assert re.search(r"= (\d+)", field).group(1) == str(resolve(version))
    assert fmt == st.format, f"{spec} {name}: the table gives {fmt}, the code {st.format}"
    assert offset == st.size


CONSTANT_ROWS = [(spec, row) for spec, _, rows in tables("constants") for row in rows]


@pytest.mark.parametrize("spec,row", CONSTANT_ROWS, ids=[r[2].strip("`") for _, r in CONSTANT_ROWS])
def test_constants_match_code(spec, row):
    _name, value, code = row
    actual = resolve(code.strip("`"))
    if isinstance(actual, bytes):
        assert hex_value(value) == actual, f"{spec}: {code} is {actual.hex(' ').upper()}"
    elif isinstance(actual, int):
        assert int(value) == actual, f"{spec}: {code} is {actual}"
    elif isinstance(actual, str):
        assert value.strip().strip("`") == actual, f"{spec}: {code} is {actual!r}"
    elif isinstance(actual, (frozenset, tuple)):
        listed = re.findall(r"`([^`]+)`", value)
        assert (listed if isinstance(actual, tuple) else set(listed)) == (list(actual) if isinstance(actual, tuple) else set(actual))
    else:
        pytest.fail(f"{spec}: cannot compare {code} of type {type(actual).__name__}")


def test_limits_in_prose_match_the_constants():
    with open(SPECS[0], encoding="utf-8") as f:
        text = f.read()
    assert container.MAX_HEADER_LEN == 64 * 1024 and "65,536" in text
    assert container.MAX_META_LEN == 1 << 20 and container.MAX_RAW_LEN == 64 << 20
    assert container.MAX_COMP_LEN == (64 << 20) + (1 << 20)
    assert container.TAIL_LEN == 116 and "file size − 116" in text
    assert container.COMPACT_TAIL_LEN == 72 and "+ 72" in text and "last 72 bytes" in text
    assert len(container.COMPACT_SIGNATURE_CONTEXT) == 24
    assert frame_reader.wire_max_text() == 64 << 20 and "64 Mi characters" in text
    assert len(container.SIGNATURE_CONTEXT) == 24 and len(manifest.SIGNATURE_CONTEXT) == 23


def _written_maps() -> dict[str, set[str]]:
    fb = records.FrameBuilder()
    page = Page(PageId(1), 0, "A")
    fb.add_revision(page, Revision(RevId(1), PageId(1), 0, "x\n"), None, None)
    meta, body, raw_len = fb.build(level=1, coder="zstd")
    ppmd_meta = fb.build(coder="ppmd")[0]
    payload = wire.unpackb(wire.decompress(body, expected_size=raw_len, what="t"), what="t")
    h = container.Header(sender="0" * 32, receiver="1" * 32, seq=1, basis_seq=0, basis=bytes(16),
                         checkpoint=bytes(16), created=0, signer="0" * 16,
                         ack_seq=1, ack=bytes(16), notices=("n",))  # optional keys: written when set
    m = manifest.Manifest("0" * 32, "1" * 32, 1, bytes(16), 0, 0, 0, files_held=bytes(20))  # optional key: written when set
    fm, fp, bm = _written_file_maps()
    return {
        "files-meta": fm,
        "files-payload": fp,
        "blob-meta": bm,
        "container.Header": set(h.to_wire()),
        "container.Counts": set(container.Counts().to_wire()),
        "meta": set(meta),
        "meta-ppmd": set(ppmd_meta) - set(meta),  # the keys a ppmd7-primed frame adds
        "payload": set(payload),
        "manifest.Manifest": set(m.to_wire()),
    }


def _written_file_maps() -> tuple[set[str], set[str], set[str]]:
    """The maps of a files frame and a blob frame, as carry_files writes them."""
    import io
    import tempfile

    from bundler.model import FileVersion
    from bundler.state import State

    data = b"<svg>" + b"x" * 100 + b"</svg>"
    fv = FileVersion("A.svg", 0, __import__("hashlib").sha1(data).hexdigest(), len(data))

    class Source:
        def versions(self):
            return [fv]

        def open(self, sha1):
            return io.BytesIO(data)

    class Writer:
        frame_bytes = 0
        frames: list = []

        def add_frame(self, meta, body, raw_len, ftype=container.FRAME_RECORDS):
            self.frames.append((ftype, meta, body, raw_len))

    with tempfile.TemporaryDirectory() as d:
        st = State(os.path.join(d, "state.sqlite"))
        w = Writer()
        files.carry_files(st, st.peer_view("p", []), 1, Source(), w)
        st.db.close()
    (ft, fmeta, fbody, fraw), (bt, bmeta, _b, _r) = w.frames
    assert (ft, bt) == (container.FRAME_FILES, container.FRAME_BLOB)
    payload = wire.unpackb(wire.decompress(fbody, expected_size=fraw, what="t"), what="t")
    return set(fmeta), set(payload), set(bmeta)


MAP_TABLES = tables("map")


@pytest.mark.parametrize("spec,name,rows", MAP_TABLES, ids=[t[1] for t in MAP_TABLES])
def test_maps_match_code(spec, name, rows):
    listed = [code_name(r[0]) for r in rows]
    assert len(listed) == len(set(listed))
    assert set(listed) == _written_maps()[name], f"{spec}: the {name} table lists {sorted(listed)}"


def test_every_map_is_described():
    assert {name for _, name, _ in MAP_TABLES} == set(_written_maps())


def test_compact_header_keys_match_code():
    (spec, name, rows), = tables("keys")
    assert {int(r[0]): code_name(r[1]) for r in rows} == resolve(name)
    # no signer (the signature block's), sender (the signer's wiki), checkpoint (the body's hash)
    assert set(resolve(name).values()) == set(container.Header.__slots__) - {"signer", "ack_seq", "sender", "checkpoint"}


def test_compact_positions_match_code():
    described = tables("positions")
    assert {name for _, name, _ in described} == {"compact._META_CORE", "records._PAYLOAD_KEYS"}
    for spec, name, rows in described:
        assert [int(r[0]) for r in rows] == list(range(len(rows)))
        assert tuple(code_name(r[1]) for r in rows) == resolve(name)


def test_rev_columns_match_code():
    described = tables("columns")
    assert {name for _, name, _ in described} == {"records._REV_COLS", "files._FILE_COLS"}
    for spec, name, rows in described:
        assert tuple(code_name(r[0]) for r in rows) == resolve(name)


def test_vectors_named_in_the_specs_exist():
    """Where the spec pins a verdict with 'vector `NAME`', that vector is in formats/vectors/INDEX."""
    with open(os.path.join(ROOT, "formats", "vectors", "INDEX"), encoding="utf-8") as f:
        index = {line.split("\t")[0] for line in f if line.strip()}
    named = set()
    for path in SPECS:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for clause in re.findall(r"\b[Vv]ectors?:?\s+([^.;|()]*)", text):
            named |= set(re.findall(r"`([a-z0-9]+(?:-[a-z0-9]+)+)`", clause))
    named -= {"records-v1", "char-delta-v1", "files-v1"}
    assert len(named) > 30  # the regex finds them: a typo in it would make this test pass vacuously
    assert named <= index, f"named in the specs but not vectors: {sorted(named - index)}"
