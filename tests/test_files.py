"""Files (uploads) through the whole pipeline: dump → make → apply → export.

The bytes are real files (tests/data/files/: a JPEG, a PNG and two versions of an
SVG icon shipped with MediaWiki 1.39) plus PNGs drawn here with zlib; the dumps
are written in the format of ``dumpBackup.php --uploads --include-files`` (see
docs/MEDIAWIKI_FINDINGS.md §4), since none of the real dumps we have carries
``<upload>``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import random
import struct
import zlib

import pytest

from bundler import errors, wire
from bundler.container import COMPACT_IMPLIED, FILES_CAPABILITY, FRAME_BLOB, FRAME_FILES, BundleReader
from bundler.files import ENC_DELTA, ENC_RAW, ENC_ZSTD, sniff
from bundler.files_import import decode_files_frame
from bundler.model import format_timestamp, sha1_to_base36
from bundler.sources.dump import open_dump

from helpers import cli_sides, data, file_digest, new_pair, run_cli  # noqa: F401 (fixture)

JPG = data("files/headbg.jpg")
PNG = data("files/installer-logo.png")
SVG1 = data("files/betafeatures-icon-WikitextEditor-ltr.svg")
SVG2 = data("files/betafeatures-icon-WikitextEditor-rtl.svg")


def read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def png(w: int, h: int, rgb: tuple[int, int, int]) -> bytes:
    """A real PNG (RGB, 8 bit): a disc of colour ``rgb`` on white."""
    rows = b""
    for y in range(h):
        row = b"\x00"
        for x in range(w):
            inside = (x - w / 2) ** 2 + (y - h / 2) ** 2 < (min(w, h) / 3) ** 2
            row += bytes(rgb) if inside else b"\xff\xff\xff"
        rows += row

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(
        b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


RED = png(64, 48, (220, 0, 0))
BLUE = png(64, 48, (0, 0, 220))

T0 = 1700000000


def upload_xml(name: str, ts: int, content: bytes, comment: str, *, contents: bool = True) -> str:
    b64 = base64.b64encode(content).decode()
    # dumpBackup.php wraps nothing; wrap anyway to prove whitespace inside base64 is read
    b64 = "\n".join(b64[i : i + 76] for i in range(0, len(b64), 76))
    return (
        "    <upload>\n"
        f"      <timestamp>{format_timestamp(ts)}</timestamp>\n"
        "      <contributor><username>Admin</username><id>1</id></contributor>\n"
        f"      <comment>{comment}</comment>\n"
        f"      <filename>{name}</filename>\n"
        f"      <src>http://127.0.0.1:8101/images/x/xx/{name}</src>\n"
        f"      <size>{len(content)}</size>\n"
        f"      <sha1base36>{sha1_to_base36(hashlib.sha1(content).hexdigest())}</sha1base36>\n"
        f"      <rel>x/xx/{name}</rel>\n"
        + (f'      <contents encoding="base64">{b64}</contents>\n' if contents else "")
        + "    </upload>\n"
    )


def page_xml(page_id: int, title: str, ns: int, ts: int, text: str, uploads: list[tuple[str, int, bytes, str]], **kw) -> str:
    return (
        f"  <page>\n    <title>{title}</title>\n    <ns>{ns}</ns>\n    <id>{page_id}</id>\n"
        f"    <revision>\n      <id>{page_id * 10}</id>\n      <timestamp>{format_timestamp(ts)}</timestamp>\n"
        "      <contributor><username>Admin</username><id>1</id></contributor>\n"
        f"      <model>wikitext</model>\n      <format>text/x-wiki</format>\n"
        f'      <text xml:space="preserve">{text}</text>\n    </revision>\n'
        + "".join(upload_xml(*u, **kw) for u in uploads)
        + "  </page>\n"
    )


def write_dump(path: str, pages: list[str]) -> str:
    with open(path, "w", encoding="utf-8") as f:
        f.write('<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" version="0.11" xml:lang="en">\n')
        f.write("  <siteinfo><sitename>Files</sitename><case>first-letter</case><namespaces>"
                '<namespace key="0" case="first-letter" /><namespace key="6" case="first-letter">File</namespace>'
                "</namespaces></siteinfo>\n")
        f.writelines(pages)
        f.write("</mediawiki>\n")
    return path


def first_dump(tmp: str) -> str:
    return write_dump(os.path.join(tmp, "files1.xml"), [
        page_xml(1, "Main Page", 0, T0, "Welcome. [[File:Headbg.jpg]]", []),
        page_xml(2, "File:Headbg.jpg", 6, T0 + 10, "MonoBook header", [("Headbg.jpg", T0 + 10, read(JPG), "header")]),
        page_xml(3, "File:Installer logo.png", 6, T0 + 20, "logo", [("Installer_logo.png", T0 + 20, read(PNG), "logo")]),
        page_xml(4, "File:Wikitext editor.svg", 6, T0 + 30, "icon", [("Wikitext_editor.svg", T0 + 30, read(SVG1), "ltr")]),
        page_xml(5, "File:Red dot.png", 6, T0 + 40, "a dot", [("Red_dot.png", T0 + 40, RED, "red")]),
    ])


def second_dump(tmp: str) -> str:
    """The same wiki later: the SVG and the dot re-uploaded, and the logo uploaded
    again under another name (same bytes)."""
    return write_dump(os.path.join(tmp, "files2.xml"), [
        page_xml(1, "Main Page", 0, T0, "Welcome. [[File:Headbg.jpg]]", []),
        page_xml(2, "File:Headbg.jpg", 6, T0 + 10, "MonoBook header", [("Headbg.jpg", T0 + 10, read(JPG), "header")]),
        page_xml(3, "File:Installer logo.png", 6, T0 + 20, "logo", [("Installer_logo.png", T0 + 20, read(PNG), "logo")]),
        page_xml(4, "File:Wikitext editor.svg", 6, T0 + 30, "icon", [
            ("Wikitext_editor.svg", T0 + 30, read(SVG1), "ltr"), ("Wikitext_editor.svg", T0 + 100, read(SVG2), "mirrored for rtl")]),
        page_xml(5, "File:Red dot.png", 6, T0 + 40, "a dot", [
            ("Red_dot.png", T0 + 40, RED, "red"), ("Red_dot.png", T0 + 110, BLUE, "blue now")]),
        page_xml(6, "File:Logo copy.png", 6, T0 + 120, "copy", [("Logo_copy.png", T0 + 120, read(PNG), "same bytes again")]),
    ])


def bundle_files(path: str, side) -> tuple[list, list, int]:
    """(versions, blobs, bytes in blob frames) of a bundle, from the real reader."""
    versions, blobs, stored = [], [], 0
    with BundleReader(path) as r:
        r.verify(side.state.peer_by_key_id)
        for i, fr in enumerate(r.frames()):
            if fr.type == FRAME_FILES:
                v, b = decode_files_frame(fr, f"frame {i}")
                versions += v
                blobs += b
            elif fr.type == FRAME_BLOB:
                stored += len(fr.body)
    return versions, blobs, stored


def store_files(side) -> list[tuple]:
    """(name, timestamp, sha1, size, sha1 of the stored bytes) of every file version."""
    store = side.store()
    try:
        return [(v.name, v.timestamp, v.sha1, v.size, hashlib.sha1(store.blob_bytes(v.sha1)).hexdigest())
                for v in store.file_versions()]
    finally:
        store.close()


def dump_files(path: str) -> list[tuple]:
    with open_dump(path) as d:
        for _ in d:
            pass
        return [(v.name, v.timestamp, v.sha1, v.size, hashlib.sha1(d.files.open(v.sha1).read()).hexdigest())
                for v in d.files.versions()]


def test_sniff_finds_compressed_media_by_magic_bytes():
    assert sniff(read(JPG)[:64]) == ("image/jpeg", True)
    assert sniff(read(PNG)[:64]) == ("image/png", True)
    assert sniff(RED[:64]) == ("image/png", True)
    assert sniff(read(SVG1)[:64]) == ("image/svg+xml", False)
    assert sniff(b"just text") == (None, False)


def test_dump_reader_reads_uploads_and_checks_their_sha1(tmp_path):
    got = dump_files(second_dump(str(tmp_path)))
    assert [g[0] for g in got] == ["Headbg.jpg", "Installer_logo.png", "Logo_copy.png", "Red_dot.png", "Red_dot.png",
                                   "Wikitext_editor.svg", "Wikitext_editor.svg"]
    assert all(sha == actual for _n, _t, sha, _s, actual in got)
    assert got[0][2] == hashlib.sha1(read(JPG)).hexdigest() and got[0][3] == os.path.getsize(JPG)
    bad = write_dump(str(tmp_path / "bad.xml"), [page_xml(2, "File:X.png", 6, T0, "x", [("X.png", T0, RED, "x")])])
    with open(bad) as f:
        text = f.read()
    b64 = base64.b64encode(RED).decode()
    with open(bad, "w") as f:  # other bytes under the same sha1base36
        f.write(text.replace(b64[:76], base64.b64encode(BLUE).decode()[:76]))
    with pytest.raises(errors.DumpError, match="do not match"):
        dump_files(bad)


def test_uploads_without_contents_are_skipped_and_counted_or_taken_from_files_dir(tmp_path):
    dump = write_dump(str(tmp_path / "nocontents.xml"), [
        page_xml(5, "File:Red dot.png", 6, T0, "a dot", [("Red_dot.png", T0, RED, "red")], contents=False)])
    with open_dump(dump) as d:
        list(d)
        assert d.files.versions() == [] and d.files.skipped == 1
    images = tmp_path / "images" / "x" / "xx"
    images.mkdir(parents=True)
    (images / "Red_dot.png").write_bytes(RED)
    with open_dump(dump, files_dir=str(tmp_path / "images")) as d:
        list(d)
        (v,) = d.files.versions()
        assert v.sha1 == hashlib.sha1(RED).hexdigest() and d.files.skipped == 0
    (images / "Red_dot.png").write_bytes(BLUE)  # another version than the dump's: skipped, not taken
    with open_dump(dump, files_dir=str(tmp_path / "images")) as d:
        list(d)
        assert d.files.versions() == [] and d.files.skipped == 1


def test_files_carried_make_apply_same_bytes_then_only_what_is_new(tmp_path):
    tmp = str(tmp_path)
    pair = new_pair(tmp)
    d1, d2 = first_dump(tmp), second_dump(tmp)

    made1, applied1 = pair.carry(d1, 1)
    assert store_files(pair.school) == dump_files(d1)
    assert applied1.files_added == 4 and applied1.blobs_added == 4
    versions, blobs, stored = bundle_files(made1.path, pair.school)
    enc = {sha: (e, size, st) for sha, size, e, _b, st in blobs}
    # JPEG and PNG travel as they are (no zstd pass); the SVG is compressed.
    for path_or_bytes in (JPG, PNG):
        assert enc[hashlib.sha1(read(path_or_bytes)).hexdigest()][0] == ENC_RAW
    assert enc[hashlib.sha1(RED).hexdigest()][0] == ENC_RAW
    e, size, st = enc[hashlib.sha1(read(SVG1)).hexdigest()]
    assert e == ENC_ZSTD and st < size / 2
    with BundleReader(made1.path) as r:
        assert FILES_CAPABILITY in r.header.capabilities
        assert r.header.breakdown["files"]["versions"] == 4 and r.header.breakdown["files"]["stored"] == stored

    made2, applied2 = pair.carry(d2, 2)
    assert store_files(pair.school) == dump_files(d2)
    versions, blobs, stored = bundle_files(made2.path, pair.school)
    assert sorted(v.name for v in versions) == ["Logo_copy.png", "Red_dot.png", "Wikitext_editor.svg"]
    # The copy of the logo names bytes the school holds: zero bytes travel for it.
    by_sha = {b[0]: b for b in blobs}
    assert set(by_sha) == {hashlib.sha1(read(SVG2)).hexdigest(), hashlib.sha1(BLUE).hexdigest()}
    svg2 = by_sha[hashlib.sha1(read(SVG2)).hexdigest()]
    assert svg2[2] == ENC_DELTA and svg2[3] == hashlib.sha1(read(SVG1)).hexdigest()
    alone = len(wire.compress(read(SVG2), level=19))
    assert svg2[4] < alone  # the delta is smaller than the file compressed on its own
    # The re-uploaded PNG: never plain zstd (compressed media); a delta against the red
    # version (same header and palette) where that is smaller, else raw.
    blue = by_sha[hashlib.sha1(BLUE).hexdigest()]
    assert blue[2] in (ENC_RAW, ENC_DELTA) and blue[4] <= len(BLUE)
    assert stored == svg2[4] + blue[4]
    assert applied2.files_added == 3 and applied2.blobs_added == 2

    made3, applied3 = pair.carry(d2, 3)  # nothing new
    assert bundle_files(made3.path, pair.school) == ([], [], 0)
    with BundleReader(made3.path) as r:
        assert r.header.capabilities == COMPACT_IMPLIED  # implied by the compact form: none listed


def test_a_corrupted_blob_is_refused_before_anything_changes(tmp_path):
    """Bytes that do not match their sha1, re-signed by the sender's key so that
    only the sha1 check can catch them: a content error, and the store, the
    received checkpoints and the manifests stay as they were."""
    from bundler.container import seal

    tmp = str(tmp_path)
    pair = new_pair(tmp)
    made = pair.make(first_dump(tmp), "b1.bundle")
    with open(made.path, "rb") as f:
        good = f.read()
    at = good.find(RED)
    assert at > 0  # a raw blob: its bytes are in the bundle as they are
    with BundleReader(made.path) as r:
        body = bytearray(good[: r.body_len])
    body[at + len(RED) // 2] ^= 0x01
    bad = tmp_path / "bad.bundle"
    bad.write_bytes(seal(bytes(body), pair.hq.secret_key()))
    wiki = pair.school.wiki_path
    before = file_digest(wiki), store_files(pair.school)
    with pytest.raises(errors.ContentError, match="do not match their sha1"):
        pair.apply(str(bad), "m1.wbm")
    assert (file_digest(wiki), store_files(pair.school)) == before
    assert pair.school.state.last_received(pair.hq.wiki_id) is None
    assert not os.path.exists(os.path.join(tmp, "m1.wbm"))
    assert pair.apply(made.path, "m1.wbm").files_added == 4  # the good copy still applies


def test_files_wait_under_max_size_smaller_first(tmp_path):
    tmp = str(tmp_path)
    pair = new_pair(tmp)
    d1 = first_dump(tmp)
    # Room for the pages and the small files, not for the 16 KB logo.
    made = pair.make(d1, "b1.bundle", max_size=14_000)
    versions, blobs, stored = bundle_files(made.path, pair.school)
    assert made.size <= 14_000
    assert "Installer_logo.png" not in {v.name for v in versions}
    assert {v.name for v in versions} == {"Headbg.jpg", "Red_dot.png", "Wikitext_editor.svg"}
    assert made.deferred == 1
    pair.apply(made.path, "m1.wbm")
    rest = pair.make(d1, "b2.bundle", max_size=40_000, cont=True)
    versions, _, _ = bundle_files(rest.path, pair.school)
    assert [v.name for v in versions] == ["Installer_logo.png"] and rest.deferred == 0
    pair.apply(rest.path, "m2.wbm")
    assert store_files(pair.school) == dump_files(d1)


def test_export_writes_uploads_that_read_back_the_same(tmp_path):
    tmp = str(tmp_path)
    pair = new_pair(tmp)
    d2 = second_dump(tmp)
    pair.carry(d2, 1)
    out = tmp_path / "school.xml"
    run_cli("export", "-C", pair.school.path, "--out", out)
    text = out.read_text()
    assert text.count("<upload>") == 7 and text.count('<contents encoding="base64">') == 7
    assert text.count("<archivename>") == 2  # the old versions of the dot and the icon
    assert dump_files(str(out)) == dump_files(d2)


def test_cli_make_inspect_apply_with_files(cli_sides):
    tmp, hq, school = cli_sides
    d1 = first_dump(str(tmp))
    r = run_cli("make", "-C", hq, "--from", d1, "--out", tmp / "b1.bundle", "--json")
    assert '"versions": 4' in r.output
    r = run_cli("inspect", tmp / "b1.bundle")
    assert "files" in r.output and "4 versions" in r.output
    run_cli("apply", "-C", school, tmp / "b1.bundle")


@pytest.mark.mediawiki
def test_exported_files_import_into_real_mediawiki(mediawiki, tmp_path):
    """importDump.php --uploads loads what `bundle export` writes: every version of
    every file, with its bytes (sha1) and upload time, read back over the Action API."""
    from bundler.mediawiki import MediaWikiClient

    d2 = second_dump(str(tmp_path))
    pair = new_pair(str(tmp_path))
    pair.carry(d2, 1)
    xml = tmp_path / "school.xml"
    run_cli("export", "-C", pair.school.path, "--out", xml)
    mediawiki.run_maintenance("importDump.php", "--uploads", str(xml))
    client = MediaWikiClient(mediawiki.api_url, mediawiki.bot_user, mediawiki.bot_password)
    want: dict[str, list[tuple]] = {}
    for name, ts, sha1, size, _actual in dump_files(d2):
        want.setdefault("File:" + name.replace("_", " "), []).append((sha1, ts, size))
    got = client.imageinfo(want)
    assert {t: sorted((v.sha1, v.timestamp, v.size) for v in vs) for t, vs in got.items()} == \
        {t: sorted(vs) for t, vs in want.items()}


class _Trickle:
    """A stream that hands out a few bytes per read, so every tag and every base64
    run is cut somewhere."""

    def __init__(self, data: bytes, step: int):
        self.data, self.step, self.at = data, step, 0

    def read(self, n: int) -> bytes:
        out = self.data[self.at : self.at + min(n, self.step)]
        self.at += len(out)
        return out


@pytest.mark.parametrize("step", [1, 3, 7, 64, 1 << 20])
def test_contents_are_decoded_while_the_xml_streams_past_whatever_the_reads(tmp_path, step):
    """The base64 of <contents> never reaches the XML parser: it is decoded into a
    file as it passes, cut anywhere by the reads, and a marker stands in its place."""
    from bundler.sources.dump_files import SPOOL_MARK, DumpFiles, _SpoolContents

    xml = open(second_dump(str(tmp_path)), "rb").read()
    files = DumpFiles()
    try:
        spooler = _SpoolContents(_Trickle(xml, step), files)
        out = b""
        buf = bytearray(4096)
        while n := spooler.readinto(buf):
            out += bytes(buf[:n])
        assert out.count(SPOOL_MARK.encode()) == xml.count(b"<contents") == 7
        assert len(out) < len(xml) // 10 and out.count(b"</contents>") == 7
        decoded = []
        for path, sink in files._spools:
            assert sink.error is None
            decoded.append(hashlib.sha1(open(path, "rb").read()).hexdigest())
        want = [hashlib.sha1(b).hexdigest() for b in (read(JPG), read(PNG), read(SVG1), read(SVG2), RED, BLUE, read(PNG))]
        assert decoded == want
    finally:
        files.close()


def test_a_file_of_many_blob_frames_arrives_whole(tmp_path):
    """9 MB (random bytes behind a JPEG signature: raw, no zstd pass) travels in
    three 4 MiB blob frames, is stored in 1 MiB chunks, and comes back the same."""
    big = b"\xff\xd8\xff\xe0" + random.Random(5).randbytes(9 << 20)
    tmp = str(tmp_path)
    pair = new_pair(tmp)
    dump = write_dump(os.path.join(tmp, "big.xml"), [page_xml(2, "File:Big.jpg", 6, T0, "big", [("Big.jpg", T0, big, "9 MB")])])
    made, applied = pair.carry(dump, 1)
    with BundleReader(made.path) as r:
        r.verify(pair.school.state.peer_by_key_id)
        sizes = [len(fr.body) for fr in r.frames() if fr.type == FRAME_BLOB]
    assert sizes == [4 << 20, 4 << 20, len(big) - (8 << 20)]
    assert applied.files_added == 1
    store = pair.school.store()
    try:
        chunks = list(store.blob_chunks(hashlib.sha1(big).hexdigest()))
        assert len(chunks) == 10 and b"".join(chunks) == big
    finally:
        store.close()


def test_latest_only_carries_each_files_current_version(tmp_path):
    tmp = str(tmp_path)
    pair = new_pair(tmp)
    made, applied = pair.carry(second_dump(tmp), 1, latest_only=True)
    versions, _blobs, _stored = bundle_files(made.path, pair.school)
    current = {}
    for name, ts, sha1, _size, _actual in dump_files(second_dump(tmp)):
        current[name] = (ts, sha1)  # versions come oldest first: the last one stays
    assert {v.name: (v.timestamp, v.sha1) for v in versions} == current
    assert [(n, t, s) for n, t, s, _z, _a in store_files(pair.school)] == sorted((n, t, s) for n, (t, s) in current.items())


# --- hostile files and blob frames from a trusted (buggy or compromised) sender ----------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as hst  # noqa: E402

from test_fuzz import mutate, mutate_tree  # noqa: E402


@pytest.fixture(scope="module")
def files_target(tmp_path_factory):
    """A first bundle with files, taken apart into (type, meta, body, raw_len) frames."""
    from bundler.container import Layout

    tmp = str(tmp_path_factory.mktemp("files-fuzz"))
    pair = new_pair(tmp)
    made = pair.make(second_dump(tmp), "b1.bundle")
    with open(made.path, "rb") as f:
        layout = Layout.of(f.read())
    frames = [[t, wire.unpackb(m, what="t"), b, r] for t, m, b, r in layout.frames]
    return pair, layout, frames


def _assemble(layout, frames: list, key) -> bytes:
    from bundler.container import Layout

    return Layout(layout.compact, layout.header, [[t, wire.packb(m), b, r] for t, m, b, r in frames]).signed(key)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(d=hst.data())
def test_mutated_files_frames_raise_only_our_errors_and_change_nothing(files_target, tmp_path, d):
    """Files payloads, frame metas and blob bytes mutated and re-signed with the
    sender's key: apply either succeeds (the bundle may say anything the format can
    express) or raises a BundleError, with the receiver's store untouched."""
    import shutil

    from bundler.apply import apply_bundle
    from bundler.state import Side

    pair, head, frames = files_target
    frames = [list(f) for f in frames]
    idx = [i for i, f in enumerate(frames) if f[0] in (FRAME_FILES, FRAME_BLOB)]
    k = d.draw(hst.sampled_from(idx), label="frame")
    ftype, meta, comp, raw_len = frames[k]
    what = d.draw(hst.sampled_from(["payload", "meta", "bytes"]), label="what")
    if what == "meta":
        frames[k][1] = mutate_tree(d, wire.unpackb(wire.packb(meta), what="t"))
    elif ftype == FRAME_BLOB or what == "bytes":
        body = mutate(d, comp if ftype == FRAME_BLOB else wire.decompress(comp, expected_size=raw_len, what="t"), [])
        if ftype == FRAME_BLOB:
            frames[k][2], frames[k][3] = body, len(body)
        else:
            frames[k][2], frames[k][3] = wire.compress(body, level=3), len(body)
    else:
        payload = wire.unpackb(wire.decompress(comp, expected_size=raw_len, what="t"), what="t")
        raw = wire.packb(mutate_tree(d, payload))
        frames[k][2], frames[k][3] = wire.compress(raw, level=3), len(raw)
    n = len(os.listdir(tmp_path))
    school = Side.open(shutil.copytree(pair.school.path, tmp_path / f"school-{n}"))
    bad = tmp_path / f"bad-{n}.bundle"
    bad.write_bytes(_assemble(head, frames, pair.hq.secret_key()))
    before = file_digest(school.wiki_path)
    try:
        apply_bundle(school, str(bad), manifest_out=str(tmp_path / f"m-{n}.wbm"))
    except errors.BundleError:
        assert file_digest(school.wiki_path) == before
        assert school.state.last_received(pair.hq.wiki_id) is None
    finally:
        school.state.db.close()


