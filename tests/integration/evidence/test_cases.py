"""Cases, items, holds and the custody log over gRPC, on embedded and real backends."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2

from rtcc.evidence import custody, merkle
from rtcc.evidence.cli import verify_path
from rtcc.evidence.v1 import evidence_pb2 as pb

DETECTIVE = ("det.ruiz@metro", ["investigator"])
PARTNER_DET = ("det.kim@metro", ["investigator"])
ADMIN = ("lt.cho@metro", ["partner-admin"])


async def _case(stub: Any, **fields: Any) -> pb.Case:
    fields.setdefault("title", "Burglary at 5th and Main")
    answer = await stub.CreateCase(pb.CreateCaseRequest(case=pb.Case(**fields)))
    return answer.case


async def _note(stub: Any, case_id: str, text: str = "Witness saw a red van") -> pb.Item:
    item = pb.Item(display_name="witness note", note=pb.NoteSource(text=text))
    return (await stub.CreateItem(pb.CreateItemRequest(case_id=case_id, item=item))).item


async def _upload(stub: Any, case_id: str, data: bytes, name: str, sha: str = "") -> Any:
    async def messages() -> Any:
        meta = pb.UploadFileMetadata(case_id=case_id, file_name=name, sha256=sha)
        yield pb.UploadFileRequest(metadata=meta)
        for at in range(0, len(data), 1000):
            yield pb.UploadFileRequest(data=data[at : at + 1000])

    return await stub.UploadFile(messages())


async def _entries(stub: Any, case_id: str) -> list[pb.CustodyEntry]:
    answer = await stub.ListCustodyEntries(pb.ListCustodyEntriesRequest(case_id=case_id))
    return list(answer.custody_entries)


async def test_cases_are_visible_only_to_members_of_the_owning_organisation(ev: Any) -> None:
    det = ev.as_(*DETECTIVE)
    case = await _case(
        det, case_number="24-000118", case_type="burglary", members=["det.kim@metro"]
    )
    assert case.retention_category == "evidentiary" and case.state == pb.CASE_STATE_OPEN
    assert (
        await ev.as_(*PARTNER_DET).GetCase(pb.GetCaseRequest(case_id=case.id))
    ).case.id == case.id
    assert (await ev.as_(*ADMIN).GetCase(pb.GetCaseRequest(case_id=case.id))).case.id == case.id
    outsider = ev.as_("det.lee@metro", ["investigator"])
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await outsider.GetCase(pb.GetCaseRequest(case_id=case.id))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    other_org = ev.as_("det.x@other", ["investigator"], org_id=ev.partner_org_id)
    listed = await other_org.ListCases(pb.ListCasesRequest())
    assert case.id not in [c.id for c in listed.cases]
    mine = await det.ListCases(pb.ListCasesRequest(text="5TH AND"))
    assert [c.id for c in mine.cases] == [case.id]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _case(det, case_number="24-000118")
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _case(ev.as_("analyst@metro", ["analyst"]))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_homicide_cases_are_kept_indefinitely_and_categories_are_checked(ev: Any) -> None:
    det = ev.as_(*DETECTIVE)
    case = await _case(det, case_type="Homicide", linked_alert_ids=["alr_123"])
    assert case.retention_category == "homicide" and list(case.linked_alert_ids) == ["alr_123"]
    item = await _note(det, case.id)
    assert item.retention_category == "homicide" and not item.HasField("retain_until")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _case(det, retention_category="forever-ish")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "forever-ish" in (caught.value.details() or "")


async def test_every_change_lands_in_a_verifiable_custody_log(ev: Any) -> None:
    det = ev.as_(*DETECTIVE)
    case = await _case(det)
    note = await _note(det, case.id)
    updated = await det.UpdateItem(
        pb.UpdateItemRequest(
            item=pb.Item(id=note.id, description="corroborated", etag=note.etag),
            update_mask=field_mask_pb2.FieldMask(paths=["description"]),
        )
    )
    assert updated.item.description == "corroborated"
    chunks = [
        m async for m in det.DownloadItem(pb.DownloadItemRequest(item_id=note.id, purpose="review"))
    ]
    assert b"".join(c.data for c in chunks) == b"Witness saw a red van"
    entries = await _entries(det, case.id)
    actions = [pb.CustodyAction.Name(e.action) for e in entries]
    assert actions == [
        "CUSTODY_ACTION_CASE_CREATED",
        "CUSTODY_ACTION_ITEM_ADDED",
        "CUSTODY_ACTION_ITEM_UPDATED",
        "CUSTODY_ACTION_ITEM_ACCESSED",
    ]
    assert entries[1].item_sha256 == hashlib.sha256(b"Witness saw a red van").hexdigest()
    assert [e.previous_hash for e in entries[1:]] == [e.entry_hash for e in entries[:-1]]
    verdict = await det.VerifyCustodyChain(pb.VerifyCustodyChainRequest(case_id=case.id))
    assert verdict.valid and verdict.tree_size == 4 and verdict.head_hash == entries[-1].entry_hash
    proof = await det.GetCustodyProof(
        pb.GetCustodyProofRequest(case_id=case.id, sequence=2, old_tree_size=1)
    )
    point = custody.Checkpoint.from_json(
        {
            "body": proof.checkpoint.body,
            "signature": __import__("base64").b64encode(proof.checkpoint.signature).decode(),
            "keyFingerprint": proof.checkpoint.key_fingerprint,
        }
    )
    assert point.verify(custody.load_public_key(proof.checkpoint.public_key))
    leaf = merkle.leaf_hash(proof.entry)
    assert merkle.verify_inclusion(1, point.size, leaf, list(proof.inclusion_path), point.root)
    first_root = merkle.leaf_hash(
        (await det.GetCustodyProof(pb.GetCustodyProofRequest(case_id=case.id, sequence=1))).entry
    )
    assert merkle.verify_consistency(
        1, point.size, first_root, point.root, list(proof.consistency_path)
    )


async def test_a_hold_blocks_deletion_and_needs_a_second_person_to_release(ev: Any) -> None:
    det, admin = ev.as_(*DETECTIVE), ev.as_(*ADMIN)
    case = await _case(det, members=["lt.cho@metro"])
    note = await _note(det, case.id)
    held = await det.SetLegalHold(
        pb.SetLegalHoldRequest(case_id=case.id, active=True, reason="court order 24-118")
    )
    assert held.case.legal_hold.active and held.case.legal_hold.actor.subject == "det.ruiz@metro"
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await det.DeleteItem(pb.DeleteItemRequest(item_id=note.id, reason="duplicate"))
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await det.DeleteCase(pb.DeleteCaseRequest(case_id=case.id))
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await det.SetLegalHold(pb.SetLegalHoldRequest(case_id=case.id, active=False, reason="done"))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "second authorised person" in (caught.value.details() or "")
    released = await admin.SetLegalHold(
        pb.SetLegalHoldRequest(case_id=case.id, active=False, reason="case closed by court")
    )
    assert not released.case.legal_hold.active
    await det.DeleteItem(pb.DeleteItemRequest(item_id=note.id, reason="duplicate"))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await det.GetItem(pb.GetItemRequest(item_id=note.id))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    actions = [pb.CustodyAction.Name(e.action) for e in await _entries(det, case.id)]
    assert actions[-3:] == [
        "CUSTODY_ACTION_LEGAL_HOLD_SET",
        "CUSTODY_ACTION_LEGAL_HOLD_RELEASED",
        "CUSTODY_ACTION_ITEM_DELETED",
    ]


async def test_uploads_are_checked_for_hash_type_size_and_name(ev: Any) -> None:
    det = ev.as_(*DETECTIVE)
    case = await _case(det)
    data = b"%PDF-1.4 statement of witness"
    good = await _upload(det, case.id, data, "statement.pdf", hashlib.sha256(data).hexdigest())
    assert (
        good.item.sha256 == hashlib.sha256(data).hexdigest() and good.item.kind == pb.ITEM_KIND_FILE
    )
    for name, sha, words in [
        ("statement.pdf", "0" * 64, "SHA-256"),
        ("../../etc/passwd.txt", "", "not allowed"),
        ("tool.exe", "", "not accepted"),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await _upload(det, case.id, data, name, sha)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, name
        assert words in (caught.value.details() or ""), caught.value.details()
    items = await det.ListItems(pb.ListItemsRequest(case_id=case.id))
    assert [i.id for i in items.items] == [good.item.id]
    verdict = await det.VerifyCustodyChain(pb.VerifyCustodyChainRequest(case_id=case.id))
    assert verdict.valid and verdict.tree_size == 2, "refusals leave the log consistent"


async def test_an_upload_over_the_size_limit_is_refused(evidence_factory: Any) -> None:
    async with evidence_factory(evidence={"max_upload_bytes": 2048}) as ev:
        det = ev.as_(*DETECTIVE)
        case = await _case(det)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await _upload(det, case.id, b"x" * 5000, "big.txt")
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "larger than the 2048 bytes" in (caught.value.details() or "")
        small = await _upload(det, case.id, b"x" * 100, "small.txt")
        assert small.item.size_bytes == 100


async def test_a_package_verifies_offline_and_a_flipped_byte_is_named(ev: Any, tmp: Path) -> None:
    det = ev.as_(*DETECTIVE)
    case = await _case(det, case_number="24-7")
    await _note(det, case.id)
    await _upload(det, case.id, b"\x89PNG fake image" * 100, "scene.png")
    built = await det.ExportPackage(pb.ExportPackageRequest(case_id=case.id, purpose="discovery"))
    assert built.item_count == 2
    data = b"".join(
        [
            m.data
            async for m in det.DownloadPackage(
                pb.DownloadPackageRequest(case_id=case.id, package_id=built.package_id)
            )
        ]
    )
    assert hashlib.sha256(data).hexdigest() == built.sha256
    path = tmp / "package.zip"
    path.write_bytes(data)
    report = verify_path(path)
    assert report.valid, report.problems
    assert report.entries >= 4
    flipped = bytearray(data)
    at = data.find(b"Witness saw")
    flipped[at] ^= 0x20
    path.write_bytes(bytes(flipped))
    problems = verify_path(path).problems
    assert any("note.txt was changed" in p for p in problems), problems


async def test_a_case_adopts_its_alerts_recording_holds_and_releases_them_with_its_hold(
    ev: Any,
) -> None:
    import datetime as dt

    import sqlalchemy as sa

    from rtcc.evidence.alert_holds import HOLDS

    db = ev.platform.platform.runtime.db
    now = dt.datetime.now(dt.UTC)
    async with db.transaction() as conn:  # as alerting places it (docs/alerting.md)
        await conn.execute(
            HOLDS.insert().values(
                id="hld_alert1",
                organization_id=ev.org_id,
                camera_id="cam_1",
                start_time=now - dt.timedelta(minutes=5),
                end_time=now,
                holder_type="alert",
                holder_id="alr_shots",
                reason="shots fired",
                creator="service:alerting",
                create_time=now,
                release_time=None,
                released_by="",
                released_by_org="",
                release_reason="",
            )
        )
    det, admin = ev.as_(*DETECTIVE), ev.as_(*ADMIN)
    case = await _case(det, linked_alert_ids=["alr_shots"], members=["lt.cho@metro"])

    async def holds() -> dict[str, Any]:
        async with db.transaction(readonly=True) as conn:
            rows = (await conn.execute(sa.select(HOLDS))).all()
        return {(r.holder_type, r.holder_id): r for r in rows}

    found = await holds()
    assert found[("alert", "alr_shots")].release_reason == f"adopted by case {case.id}"
    assert found[("case", case.id)].release_time is None
    await det.SetLegalHold(pb.SetLegalHoldRequest(case_id=case.id, active=True, reason="order"))
    await admin.SetLegalHold(pb.SetLegalHoldRequest(case_id=case.id, active=False, reason="done"))
    found = await holds()
    assert found[("case", case.id)].release_time is not None
    assert found[("case", case.id)].released_by == "lt.cho@metro"
    details = [e.detail for e in await _entries(det, case.id)]
    assert any(d.startswith("adopted recording holds") for d in details)
    assert any(d.startswith("released recording holds") for d in details)
