"""Update masks, etags, page tokens and sealed credentials."""

from __future__ import annotations

import pytest

from rtcc.core.errors import FailedPrecondition, InvalidArgument
from rtcc.registry import edits
from rtcc.registry.credentials import CredentialBox, Credentials
from rtcc.registry.v1 import registry_pb2 as pb

CURRENT = pb.Camera(
    id="cam_1",
    display_name="Old",
    streams={"main_url": "rtsp://h/main", "sub_url": "rtsp://h/sub", "has_credentials": True},
    tags=["a", "b"],
)


def test_mask_replaces_only_named_fields_and_repeated_fields_whole() -> None:
    patch = pb.Camera(display_name="New", tags=["c"], address="ignored")
    merged, creds = edits.merge_camera(CURRENT, patch, ["display_name", "tags"])
    assert merged.display_name == "New" and list(merged.tags) == ["c"]
    assert merged.address == "" and merged.streams.main_url == "rtsp://h/main"
    assert creds.keep


def test_replacing_streams_keeps_credentials_unless_new_ones_are_sent() -> None:
    patch = pb.Camera(streams={"main_url": "rtsp://h/new"})
    merged, creds = edits.merge_camera(CURRENT, patch, ["streams"])
    assert merged.streams.main_url == "rtsp://h/new" and merged.streams.sub_url == ""
    assert creds.keep and not merged.streams.has_credentials
    patch.streams.credentials.username = "viewer"
    _, creds = edits.merge_camera(CURRENT, patch, ["streams"])
    assert not creds.keep and creds.value == Credentials("viewer", "")


def test_naming_credentials_with_an_empty_value_removes_them() -> None:
    _, creds = edits.merge_camera(CURRENT, pb.Camera(), ["streams.credentials"])
    assert not creds.keep and creds.value is None


def test_stale_etag_is_a_failed_precondition_and_missing_etag_is_allowed() -> None:
    edits.check_etag("", "7", "camera.etag")
    edits.check_etag("7", "7", "camera.etag")
    with pytest.raises(FailedPrecondition, match="stale"):
        edits.check_etag("6", "7", "camera.etag")


def test_page_tokens_round_trip_and_forgeries_are_refused() -> None:
    assert edits.after_id(edits.page_token("cam_x")) == "cam_x"
    assert edits.after_id("") == ""
    for bad in ("garbage!", "Y2FtX3g="):
        with pytest.raises(InvalidArgument):
            edits.after_id(bad)


def test_sealed_credentials_open_only_with_the_same_secret() -> None:
    box = CredentialBox(b"a secret of enough length")
    token = box.seal(Credentials("admin", "hunter2"))
    assert b"hunter2" not in token and b"admin" not in token
    assert box.open(token) == Credentials("admin", "hunter2")
    with pytest.raises(FailedPrecondition, match="cannot be decrypted"):
        CredentialBox(b"another secret, also long").open(token)


def test_credentials_never_print_their_password() -> None:
    text = repr(Credentials("admin", "hunter2")) + repr(CredentialBox(b"0123456789abcdef"))
    assert "hunter2" not in text and "0123456789abcdef" not in text


def test_rotated_credentials_key_still_opens_credentials_sealed_with_the_old_one() -> None:
    old = CredentialBox(b"the old key, long enough")
    token = old.seal(Credentials("viewer", "pw"))
    rotated = CredentialBox(b"the new key, long enough", b"the old key, long enough")
    assert rotated.open(token) == Credentials("viewer", "pw")
    resealed = rotated.seal(Credentials("viewer", "pw"))
    assert CredentialBox(b"the new key, long enough").open(resealed).username == "viewer"
    with pytest.raises(FailedPrecondition):
        old.open(resealed)