def test_the_receiver_remembers_which_files_the_sender_holds_because_it_sent_them(tmp_path):
    """Kept under the negative of the bundle's seq (as the return trip keeps what a
    peer holds because it sent it), so a bundle back never carries them again."""
    tmp = str(tmp_path)
    pair = new_pair(tmp)
    pair.carry(first_dump(tmp), 1)
    pair.carry(second_dump(tmp), 2)
    rows = pair.school.state.db.execute(
        "SELECT seq, name, timestamp, sha1 FROM held_files WHERE peer=? ORDER BY seq DESC, name, timestamp", (pair.hq.wiki_id,)
    ).fetchall()
    assert [r[0] for r in rows] == [-1] * 4 + [-2] * 3
    assert sorted(r[1:] for r in rows) == sorted((n, t, s) for n, t, s, _z, _a in dump_files(second_dump(tmp)))


def test_import_then_make_from_the_store_carries_the_files(cli_sides):
    """The other way in: bundle import stores the dump's files, bundle make (no --from)
    carries them from the store, and a second make after a re-import of a later dump
    carries only what is new."""
    tmp, hq, school = cli_sides
    run_cli("import", "-C", hq, first_dump(str(tmp)))
    run_cli("make", "-C", hq, "--out", tmp / "b1.bundle")
    run_cli("apply", "-C", school, tmp / "b1.bundle", "--manifest-out", tmp / "m1.wbm")
    run_cli("import", "-C", hq, second_dump(str(tmp)))
    r = run_cli("make", "-C", hq, "--since", tmp / "m1.wbm", "--out", tmp / "b2.bundle", "--json")
    assert '"versions": 3' in r.output and '"refs": 1' in r.output and '"blobs": 2' in r.output
    run_cli("apply", "-C", school, tmp / "b2.bundle")
    from bundler.state import Side

    assert store_files(Side.open(str(school))) == store_files(Side.open(str(hq))) == dump_files(second_dump(str(tmp)))
