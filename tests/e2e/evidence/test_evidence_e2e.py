"""The evidence story end to end, on PostgreSQL, MinIO (object lock), mailpit and a
real Chromium: alert → case → clips from three recorded cameras → court package
verified offline (CLI and the package's own page from file://; a flipped byte fails)
→ a mailed share link plays the clip → revoked → refused; a partner request read from
the SMTP server's API → upload through the link → item with custody entries; the
legal hold survives a retention run."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import pytest
from tests.integration.evidence.conftest import Evidence, Stub, _org, _pg, wait_until
from tests.integration.evidence.test_export import _clip, cameras, finished, recorded

from rtcc.evidence.v1 import evidence_pb2 as pb

ROOT = Path(__file__).resolve().parents[3]
DETECTIVE = ("det.ruiz@metro", ["investigator"])
SUPERVISOR = ("lt.cho@metro", ["partner-admin"])


@pytest.fixture(autouse=True)
def short_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RTCC_INGEST__SEGMENT_SECONDS", "2")


def _mail(api: str, to: str) -> str:
    """The text of the newest message mailpit received for `to` ('' if none)."""
    with urllib.request.urlopen(f"{api}/api/v1/messages", timeout=5) as answer:
        listing = json.load(answer)
    for message in listing.get("messages", []):
        if any(r.get("Address") == to for r in message.get("To", [])):
            with urllib.request.urlopen(f"{api}/api/v1/message/{message['ID']}", timeout=5) as one:
                return str(json.load(one).get("Text", ""))
    return ""


async def _mailed_link(api: str, to: str, kind: str) -> str:
    found: list[str] = []

    async def arrived() -> bool:
        text = _mail(api, to)
        match = re.search(rf"(http://\S+/evidence/{kind}/\S+)", text)
        found[:] = [match.group(1)] if match else []
        return bool(found)

    await wait_until(arrived, within_s=20, what=f"mail to {to}")
    return found[0]


def _cli(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rtcc.cli", "evidence", "verify", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


async def _plays(page: Any, selector: str) -> None:
    """The video starts and its clock advances (the browser decoded it)."""
    await page.wait_for_selector(selector)
    await page.eval_on_selector(selector, "v => v.play()")
    await page.wait_for_function(
        "sel => { const v = document.querySelector(sel); "
        "return v && v.readyState >= 2 && v.currentTime > 0.3 && v.videoWidth > 0; }",
        arg=selector,
        timeout=20000,
    )


async def _verify_in_browser(browser: Any, folder: Path) -> tuple[str, Any]:
    page = await browser.new_page()
    await page.goto((folder / "verify.html").as_uri())
    await page.set_input_files("#folder", str(folder))
    await page.wait_for_function(
        "() => !document.getElementById('result').classList.contains('wait')", timeout=30000
    )
    return await page.inner_text("#result"), page


async def test_alert_to_court_package_share_link_and_partner_upload(
    platform_factory: Any,
    simulator: Any,
    mailpit: Any,
    postgres_url: str,
    minio_url: str,
    browser: Any,
    tmp_path: Path,
) -> None:
    db_url, drop = await _pg(postgres_url)
    settings = {
        "database_url": db_url,
        "object_store_url": minio_url,
        "evidence": {
            "smtp_url": f"smtp://{mailpit.smtp_host}:{mailpit.smtp_port}",
            "retention_days": {"brief": 20 / 86400, "evidentiary": 1000.0},
        },
    }
    try:
        async with platform_factory(targets=["registry", "ingest", "evidence"], **settings) as p:
            await _story(p, simulator, mailpit, browser, tmp_path)
    finally:
        await drop()


async def _story(p: Any, simulator: Any, mailpit: Any, browser: Any, tmp_path: Path) -> None:
    from rtcc.core.clients import open_channel
    from rtcc.registry.v1 import registry_pb2, registry_pb2_grpc

    admin = p.token("org_platform", ["platform-admin"])
    channel = open_channel(p.address, lambda: admin)
    registry = Stub(registry_pb2_grpc.RegistryServiceStub(channel), admin)
    org = await _org(registry, "Metro PD", registry_pb2.ORGANIZATION_KIND_AGENCY)
    partner = await _org(registry, "Corner Store", registry_pb2.ORGANIZATION_KIND_PARTNER_BUSINESS)
    http = f"http://127.0.0.1:{p.platform.http.port}"
    ev = Evidence(p, channel, org, partner, http, "real")
    cams = await cameras(ev, simulator, [org, org, org])
    det, supervisor = ev.as_(*DETECTIVE), ev.as_(*SUPERVISOR)

    # Alert → case (the alert's id links them), then one clip per camera.
    case = (
        await det.CreateCase(
            pb.CreateCaseRequest(
                case=pb.Case(
                    title="Shots fired, 5th and Main",
                    case_number="24-000731",
                    case_type="assault",
                    retention_category="brief",
                    linked_alert_ids=["alr_e2e_shots"],
                    members=["lt.cho@metro"],
                )
            )
        )
    ).case
    segments = [await recorded(ev, cam, org, 2) for cam in cams]
    jobs = []
    for cam, segs in zip(cams, segments, strict=True):
        start = segs[0].start_time.ToDatetime(tzinfo=dt.UTC)
        end = segs[-1].end_time.ToDatetime(tzinfo=dt.UTC)
        answer = await det.ExportClip(
            pb.ExportClipRequest(case_id=case.id, clip=_clip(cam, start, end))
        )
        jobs.append(answer)
    done = [await finished(det, j.export_job.id, within_s=90) for j in jobs]
    assert [j.state for j in done] == [pb.EXPORT_JOB_STATE_SUCCEEDED] * 3, [j.error for j in done]

    # Court package: verified offline by the CLI and by its own page in Chromium.
    built = await det.ExportPackage(pb.ExportPackageRequest(case_id=case.id, purpose="discovery"))
    data = b"".join(
        [
            m.data
            async for m in det.DownloadPackage(
                pb.DownloadPackageRequest(case_id=case.id, package_id=built.package_id)
            )
        ]
    )
    assert hashlib.sha256(data).hexdigest() == built.sha256 and built.item_count == 3
    package = tmp_path / "package.zip"
    package.write_bytes(data)
    good = _cli(package)
    assert good.returncode == 0 and "VERIFIED" in good.stdout, good.stdout + good.stderr
    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(package) as archive:
        archive.extractall(folder)
    text, page = await _verify_in_browser(browser, folder)
    assert text.startswith("ALL 4 FILES VERIFIED"), text
    assert "valid Ed25519" in await page.inner_text("#signature") or "cannot check" in (
        await page.inner_text("#signature")
    )
    assert "each proven included" in await page.inner_text("#custody")
    await _plays(page, "video")
    await page.close()
    clip = next(folder.glob("items/*/clip.mp4"))
    flipped = bytearray(clip.read_bytes())
    flipped[len(flipped) // 2] ^= 0x01
    tampered = tmp_path / "tampered"
    shutil.copytree(folder, tampered)
    (tampered / clip.relative_to(folder)).write_bytes(bytes(flipped))
    text, page = await _verify_in_browser(browser, tampered)
    assert text.startswith("VERIFICATION FAILED") and str(clip.relative_to(folder)) in text, text
    await page.close()
    bad_zip = tmp_path / "tampered.zip"
    with zipfile.ZipFile(bad_zip, "w") as archive:
        for path in sorted(tampered.rglob("*")):
            if path.is_file():
                archive.write(path, str(path.relative_to(tampered)))
    bad = _cli(bad_zip)
    assert bad.returncode == 1 and f"{clip.relative_to(folder)} was changed" in bad.stdout, (
        bad.stdout
    )

    # A mailed share link plays the clip in Chromium; revoked, it is refused.
    link = await det.CreateShareLink(
        pb.CreateShareLinkRequest(
            case_id=case.id,
            share_link=pb.ShareLink(
                recipient="ADA Ann Smith",
                recipient_email="ann.smith@da.example",
                item_ids=[jobs[0].item.id],
                expire_time=_in(hours=2),
            ),
        )
    )
    url = await _mailed_link(mailpit.api_url, "ann.smith@da.example", "s")
    assert url == link.url
    page = await browser.new_page()
    answer = await page.goto(url)
    assert answer.status == 200
    await _plays(page, "video")
    assert await page.locator("a.download").count() == 0, "view-only link offers no download"
    await det.RevokeShareLink(
        pb.RevokeShareLinkRequest(share_link_id=link.share_link.id, reason="plea")
    )
    answer = await page.goto(url)
    assert answer.status == 410 and "revoked" in await page.inner_text("#refusal")
    await page.close()
    log = (
        await det.ListCustodyEntries(pb.ListCustodyEntriesRequest(case_id=case.id))
    ).custody_entries
    by_link = [e for e in log if e.actor.subject == f"share:{link.share_link.id}"]
    assert {pb.CustodyAction.Name(e.action) for e in by_link} >= {
        "CUSTODY_ACTION_SHARE_LINK_ACCESSED",
        "CUSTODY_ACTION_ITEM_ACCESSED",
    }

    # A partner request: mailed link, upload through the page (hashed in the browser).
    start = segments[0][0].start_time.ToDatetime(tzinfo=dt.UTC)
    await det.CreateEvidenceRequest(
        pb.CreateEvidenceRequestRequest(
            evidence_request=pb.EvidenceRequest(
                case_id=case.id,
                partner_organization_id=partner,
                partner_contact_email="owner@corner.example",
                clips=[_clip(cams[0], start, start + dt.timedelta(minutes=5))],
                reason="robbery next door",
            )
        )
    )
    request_url = await _mailed_link(mailpit.api_url, "owner@corner.example", "r")
    phone = tmp_path / "storefront.mp4"
    shutil.copy(clip, phone)
    page = await browser.new_page()
    await page.goto(request_url)
    await page.set_input_files("#upload", str(phone))
    await page.wait_for_selector("#uploaded li[data-state]", timeout=20000)
    assert await page.get_attribute("#uploaded li", "data-state") == "stored"
    await page.click("#finish")
    await page.wait_for_selector("#done")
    again = await page.goto(request_url)
    assert again.status == 410
    await page.close()
    items = (await det.ListItems(pb.ListItemsRequest(case_id=case.id))).items
    uploaded = [i for i in items if i.kind == pb.ITEM_KIND_FILE]
    assert (
        len(uploaded) == 1 and uploaded[0].sha256 == hashlib.sha256(phone.read_bytes()).hexdigest()
    )
    log = (
        await det.ListCustodyEntries(pb.ListCustodyEntriesRequest(case_id=case.id))
    ).custody_entries
    mine = [e for e in log if e.item_id == uploaded[0].id]
    assert mine and mine[0].action == pb.CUSTODY_ACTION_ITEM_ADDED
    assert mine[0].actor.subject == "partner:owner@corner.example"
    assert (
        log[-1].action == pb.CUSTODY_ACTION_EVIDENCE_REQUEST_UPDATED
        and "approved" in log[-1].detail
    )

    # Legal hold: the case's items outlive their (20 s) retention through a retention run.
    await det.SetLegalHold(pb.SetLegalHoldRequest(case_id=case.id, active=True, reason="DA hold"))
    item_ids = [j.item.id for j in jobs]
    ends = [(await det.GetItem(pb.GetItemRequest(item_id=i))).item.retain_until for i in item_ids]
    latest = max(e.ToDatetime(tzinfo=dt.UTC) for e in ends)

    async def ran_past_retention() -> bool:
        outcome = await supervisor.RunEvidenceRetention(pb.RunEvidenceRetentionRequest())
        return dt.datetime.now(dt.UTC) > latest and outcome.items_held >= 3

    await wait_until(ran_past_retention, within_s=60, what="a retention run past the items' end")
    for item_id in item_ids:
        item = (await det.GetItem(pb.GetItemRequest(item_id=item_id))).item
        assert item.state == pb.ITEM_STATE_READY
    verdict = await det.VerifyCustodyChain(pb.VerifyCustodyChainRequest(case_id=case.id))
    assert verdict.valid
    await channel.close()


def _in(hours: float) -> Any:
    from google.protobuf import timestamp_pb2

    out = timestamp_pb2.Timestamp()
    out.FromDatetime(dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours))
    return out
