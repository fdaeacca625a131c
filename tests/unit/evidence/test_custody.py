"""Custody entries, checkpoints and the offline log check: every fault is named."""

from __future__ import annotations

import datetime as dt

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf import json_format

from rtcc.evidence import custody, merkle
from rtcc.evidence.v1 import evidence_pb2 as pb

KEY = Ed25519PrivateKey.generate()
T0 = dt.datetime(2026, 12, 2, 7, 0, tzinfo=dt.UTC)


def _log(n: int, case_id: str = "cas_1") -> tuple[list[bytes], custody.Checkpoint]:
    lines: list[bytes] = []
    previous = custody.ZERO_HASH
    compact = merkle.CompactRange()
    for seq in range(1, n + 1):
        entry = custody.Entry(
            id=f"cus_{seq}",
            case_id=case_id,
            sequence=seq,
            action=6 if seq > 1 else 1,
            actor_subject="det.ruiz",
            actor_org_id="org_pd",
            time=T0 + dt.timedelta(seconds=seq, microseconds=1500 * seq),
            previous_hash=previous,
            item_id="itm_a" if seq > 1 else "",
            detail=f"step {seq}",
        )
        line = entry.canonical()
        lines.append(line)
        previous = custody.entry_hash(line)
        compact.append(merkle.leaf_hash(line))
    point = custody.Checkpoint(case_id, n, compact.root(), previous, T0).signed(KEY)
    return lines, point


def test_canonical_form_is_the_proto3_json_of_the_entry_without_its_hash() -> None:
    entry = custody.Entry(
        id="cus_x",
        case_id="cas_1",
        sequence=7,
        action=9,
        actor_subject="share:shl_1",
        actor_org_id="",
        time=T0.replace(microsecond=250000),
        previous_hash="ab" * 32,
        item_id="itm_1",
        item_sha256="cd" * 32,
        detail="download",
    )
    message = pb.CustodyEntry(
        id="cus_x",
        case_id="cas_1",
        sequence=7,
        action=pb.CUSTODY_ACTION_ITEM_ACCESSED,
        item_id="itm_1",
        item_sha256="cd" * 32,
        detail="download",
        previous_hash="ab" * 32,
    )
    message.actor.subject = "share:shl_1"
    message.time.FromDatetime(T0.replace(microsecond=250000))
    expected = custody.canonical_bytes(json_format.MessageToDict(message))
    assert entry.canonical() == expected


def test_every_action_name_matches_the_proto_enum() -> None:
    for number, name in custody.ACTIONS.items():
        assert pb.CustodyAction.Name(number) == name


def test_an_intact_log_verifies() -> None:
    lines, point = _log(20)
    report = custody.verify_log(lines, point, KEY.public_key())
    assert report.valid, report.problems
    assert report.root == point.root


def test_a_changed_byte_is_named_by_the_next_entrys_link() -> None:
    lines, point = _log(20)
    lines[6] = lines[6].replace(b"step 7", b"step 8")
    report = custody.verify_log(lines, point, KEY.public_key())
    assert "entry 7 was changed: entry 8's previousHash does not match it" in report.problems


def test_a_changed_last_entry_is_named_by_the_checkpoints_head() -> None:
    lines, point = _log(5)
    lines[4] = lines[4].replace(b"det.ruiz", b"det.ruis")
    report = custody.verify_log(lines, point, KEY.public_key())
    assert any(p.startswith("entry 5 (the last) was changed") for p in report.problems)


def test_a_removed_entry_is_named() -> None:
    lines, point = _log(10)
    del lines[3]
    report = custody.verify_log(lines, point, KEY.public_key())
    assert "entry 4 is missing (removed before entry 5)" in report.problems
    lines, point = _log(10)
    report = custody.verify_log(lines[:-1], point, KEY.public_key())
    assert any("1 entry is missing at the end" in p for p in report.problems)


def test_a_checkpoint_signed_by_another_key_or_altered_fails() -> None:
    lines, point = _log(3)
    other = Ed25519PrivateKey.generate().public_key()
    assert not custody.verify_log(lines, point, other).valid
    again = custody.Checkpoint.from_json(point.to_json())
    assert again == point and again.verify(KEY.public_key())
    forged = custody.Checkpoint(
        point.case_id,
        point.size,
        b"\x00" * 32,
        point.head_hash,
        point.time,
        point.signature,
        point.key_fingerprint,
    )
    assert not forged.verify(KEY.public_key())


def test_rfc3339_matches_protobufs_json_times() -> None:
    for micros in (0, 120000, 123456, 1000):
        when = T0.replace(microsecond=micros)
        stamp = pb.CustodyEntry().time
        stamp.FromDatetime(when)
        assert custody.rfc3339(when) == stamp.ToJsonString()
