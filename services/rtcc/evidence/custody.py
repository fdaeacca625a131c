"""The chain of custody: entries, their canonical bytes, signed checkpoints, and the
offline check of a whole log. Pure (no I/O, no clock).

Each case has one append-only log. An entry's canonical form is its proto3 JSON
(lowerCamelCase keys, fields at their default value left out, int64 as a string,
enums by name, times in RFC 3339 UTC) with ``entryHash`` left out, keys sorted and no
whitespace, UTF-8. Two structures cover those bytes:

- the hash chain of the proto: ``entryHash = SHA-256(canonical)``, and each entry
  carries the previous entry's ``entryHash`` (64 zeros for the first), so a change
  to entry k is named by entry k+1's broken link;
- the RFC 9162 Merkle tree whose leaf k is ``SHA-256(0x00 || canonical_k)``; a
  checkpoint signs (origin, size, root, head entryHash), and inclusion proofs tie any
  single entry to it without the rest of the log.

A checkpoint's signed body is a C2SP-style note::

    openrtcc/custody/<case id>
    <tree size>
    <base64 root hash>
    head <hex entryHash of the last entry>
    time <RFC 3339>

signed with Ed25519; the key is named by its fingerprint, the lowercase hex SHA-256
of the raw 32-byte public key.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from rtcc.evidence import merkle

ZERO_HASH = "0" * 64
ORIGIN_PREFIX = "openrtcc/custody/"

# CustodyAction names (rtcc.evidence.v1.CustodyAction): the canonical form uses them.
ACTIONS: dict[int, str] = {
    1: "CUSTODY_ACTION_CASE_CREATED",
    2: "CUSTODY_ACTION_CASE_UPDATED",
    3: "CUSTODY_ACTION_CASE_DELETED",
    4: "CUSTODY_ACTION_LEGAL_HOLD_SET",
    5: "CUSTODY_ACTION_LEGAL_HOLD_RELEASED",
    6: "CUSTODY_ACTION_ITEM_ADDED",
    7: "CUSTODY_ACTION_ITEM_UPDATED",
    8: "CUSTODY_ACTION_ITEM_DELETED",
    9: "CUSTODY_ACTION_ITEM_ACCESSED",
    10: "CUSTODY_ACTION_SHARE_LINK_CREATED",
    11: "CUSTODY_ACTION_SHARE_LINK_ACCESSED",
    12: "CUSTODY_ACTION_SHARE_LINK_REVOKED",
    13: "CUSTODY_ACTION_EVIDENCE_REQUEST_UPDATED",
    14: "CUSTODY_ACTION_PACKAGE_EXPORTED",
}


def rfc3339(when: dt.datetime) -> str:
    """A UTC time as protobuf's JSON writes it: 0, 3 or 6 fraction digits, then Z."""
    when = when.astimezone(dt.UTC)
    base = when.strftime("%Y-%m-%dT%H:%M:%S")
    micros = when.microsecond
    if micros == 0:
        return base + "Z"
    if micros % 1000 == 0:
        return f"{base}.{micros // 1000:03d}Z"
    return f"{base}.{micros:06d}Z"


@dataclass(frozen=True, slots=True)
class Entry:
    """One custody entry, before or after it is hashed."""

    id: str
    case_id: str
    sequence: int
    action: int
    actor_subject: str
    actor_org_id: str
    time: dt.datetime
    previous_hash: str
    item_id: str = ""
    item_sha256: str = ""
    detail: str = ""

    def as_json(self) -> dict[str, Any]:
        """The proto3 JSON form without entryHash (default values left out)."""
        actor = {"subject": self.actor_subject, "organizationId": self.actor_org_id}
        data: dict[str, Any] = {
            "id": self.id,
            "caseId": self.case_id,
            "sequence": str(self.sequence),
            "action": ACTIONS[self.action],
            "itemId": self.item_id,
            "itemSha256": self.item_sha256,
            "actor": {k: v for k, v in actor.items() if v},
            "time": rfc3339(self.time),
            "detail": self.detail,
            "previousHash": self.previous_hash,
        }
        return {k: v for k, v in data.items() if v not in ("", {}, "0")}

    def canonical(self) -> bytes:
        return canonical_bytes(self.as_json())


