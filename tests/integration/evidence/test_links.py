"""Share links and partner request links over HTTP, mail through a real mailpit, and
the console's JSON API."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from google.protobuf import timestamp_pb2
from tests.integration.evidence.test_cases import DETECTIVE, _case, _note, _upload
from tests.integration.evidence.test_export import _clip, cameras, finished, recorded

from rtcc.evidence.cli import verify_path
from rtcc.evidence.v1 import evidence_pb2 as pb


def _in(**delta: float) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(dt.datetime.now(dt.UTC) + dt.timedelta(**delta))
    return out


def _mail_to(api: str, to: str) -> str:
    with urllib.request.urlopen(f"{api}/api/v1/messages", timeout=5) as answer:
        listing = json.load(answer)
    for message in listing.get("messages", []):
        if any(r.get("Address") == to for r in message.get("To", [])):
            with urllib.request.urlopen(f"{api}/api/v1/message/{message['ID']}", timeout=5) as one:
                return str(json.load(one).get("Text", ""))
    return ""


@pytest.fixture
def mail_settings(mailpit: Any) -> dict[str, Any]:
    return {"evidence": {"smtp_url": f"smtp://{mailpit.smtp_host}:{mailpit.smtp_port}"}}


async def test_share_links_open_with_passcode_record_access_and_refuse_when_revoked(
    evidence_factory: Any, mailpit: Any, mail_settings: dict[str, Any]
) -> None:
    async with evidence_factory(**mail_settings) as ev:
        det = ev.as_(*DETECTIVE)
        case = await _case(det, case_number="24-55")
        note = await _note(det, case.id, "Suspect left northbound")
        created = await det.CreateShareLink(
            pb.CreateShareLinkRequest(
                case_id=case.id,
                password="correct horse",
                share_link=pb.ShareLink(
                    recipient="Public Defender J. Doe",
                    recipient_email="jdoe@pd.example",
                    allow_download=True,
                    expire_time=_in(hours=1),
                ),
            )
        )
        assert created.share_link.password_protected and created.url.startswith(ev.http)
        assert created.url in _mail_to(mailpit.api_url, "jdoe@pd.example")
        # unsafe=True: aiohttp's jar otherwise drops cookies set by an IP address host.
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.get(created.url) as answer:
                assert answer.status == 200 and "passcode" in await answer.text()
                assert note.sha256 not in await answer.text(), "nothing shown before the passcode"
            async with http.post(created.url, data={"passcode": "wrong one"}) as answer:
                assert answer.status == 403
            async with http.post(created.url, data={"passcode": "correct horse"}) as answer:
                page = await answer.text()
                assert answer.status == 200 and note.sha256 in page
            content = f"{created.url}/items/{note.id}?download=1"
            async with http.get(content) as answer:
                assert await answer.read() == b"Suspect left northbound"
                assert "attachment" in answer.headers["Content-Disposition"]
            inline = f"{created.url}/items/{note.id}"
            async with http.get(inline, headers={"Range": "bytes=8-11"}) as answer:
                assert answer.status == 206 and await answer.read() == b"left"
                assert answer.headers["Content-Range"] == "bytes 8-11/23"
            async with http.get(inline, headers={"Range": "bytes=99-"}) as answer:
                assert answer.status == 416
            await det.RevokeShareLink(
                pb.RevokeShareLinkRequest(share_link_id=created.share_link.id)
            )
            for url in (created.url, content):
                async with http.get(url) as answer:
                    assert answer.status == 410 and "revoked" in await answer.text()
            async with http.get(created.url + "x") as answer:
                assert answer.status == 403 and "not valid" in await answer.text()
        link = await det.GetShareLink(pb.GetShareLinkRequest(share_link_id=created.share_link.id))
        assert link.share_link.state == pb.SHARE_LINK_STATE_REVOKED
        assert link.share_link.access_count >= 3
        log = await det.ListCustodyEntries(pb.ListCustodyEntriesRequest(case_id=case.id))
        details = [e.detail for e in log.custody_entries]
        assert any("wrong passcode" in d for d in details)
        assert any(d.startswith("downloaded through share link") for d in details)
        assert log.custody_entries[-1].action == pb.CUSTODY_ACTION_SHARE_LINK_REVOKED


async def test_share_links_are_checked_and_view_only_links_do_not_download(ev: Any) -> None:
    det = ev.as_(*DETECTIVE)
    case = await _case(det)
    note = await _note(det, case.id)
    for link, password, field in [
        (pb.ShareLink(recipient="x", expire_time=_in(days=91)), "", "expire_time"),
        (pb.ShareLink(recipient="", expire_time=_in(hours=1)), "", "recipient"),
        (pb.ShareLink(recipient="x", expire_time=_in(hours=1)), "short", "passcode"),
        (
            pb.ShareLink(recipient="x", recipient_email="not-mail", expire_time=_in(hours=1)),
            "",
            "e-mail",
        ),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await det.CreateShareLink(
                pb.CreateShareLinkRequest(case_id=case.id, share_link=link, password=password)
            )
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, field
    created = await det.CreateShareLink(
        pb.CreateShareLinkRequest(
            case_id=case.id,
            share_link=pb.ShareLink(recipient="ADA", expire_time=_in(seconds=3)),
        )
    )
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{created.url}/items/{note.id}?download=1") as answer:
            assert answer.status == 403 and "not download" in await answer.text()
        async with http.get(f"{created.url}/items/{note.id}") as answer:
            assert answer.status == 200
        expired = await det.ListShareLinks(
            pb.ListShareLinksRequest(case_id=case.id, states=[pb.SHARE_LINK_STATE_ACTIVE])
        )
        assert [s.id for s in expired.share_links] == [created.share_link.id]
        # Expiry: moved into the past in the database (the clock is not ours to turn).
        from rtcc.evidence import tables

        async with ev.platform.platform.runtime.db.transaction() as conn:
            await conn.execute(
                tables.share_links.update()
                .where(tables.share_links.c.id == created.share_link.id)
                .values(expire_time=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
            )
        async with http.get(created.url) as answer:
            assert answer.status == 410 and "expired" in await answer.text()


async def test_a_partner_declines_or_uploads_once_and_files_are_checked(
    evidence_factory: Any, mailpit: Any, mail_settings: dict[str, Any], tmp_path: Path
) -> None:
    async with evidence_factory(**mail_settings) as ev:
        det = ev.as_(*DETECTIVE)
        case = await _case(det)
        now = dt.datetime.now(dt.UTC)
        clip = _clip("cam_corner1", now - dt.timedelta(hours=2), now - dt.timedelta(hours=1))
        urls = []
        for contact in ("a@corner.example", "b@corner.example"):
            await det.CreateEvidenceRequest(
                pb.CreateEvidenceRequestRequest(
                    evidence_request=pb.EvidenceRequest(
                        case_id=case.id,
                        partner_contact_email=contact,
                        clips=[clip],
                        reason="robbery at the corner",
                    )
                )
            )
            text = _mail_to(mailpit.api_url, contact)
            urls.append(next(w for w in text.split() if "/evidence/r/" in w))
        async with aiohttp.ClientSession() as http:
            async with http.get(urls[0]) as answer:
                assert answer.status == 200 and "robbery at the corner" in await answer.text()
            async with http.post(
                f"{urls[0]}/decline", data={"reason": "no camera there"}
            ) as answer:
                assert answer.status == 200
            async with http.post(f"{urls[0]}/decline", data={"reason": "again"}) as answer:
                assert answer.status == 410, "a request link works once"
            data = b"fake mp4 from the store's NVR" * 50
            digest = hashlib.sha256(data).hexdigest()
            for name, sha, kind, status in [
                ("../../x.mp4", digest, "video/mp4", 400),
                ("nvr.mp4", "0" * 64, "video/mp4", 400),
                ("nvr.exe", digest, "application/x-msdownload", 400),
                ("nvr.mp4", digest, "video/mp4", 200),
            ]:
                headers = {"X-File-Name": name, "X-Content-SHA256": sha, "Content-Type": kind}
                async with http.post(f"{urls[1]}/files", data=data, headers=headers) as answer:
                    assert answer.status == status, (name, await answer.text())
            async with http.post(f"{urls[1]}/finish") as answer:
                assert answer.status == 200
            async with http.get(urls[1]) as answer:
                assert answer.status == 410
        requests = await det.ListEvidenceRequests(pb.ListEvidenceRequestsRequest(case_id=case.id))
        states = sorted(r.state for r in requests.evidence_requests)
        assert states == [pb.EVIDENCE_REQUEST_STATE_APPROVED, pb.EVIDENCE_REQUEST_STATE_DECLINED]
        declined = next(
            r for r in requests.evidence_requests if r.state == pb.EVIDENCE_REQUEST_STATE_DECLINED
        )
        assert declined.response_note == "no camera there"
        items = (await det.ListItems(pb.ListItemsRequest(case_id=case.id))).items
        assert [i.sha256 for i in items if i.kind == pb.ITEM_KIND_FILE] == [digest]


async def test_a_partner_organisation_approves_and_its_recording_lands_in_the_case(
    ev: Any, simulator: Any
) -> None:
    det = ev.as_(*DETECTIVE)
    case = await _case(det)
    (cam,) = await cameras(ev, simulator, [ev.partner_org_id])
    segs = await recorded(ev, cam, ev.partner_org_id, 2)
    start = segs[0].start_time.ToDatetime(tzinfo=dt.UTC)
    ask = await det.CreateEvidenceRequest(
        pb.CreateEvidenceRequestRequest(
            evidence_request=pb.EvidenceRequest(
                case_id=case.id,
                partner_organization_id=ev.partner_org_id,
                clips=[_clip(cam, start, start + dt.timedelta(minutes=10))],
                reason="hit and run",
            )
        )
    )
    owner = ev.as_("owner@corner", ["partner-admin"], org_id=ev.partner_org_id)
    received = await owner.ListEvidenceRequests(
        pb.ListEvidenceRequestsRequest(direction=pb.EVIDENCE_REQUEST_DIRECTION_RECEIVED)
    )
    assert [r.id for r in received.evidence_requests] == [ask.evidence_request.id]
    clerk = ev.as_("clerk@corner", ["operator"], org_id=ev.partner_org_id)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await clerk.RespondToEvidenceRequest(
            pb.RespondToEvidenceRequestRequest(
                evidence_request_id=ask.evidence_request.id,
                decision=pb.EVIDENCE_REQUEST_DECISION_APPROVE,
            )
        )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    end = segs[-1].end_time.ToDatetime(tzinfo=dt.UTC)
    answer = await owner.RespondToEvidenceRequest(
        pb.RespondToEvidenceRequestRequest(
            evidence_request_id=ask.evidence_request.id,
            decision=pb.EVIDENCE_REQUEST_DECISION_APPROVE,
            approved_clips=[_clip(cam, start, end)],
            note="here you are",
        )
    )
    assert answer.evidence_request.state == pb.EVIDENCE_REQUEST_STATE_APPROVED
    (item_id,) = answer.evidence_request.item_ids
    item = (await det.GetItem(pb.GetItemRequest(item_id=item_id))).item
    job = await finished(det, item.export_job_id)
    assert job.state == pb.EXPORT_JOB_STATE_SUCCEEDED, job.error
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await owner.RespondToEvidenceRequest(
            pb.RespondToEvidenceRequestRequest(
                evidence_request_id=ask.evidence_request.id,
                decision=pb.EVIDENCE_REQUEST_DECISION_DECLINE,
                note="changed my mind",
            )
        )
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_the_console_api_serves_cases_timeline_and_a_verifiable_log(
    ev: Any, tmp_path: Path
) -> None:
    det = ev.as_(*DETECTIVE)
    case = await _case(det, case_number="24-900")
    await _note(det, case.id)
    await _upload(det, case.id, b"plain text statement", "statement.txt")
    headers = {"Authorization": f"Bearer {det.token}"}
    base = f"{ev.http}/api/evidence/v1"
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.post(f"{base}/ListCases", json={"text": "24-900"}) as answer:
            body = await answer.json()
            assert answer.status == 200 and [c["id"] for c in body["cases"]] == [case.id]
        async with http.post(f"{base}/GetCase", json={"caseId": "cas_nope"}) as answer:
            assert answer.status == 404 and "does not exist" in (await answer.json())["error"]
        async with http.get(f"{base}/cases/{case.id}/timeline") as answer:
            events = (await answer.json())["events"]
            assert {e["kind"] for e in events} == {"item", "custody"}
        async with http.get(f"{base}/cases/{case.id}/custody.log") as answer:
            log = await answer.read()
        async with aiohttp.ClientSession() as anonymous:
            async with anonymous.get(f"{base}/cases/{case.id}/timeline") as answer:
                assert answer.status == 401
    path = tmp_path / "custody.jsonl"
    path.write_bytes(log)
    assert verify_path(path).valid
    lines = log.split(b"\n")
    lines[2] = lines[2].replace(b"witness", b"witless")
    assert lines[2] != log.split(b"\n")[2]
    path.write_bytes(b"\n".join(lines))
    problems = verify_path(path).problems
    assert "custody: entry 2 was changed: entry 3's previousHash does not match it" in problems
