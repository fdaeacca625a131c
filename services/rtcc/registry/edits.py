"""Applying update masks, etags and page tokens. Pure.

Updates follow AIP-134: the mask names the fields to replace, and a message or repeated
field named in it is replaced whole. Stream credentials are input-only and never read
back, so naming ``streams`` keeps the stored credentials unless the request carries new
ones; ``streams.credentials`` with an empty value removes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from google.protobuf import field_mask_pb2
from google.protobuf.message import Message

from rtcc.common import paging
from rtcc.core.errors import FailedPrecondition
from rtcc.registry.credentials import Credentials
from rtcc.registry.v1 import registry_pb2 as pb

CAMERA_PATHS = (
    "display_name",
    "external_id",
    "location",
    "address",
    "field_of_view",
    "streams",
    "streams.main_url",
    "streams.sub_url",
    "streams.credentials",
    "vendor",
    "model",
    "tags",
    "privacy_masks",
    "recording_policy",
    "recording_policy.mode",
    "recording_policy.retention_days",
)
GRANT_PATHS = (
    "all_cameras",
    "camera_ids",
    "live",
    "recorded",
    "schedule",
    "start_time",
    "expire_time",
    "description",
)
ORGANIZATION_PATHS = ("display_name", "kind", "contact_email")

M = TypeVar("M", bound=Message)


@dataclass(frozen=True)
class CredentialsEdit:
    """What an update does to stored credentials: keep them, or set (None: remove)."""

    keep: bool
    value: Credentials | None = None


KEEP_CREDENTIALS = CredentialsEdit(keep=True)


def credentials_of(streams: pb.CameraStreams) -> Credentials | None:
    c = streams.credentials
    return Credentials(c.username, c.password) if (c.username or c.password) else None


def merge(current: M, patch: M, paths: Sequence[str]) -> M:
    """A copy of ``current`` with the named fields taken from ``patch``."""
    merged = type(current)()
    merged.CopyFrom(current)
    if paths:
        field_mask_pb2.FieldMask(paths=list(paths)).MergeMessage(
            patch, merged, replace_message_field=True, replace_repeated_field=True
        )
    return merged


def merge_camera(
    current: pb.Camera, patch: pb.Camera, paths: Sequence[str]
) -> tuple[pb.Camera, CredentialsEdit]:
    """The camera after an update, and what happens to its credentials."""
    merged = merge(current, patch, [p for p in paths if p != "streams.credentials"])
    if merged.HasField("streams"):
        merged.streams.ClearField("credentials")
        merged.streams.ClearField("has_credentials")
    explicit = "streams.credentials" in paths
    if explicit or ("streams" in paths and patch.streams.HasField("credentials")):
        return merged, CredentialsEdit(keep=False, value=credentials_of(patch.streams))
    return merged, KEEP_CREDENTIALS


def check_etag(sent: str, current: str, field: str) -> None:
    """A lost update is refused: the etag sent must be the current one (when sent)."""
    if sent and sent != current:
        raise FailedPrecondition(
            f"{field} {sent!r} is stale: the resource changed since it was read "
            f"(now {current!r}); read it again and reapply the change"
        )


def page_token(last_id: str) -> str:
    return paging.encode_token("after", last_id)


def after_id(token: str, field: str = "page_token") -> str:
    """The id a page token continues after; empty for the first page."""
    return paging.decode_token(token, "after", 1, field=field)[0] if token else ""
