"""Expected outcomes of one call, and the checks behind "allowed but filtered".

An outcome judges a `Result` and says what is wrong with it (None: as expected).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import grpc

from .rpcs import Result
from .world import MASK, PLATFORM_ADMIN, SERVICE, World

Code = grpc.StatusCode
# Codes that are never a decision: a crash, a missing implementation, a broken peer.
UNDECIDED = frozenset(
    {Code.UNIMPLEMENTED, Code.INTERNAL, Code.UNKNOWN, Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED}
)


class Outcome:
    label = "?"

    def judge(self, result: Result, world: World, caller: str) -> str | None:
        raise NotImplementedError


@dataclass(frozen=True)
class Status(Outcome):
    """Exactly one of these status codes."""

    codes: frozenset[grpc.StatusCode]

    @property
    def label(self) -> str:  # type: ignore[override]
        return "|".join(sorted(c.name for c in self.codes))

    def judge(self, result: Result, world: World, caller: str) -> str | None:
        return None if result.code in self.codes else f"got {result.code.name}"


def status(*codes: grpc.StatusCode) -> Status:
    return Status(frozenset(codes))


Check = Callable[[World, str, list[Any]], str | None]


@dataclass(frozen=True)
class Allowed(Outcome):
    """OK, and the answer passes `check` (e.g. holds nothing the caller may not see)."""

    check: Check | None = None
    name: str = "OK"

    @property
    def label(self) -> str:  # type: ignore[override]
        return self.name

    def judge(self, result: Result, world: World, caller: str) -> str | None:
        if result.code != Code.OK:
            return f"got {result.code.name}"
        return self.check(world, caller, result.responses) if self.check else None


@dataclass(frozen=True)
class Either(Outcome):
    options: tuple[Outcome, ...]

    @property
    def label(self) -> str:  # type: ignore[override]
        return " or ".join(o.label for o in self.options)

    def judge(self, result: Result, world: World, caller: str) -> str | None:
        problems = [o.judge(result, world, caller) for o in self.options]
        if any(p is None for p in problems):
            return None
        return "; ".join(p for p in problems if p)


@dataclass(frozen=True)
class Decided(Outcome):
    """A real decision (not UNIMPLEMENTED, INTERNAL...); when `refused`, a refusal or
    an answer that mentions none of the owner's cameras."""

    refused: bool = False

    @property
    def label(self) -> str:  # type: ignore[override]
        return "a refusal or nothing of cam" if self.refused else "a decision"

    def judge(self, result: Result, world: World, caller: str) -> str | None:
        if result.code in UNDECIDED:
            return f"got {result.code.name}"
        if self.refused and result.code == Code.OK:
            text = " ".join(str(r) for r in result.responses)
            if world.cam in text or world.plain_cam in text:
                return "got OK with data of cam"
        return None


OK = Allowed()
DENIED = status(Code.PERMISSION_DENIED)
NOT_FOUND = status(Code.NOT_FOUND)
# For callers who may not even know the camera exists: either refusal hides its data.
HIDDEN = status(Code.NOT_FOUND, Code.PERMISSION_DENIED)
UNAUTHENTICATED = status(Code.UNAUTHENTICATED)
STALE = status(Code.FAILED_PRECONDITION)  # past every access check; stale etag


# --- "allowed but filtered": which camera's data each caller may see --------------

# what -> callers who may see it of `cam` (the owner organisation's masked camera).
MAY_SEE_CAM: dict[str, frozenset[str]] = {}
# what -> callers who may see it of `other_cam` (another organisation's camera).
MAY_SEE_OTHER: dict[str, frozenset[str]] = {}


def may_see(caller: str, what: str, camera_key: str) -> bool | None:
    """Whether `caller` may see `what` of a seeded camera; None: not a seeded camera."""
    table = {"cam": MAY_SEE_CAM, "other_cam": MAY_SEE_OTHER}.get(camera_key)
    return None if table is None else caller in table[what]


