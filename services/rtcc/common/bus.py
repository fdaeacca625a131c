"""Every bus subject and the proto message its payload carries. Pure.

| subject | publisher | payload |
|---|---|---|
| `rtcc.segment.created` | ingest | `rtcc.common.v1.SegmentCreated`, JSON |
| `rtcc.camera.changed` | registry | `rtcc.common.v1.CameraChanged`, JSON |
| `rtcc.analytics.event` | analytics | `rtcc.analytics.v1.Event`, binary |
| `rtcc.alerting.changed` | alerting | owned by alerting (see docs/alerting.md) |

JSON payloads use the proto3 JSON mapping with the proto's field names, so consumers
in any language decode them with the generated code; the first two subjects were JSON
before they had a message, and the encoding stays JSON so that older consumers keep
working.
"""

from __future__ import annotations

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

from rtcc.analytics.v1 import analytics_pb2
from rtcc.common.v1 import common_pb2
from rtcc.core.errors import InvalidArgument

SEGMENT_CREATED = "rtcc.segment.created"
CAMERA_CHANGED = "rtcc.camera.changed"
ANALYTICS_EVENT = "rtcc.analytics.event"

# subject → (message type, JSON-encoded)
SUBJECTS: dict[str, tuple[type[Message], bool]] = {
    SEGMENT_CREATED: (common_pb2.SegmentCreated, True),
    CAMERA_CHANGED: (common_pb2.CameraChanged, True),
    ANALYTICS_EVENT: (analytics_pb2.Event, False),
}


def encode(subject: str, message: Message) -> bytes:
    """The payload to publish on ``subject``."""
    kind, as_json = SUBJECTS[subject]
    if not isinstance(message, kind):
        raise TypeError(f"{subject} carries {kind.__name__}, not {type(message).__name__}")
    if as_json:
        return json_format.MessageToJson(message, preserving_proto_field_name=True).encode()
    return message.SerializeToString()


def decode(subject: str, data: bytes) -> Message:
    """The message of a payload received on ``subject``; InvalidArgument when malformed."""
    kind, as_json = SUBJECTS[subject]
    message = kind()
    try:
        if as_json:
            json_format.Parse(data.decode("utf-8"), message, ignore_unknown_fields=True)
        else:
            message.ParseFromString(data)
    except (json_format.ParseError, DecodeError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"a {subject} payload is not a {kind.__name__}: {exc}") from None
    return message
