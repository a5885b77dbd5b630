"""Every single-byte flip and every truncation of a real bundle is refused before
the store changes; so are re-signed, misaddressed and hostile bundles."""

from __future__ import annotations

import os

import pytest

from bundler import errors
from bundler.apply import apply_bundle
from bundler.container import VERSION, VERSION_COMPACT, BundleReader
from helpers import LDNONT, delta_bundle, file_digest, new_pair, store_digest


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A school that applied bundle 1, and bundle 2 (a real delta bundle) for it."""
    return delta_bundle(str(tmp_path_factory.mktemp("tamper")))


def _try(pair, data: bytes, name: str) -> errors.BundleError | None:
    path = os.path.join(pair.tmp, name)
    with open(path, "wb") as f:
        f.write(data)
    try:
        apply_bundle(pair.school, path, manifest_out=os.path.join(pair.tmp, "m-tamper.wbm"))
    except errors.BundleError as e:
        return e
    finally:
        os.unlink(path)
    return None


def test_every_byte_flip_is_refused_before_the_store_changes(setup):
    pair, data = setup
    assert 500 < len(data) < 4000  # a real delta bundle, small enough to flip every byte in CI
    before = file_digest(pair.school.wiki_path)
    kinds: dict[str, int] = {}
    tail: dict[str, set[str]] = {"check": set(), "key hint": set(), "signature": set()}
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= 0x01 if i % 2 else 0x80
        e = _try(pair, bytes(bad), "flipped.bundle")
        assert e is not None, f"flip at offset {i} was accepted"
        assert not isinstance(e, errors.ContentError), f"flip at {i} got past the signature: {e}"
        kinds[type(e).__name__] = kinds.get(type(e).__name__, 0) + 1
        back = len(data) - i  # the compact tail: check (4), key hint (4), signature (64)
        if back <= 72:
            tail["check" if back > 68 else "key hint" if back > 64 else "signature"].add(type(e).__name__)
    assert file_digest(pair.school.wiki_path) == before
    assert not os.path.exists(os.path.join(pair.tmp, "m-tamper.wbm"))
    # the body is hashed, the trailer signed: those two catch nearly everything
    assert kinds.get("IntegrityError", 0) > len(data) * 0.9, kinds
    # each part of the tail names its own failure: damage, an unknown signer, a bad signature
    assert tail == {"check": {"IntegrityError"}, "key hint": {"UntrustedKeyError"}, "signature": {"SignatureError"}}


def test_every_truncation_is_refused(setup):
    pair, data = setup
    before = file_digest(pair.school.wiki_path)
    for n in range(len(data)):
        e = _try(pair, data[:n], "cut.bundle")
        assert isinstance(e, (errors.TruncatedError, errors.FormatError)), f"cut at {n}: {e!r}"
    assert file_digest(pair.school.wiki_path) == before


def test_appended_bytes_are_refused(setup):
    pair, data = setup
    assert isinstance(_try(pair, data + b"\0", "long.bundle"), errors.TruncatedError)


def test_valid_bundle_still_applies_after_all_that(setup):
    pair, data = setup
    assert _try(pair, data, "good.bundle") is None


def test_untrusted_signer_is_named_with_the_command_to_trust(tmp_path):
    pair = new_pair(str(tmp_path))
    made = pair.make(LDNONT[0], "b1.bundle")
    with pair.school.state.transaction():
        pair.school.state.db.execute("DELETE FROM peers")
    with pytest.raises(errors.UntrustedKeyError) as ei:
        pair.apply(made.path)
    assert pair.hq.public_key().key_id[:8] in ei.value.message  # compact form: the key id's first 4 bytes
    assert "bundle trust" in ei.value.hint


def test_resigned_by_another_key_is_refused(tmp_path):
    """Someone with the stick re-signs a valid bundle with their own key."""
    from bundler.container import COMPACT_SIGNATURE, BundleReader, seal
    from bundler.signing import SecretKey

    pair = new_pair(str(tmp_path))
    made = pair.make(LDNONT[0], "b1.bundle")
    data = open(made.path, "rb").read()
    mallory = SecretKey.generate(str(tmp_path / "mallory.key"))
    with BundleReader(made.path) as r:
        forged = seal(data[: r.body_len], mallory)  # a well-formed signature, by mallory
    with open(made.path, "wb") as f:
        f.write(forged)
    before = store_digest(pair.school)
    with pytest.raises(errors.UntrustedKeyError):
        pair.apply(made.path)
    # and if the forger's key hint is swapped for the real one, the signature fails
    forged2 = forged[: -COMPACT_SIGNATURE.size] + bytes.fromhex(pair.hq.public_key().key_id)[:4] + forged[-64:]
    with open(made.path, "wb") as f:
        f.write(forged2)
    with pytest.raises(errors.SignatureError):
        pair.apply(made.path)
    assert store_digest(pair.school) == before


def test_bundle_for_another_receiver_is_refused(tmp_path):
    pair = new_pair(str(tmp_path / "a"))
    other = new_pair(str(tmp_path / "b"))
    made = pair.make(LDNONT[0], "b1.bundle")
    # the other school trusts our hq too: still not its bundle
    with other.school.state.transaction():
        other.school.state.add_peer(pair.hq.public_key())
    before = store_digest(other.school)
    with pytest.raises(errors.WrongPeerError, match="made for wiki"):
        apply_bundle(other.school, made.path)
    assert store_digest(other.school) == before


@pytest.mark.parametrize("version", [VERSION, VERSION_COMPACT])
def test_trusted_key_signing_in_another_wikis_name(tmp_path, version):
    """A trusted peer B cannot pass off a bundle as coming from peer A: the long form's
    header names A and is refused; the compact header names no sender, so what B signs
    is B's own bundle, applied as B's."""
    from bundler.container import BundleWriter, Header

    pair = new_pair(str(tmp_path))
    third = new_pair(str(tmp_path / "t")).hq
    with pair.school.state.transaction():
        pair.school.state.add_peer(third.public_key())
    key = third.secret_key()
    w = BundleWriter(str(tmp_path / "x.bundle"), version)
    h = Header(sender=pair.hq.wiki_id, receiver=pair.school.wiki_id, seq=1, basis_seq=0, basis=bytes(16),
               checkpoint=os.urandom(16), created=0, signer=key.key_id)
    w.finish(h, key)
    w.publish()
    if version == VERSION:
        with pytest.raises(errors.WrongPeerError, match="claims to come from"):
            pair.apply(str(tmp_path / "x.bundle"))
        return
    res = pair.apply(str(tmp_path / "x.bundle"))
    assert res.header.sender == third.wiki_id and pair.school.state.last_received(pair.hq.wiki_id) is None


def test_header_is_readable_without_the_rest(setup):
    pair, data = setup
    path = os.path.join(pair.tmp, "peek.bundle")
    with open(path, "wb") as f:
        f.write(data)
    with BundleReader(path) as r:
        assert r.header.seq == 2 and r.header.basis_seq == 1
        assert r.header.counts.revisions > 0