def canonical_bytes(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(canonical: bytes) -> str:
    return hashlib.sha256(canonical).hexdigest()


# --- keys and checkpoints ---------------------------------------------------------


def fingerprint(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def public_key_b64(public_key: Ed25519PublicKey) -> str:
    return base64.b64encode(public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def load_public_key(b64: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(b64))


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement: this case's log had `size` entries with this root."""

    case_id: str
    size: int
    root: bytes
    head_hash: str
    time: dt.datetime
    signature: bytes = b""
    key_fingerprint: str = ""

    def body(self) -> bytes:
        return (
            f"{ORIGIN_PREFIX}{self.case_id}\n{self.size}\n"
            f"{base64.b64encode(self.root).decode()}\n"
            f"head {self.head_hash}\ntime {rfc3339(self.time)}\n"
        ).encode()

    def signed(self, key: Ed25519PrivateKey) -> Checkpoint:
        return Checkpoint(
            self.case_id, self.size, self.root, self.head_hash, self.time,
            key.sign(self.body()), fingerprint(key.public_key()),
        )  # fmt: skip

    def verify(self, public_key: Ed25519PublicKey) -> bool:
        try:
            public_key.verify(self.signature, self.body())
        except InvalidSignature:
            return False
        return self.key_fingerprint == fingerprint(public_key)

    def to_json(self) -> dict[str, Any]:
        return {
            "body": self.body().decode(),
            "signature": base64.b64encode(self.signature).decode(),
            "keyFingerprint": self.key_fingerprint,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Checkpoint:
        lines = str(data["body"]).split("\n")
        if len(lines) != 6 or not lines[0].startswith(ORIGIN_PREFIX) or lines[5] != "":
            raise ValueError("the checkpoint body is not five lines of the custody format")
        if not lines[3].startswith("head ") or not lines[4].startswith("time "):
            raise ValueError("the checkpoint body lacks its head or time line")
        return cls(
            case_id=lines[0][len(ORIGIN_PREFIX) :],
            size=int(lines[1]),
            root=base64.b64decode(lines[2]),
            head_hash=lines[3][5:],
            time=dt.datetime.fromisoformat(lines[4][5:].replace("Z", "+00:00")),
            signature=base64.b64decode(str(data["signature"])),
            key_fingerprint=str(data["keyFingerprint"]),
        )


# --- verifying a log offline -------------------------------------------------------


@dataclass
class LogReport:
    """What an offline check of a custody log found; `problems` name each fault."""

    entries: int = 0
    root: bytes = merkle.EMPTY_ROOT
    problems: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems


_KEYS = (b'"caseId":"', b'"previousHash":"', b'"sequence":"')


def _fields(line: bytes) -> dict[bytes, str] | None:
    """caseId, previousHash and sequence of a canonical line, without a full parse.

    Inside a JSON string every quote is escaped, so `"key":"` can only match the real
    key; values of these three never hold quotes."""
    found: dict[bytes, str] = {}
    try:
        for key in _KEYS:
            start = line.find(key)
            if start >= 0:
                start += len(key)
                found[key[1:-3]] = line[start : line.find(b'"', start)].decode()
    except UnicodeDecodeError:
        return None
    return found


def verify_log(
    lines: Sequence[bytes], checkpoint: Checkpoint, public_key: Ed25519PublicKey
) -> LogReport:
    """Check canonical entry lines against a signed checkpoint, naming every fault.

    A changed byte in entry k is named by entry k+1's link (or, for the last entry, by
    the checkpoint's head); a removed entry by the gap in sequence numbers (or, at the
    end, by the checkpoint's size); anything else by the root."""
    report = LogReport(entries=len(lines))
    if not checkpoint.verify(public_key):
        report.problems.append(
            "the checkpoint's signature does not verify with the given key "
            f"(fingerprint {fingerprint(public_key)})"
        )
    sha = hashlib.sha256
    hashes = [sha(line).hexdigest() for line in lines]
    report.root = merkle.root_levelwise([sha(b"\x00" + line).digest() for line in lines])
    previous, expected_seq = ZERO_HASH, 1
    case_id = checkpoint.case_id
    for position, line in enumerate(lines, start=1):
        fields = _fields(line)
        seq_text = fields.get(b"sequence", "") if fields else ""
        if fields is None or not seq_text.isdigit():
            report.problems.append(f"entry at line {position} is unreadable (changed bytes)")
            previous, expected_seq = "?", expected_seq + 1
            continue
        sequence = int(seq_text)
        if (
            sequence != expected_seq
            or fields.get(b"caseId") != case_id
            or (previous != "?" and fields.get(b"previousHash") != previous)
        ):
            _name_fault(fields, sequence, position, previous, expected_seq, case_id, report)
        expected_seq = sequence + 1
        previous = hashes[position - 1]
    _check_end(lines, previous, checkpoint, report)
    return report


def _check_end(
    lines: Sequence[bytes], previous: str, checkpoint: Checkpoint, report: LogReport
) -> None:
    if lines and previous not in ("?", checkpoint.head_hash) and len(lines) == checkpoint.size:
        report.problems.append(
            f"entry {len(lines)} (the last) was changed: its hash does not match the "
            "checkpoint's head"
        )
    if len(lines) < checkpoint.size:
        missing = checkpoint.size - len(lines)
        report.problems.append(
            f"{missing} entr{'y is' if missing == 1 else 'ies are'} missing at the end: "
            f"the checkpoint covers {checkpoint.size}, the log has {len(lines)}"
        )
    elif len(lines) > checkpoint.size:
        report.problems.append(
            f"the log has {len(lines) - checkpoint.size} entries beyond the checkpoint's "
            f"{checkpoint.size}: check them against a newer checkpoint"
        )
    elif report.root != checkpoint.root and not report.problems:
        report.problems.append("the Merkle root of the entries differs from the checkpoint's")


def _name_fault(
    fields: dict[bytes, str],
    sequence: int,
    position: int,
    previous: str,
    expected_seq: int,
    case_id: str,
    report: LogReport,
) -> None:
    if sequence > expected_seq:
        gone = ", ".join(str(s) for s in range(expected_seq, sequence))
        report.problems.append(f"entry {gone} is missing (removed before entry {sequence})")
    elif sequence < expected_seq:
        report.problems.append(
            f"entry at line {position} has sequence {sequence}, expected {expected_seq}"
        )
    if fields.get(b"caseId") != case_id:
        report.problems.append(f"entry {sequence} belongs to case {fields.get(b'caseId')!r}")
    if sequence == expected_seq and previous != "?" and fields.get(b"previousHash") != previous:
        report.problems.append(
            f"entry {sequence - 1} was changed: entry {sequence}'s previousHash does not match it"
            if sequence > 1
            else "entry 1 does not start the chain (previousHash is not 64 zeros)"
        )
