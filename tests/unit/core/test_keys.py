"""The three keys: token signing, presigned links and credential sealing are separate."""

from __future__ import annotations

import stat
from pathlib import Path

from rtcc.core.config import Settings
from rtcc.core.keys import (
    CREDENTIALS_KEY_FILE,
    PRESIGN_KEY_FILE,
    TOKEN_KEY_FILE,
    load_keys,
)
from rtcc.registry.credentials import CredentialBox, Credentials

TOKEN_KEY = "t" * 40


def test_all_in_one_generates_one_file_per_key(tmp_path: Path) -> None:
    keys = load_keys(Settings(data_dir=tmp_path), all_in_one=True)
    token, presign, sealing = keys.token_signing, keys.presigned_links, keys.credentials[0]
    assert len({token.encode(), presign, sealing}) == 3
    for name in (TOKEN_KEY_FILE, PRESIGN_KEY_FILE, CREDENTIALS_KEY_FILE):
        mode = stat.S_IMODE((tmp_path / name).stat().st_mode)
        assert mode == 0o600, name
    again = load_keys(Settings(data_dir=tmp_path), all_in_one=True)
    assert again == keys  # created once, then read


def test_split_targets_derive_distinct_keys_from_the_token_key(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, auth={"jwt_secret": TOKEN_KEY})
    keys = load_keys(settings, all_in_one=False)
    assert keys.presigned_links != TOKEN_KEY.encode()
    assert load_keys(settings, all_in_one=False).presigned_links == keys.presigned_links
    assert not (tmp_path / PRESIGN_KEY_FILE).exists()  # pods share no generated file


def test_configured_keys_are_used_as_given(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        auth={"jwt_secret": TOKEN_KEY},
        presign_key="p" * 32,
        registry={"credentials_keys": ["n" * 32, "o" * 32]},
    )
    keys = load_keys(settings, all_in_one=True)
    assert keys.presigned_links == b"p" * 32
    assert keys.credentials == (b"n" * 32, b"o" * 32, TOKEN_KEY.encode())


def test_credentials_sealed_under_the_token_key_by_older_releases_still_open(
    tmp_path: Path,
) -> None:
    sealed = CredentialBox(TOKEN_KEY.encode()).seal(Credentials("admin", "cam-pass"))
    settings = Settings(data_dir=tmp_path, auth={"jwt_secret": TOKEN_KEY})
    keys = load_keys(settings, all_in_one=True)
    box = CredentialBox(*keys.credentials)
    assert box.open(sealed) == Credentials("admin", "cam-pass")
    # New seals use the generated key, not the token key.
    fresh = box.seal(Credentials("admin", "new"))
    assert CredentialBox(keys.credentials[0]).open(fresh).password == "new"
