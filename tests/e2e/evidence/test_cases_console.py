"""The console's Cases module (static/cases.js) in a real Chromium against the evidence
JSON API: open a case, add a note, verify the custody chain, create a share link."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.integration.evidence.conftest import Evidence, Stub, _org

from rtcc.evidence.v1 import evidence_pb2 as pb


async def test_the_cases_module_opens_a_case_adds_a_note_verifies_and_shares(
    platform_factory: Any, browser: Any, tmp_path: Path
) -> None:
    from rtcc.core.clients import open_channel
    from rtcc.registry.v1 import registry_pb2, registry_pb2_grpc

    targets = ["registry", "ingest", "evidence", "playback"]
    async with platform_factory(targets=targets) as p:
        admin = p.token("org_platform", ["platform-admin"])
        channel = open_channel(p.address, lambda: admin)
        registry = Stub(registry_pb2_grpc.RegistryServiceStub(channel), admin)
        org = await _org(registry, "Metro PD", registry_pb2.ORGANIZATION_KIND_AGENCY)
        http = f"http://127.0.0.1:{p.platform.http.port}"
        token = p.token(org, ["investigator"], subject="det.ruiz@metro")
        page = await browser.new_page()
        await page.goto(f"{http}/healthz")
        await page.evaluate(
            """async (token) => {
                document.body.innerHTML = "<div id='root'></div>";
                const { mountCases } = await import("/static/cases.js");
                window.view = mountCases(document.getElementById("root"), { token: () => token });
            }""",
            token,
        )
        await page.fill("form.new-case input[name=title]", "Burglary at the pharmacy")
        await page.fill("form.new-case input[name=number]", "24-4242")
        await page.click("form.new-case button")
        await page.wait_for_selector(".rtcc-cases li.case.selected")
        await page.fill("form.note input.note-text", "Back door forced")
        await page.click("form.note button")
        await page.wait_for_selector("table.items tr[data-item]")
        await page.wait_for_selector("table.custody tr[data-sequence='2']")
        assert "item added" in await page.inner_text("table.custody tr[data-sequence='2']")
        await page.click("button.verify")
        await page.wait_for_selector("p.verdict.ok")
        assert "Intact: 2 entries" in await page.inner_text("p.verdict")
        await page.fill("form.share input.recipient", "ADA Ann Smith")
        await page.click("form.share button[type=submit]")
        await page.wait_for_selector("code.share-url")
        url = await page.inner_text("code.share-url")
        assert url.startswith(f"{http}/evidence/s/")
        ev = Evidence(p, channel, org, "", http, "embedded")
        cases = await ev.as_("det.ruiz@metro", ["investigator"]).ListCases(pb.ListCasesRequest())
        (case,) = cases.cases
        assert case.case_number == "24-4242" and case.item_count == 1
        links = await ev.as_("det.ruiz@metro", ["investigator"]).ListShareLinks(
            pb.ListShareLinksRequest(case_id=case.id)
        )
        assert [link.recipient for link in links.share_links] == ["ADA Ann Smith"]
        await page.close()
        await channel.close()