def filtered(
    what: str, cameras_of: Callable[[list[Any]], Iterable[str]], *, complete: bool = True
) -> Allowed:
    """OK, holding no item of a seeded camera the caller may not see `what` of, and
    (`complete`) the items of those it may."""

    def check(world: World, caller: str, responses: list[Any]) -> str | None:
        seen = {world.camera_key(c) for c in cameras_of(responses)}
        problems = []
        for key in ("cam", "other_cam"):
            allowed = may_see(caller, what, key)
            if key in seen and not allowed:
                problems.append(f"leaks {what} of {key}")
            if complete and allowed and key not in seen:
                problems.append(f"misses {what} of {key}")
        return "; ".join(problems) or None

    return Allowed(check, f"OK filtered ({what})")


def camera_ids_anywhere(responses: list[Any]) -> list[str]:
    """Every `camera_id`/`camera_ids` value anywhere in the answers, however nested."""
    found: list[str] = []

    def walk(message: Any) -> None:
        for field, value in message.ListFields():
            if field.name in ("camera_id", "camera_ids"):
                found.extend(value if field.is_repeated else [value])
            elif field.message_type is not None and not field.message_type.GetOptions().map_entry:
                for item in value if field.is_repeated else [value]:
                    walk(item)

    for response in responses:
        walk(response)
    return found


def grants_of_own_org(world: World, caller: str, responses: list[Any]) -> str | None:
    """Grants in the answer are given or received by the caller's organisation."""
    if caller in (PLATFORM_ADMIN, SERVICE):
        return None
    org = world.org_of(caller)
    for response in responses:
        for grant in _grants(response):
            if org not in (grant.grantor_organization_id, grant.grantee_organization_id):
                return f"leaks grant {grant.id} between other organisations"
    return None


def _grants(response: Any) -> list[Any]:
    if hasattr(response, "grants"):
        return list(response.grants)
    if response.HasField("grant") and response.grant.id:
        return [response.grant]
    return []


# --- masked video ---------------------------------------------------------------


def _masked_region_dark(gray: Any) -> str | None:
    height, width = gray.shape[:2]
    x1, y1 = int(MASK[2][0] * width), int(MASK[2][1] * height)
    region = gray[: max(1, y1 - 2), : max(1, x1 - 2)]
    mean = float(region.mean())
    return None if mean <= 8.0 else f"privacy-masked region not black (mean {mean:.0f})"


def masked_frames(world: World, caller: str, responses: list[Any]) -> str | None:
    import numpy as np

    for response in responses:
        frame = response.frame
        if frame.width and len(frame.data) == frame.width * frame.height:
            gray = np.frombuffer(frame.data, np.uint8).reshape(frame.height, frame.width)
            return _masked_region_dark(gray)
    return "no GRAY8 frame received"


def masked_mp4(world: World, caller: str, responses: list[Any]) -> str | None:
    import av

    data = b"".join(r.data for r in responses)
    try:
        with av.open(io.BytesIO(data)) as container:
            for frame in container.decode(video=0):
                return _masked_region_dark(frame.to_ndarray(format="gray"))
    except av.FFmpegError as exc:
        return f"cannot decode the video: {exc}"
    return "no video frame in the answer"


def masked_download(world: World, caller: str, responses: list[Any]) -> str | None:
    """The chunks of a downloaded evidence item (an MP4) show the masks."""
    if not responses:
        return "the export did not finish or could not be downloaded"
    return masked_mp4(world, caller, responses)


def masked_packets(world: World, caller: str, responses: list[Any]) -> str | None:
    import av

    tracks = [r.tracks for r in responses if r.WhichOneof("payload") == "tracks"]
    if not tracks:
        return "no tracks message"
    video = [t for t in tracks[0].tracks if t.codec]
    if not video:
        return "no video track"
    try:
        codec = av.CodecContext.create(video[0].codec, "r")
        if video[0].extradata:
            codec.extradata = video[0].extradata
        for response in responses:
            if response.WhichOneof("payload") != "packet":
                continue
            if response.packet.track_index != video[0].track_index:
                continue
            for frame in codec.decode(av.Packet(response.packet.data)):
                return _masked_region_dark(frame.to_ndarray(format="gray"))
    except (av.FFmpegError, ValueError) as exc:
        return f"cannot decode the packets: {exc}"
    return "no decodable frame in the packets"
