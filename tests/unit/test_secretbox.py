import stat

import pytest

from archive.errors import SecretError
from archive.secretbox import SecretBox


def test_key_file_created_private_and_reused(tmp_path):
    path = tmp_path / "keys" / "credentials.key"
    box = SecretBox.from_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = box.encrypt("s3cret!", "cam-1")
    assert "s3cret" not in token
    assert SecretBox.from_key_file(path).decrypt(token, "cam-1") == "s3cret!"
    assert "***" in repr(box)


def test_nonce_is_fresh():
    box = SecretBox(b"k" * 32)
    assert box.encrypt("x", "c") != box.encrypt("x", "c")


def test_context_binding_and_wrong_key(tmp_path):
    box = SecretBox(b"k" * 32)
    token = box.encrypt("pw", "cam-1")
    with pytest.raises(SecretError, match="cam-2"):
        box.decrypt(token, "cam-2")
    with pytest.raises(SecretError):
        SecretBox(b"j" * 32).decrypt(token, "cam-1")
    with pytest.raises(SecretError, match="unknown format"):
        box.decrypt("plain", "cam-1")


def test_missing_or_corrupt_key(tmp_path):
    with pytest.raises(SecretError, match="does not exist"):
        SecretBox.from_key_file(tmp_path / "k", create=False)
    bad = tmp_path / "bad"
    bad.write_text("not base64 at all!!")
    with pytest.raises(SecretError):
        SecretBox.from_key_file(bad)
