"""A hot-listed plate passing a camera raises an unverified hit that a person confirms;
a hit near a gunshot raises a correlated alert; an EIDO incident raises and updates an
alert; updates of unknown incidents are refused."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import grpc
import pytest

from rtcc.alerting.v1 import alerting_pb2 as pb
from rtcc.backends.database import Database

from .conftest import Block, gunshot_xml, now, offset, poll

HOTLIST = b"""PlateNumber;PlateState;Category;EffectiveDate;ExpiryDate
8OB5Z1;;stolen;2020-01-01;2099-12-31
ABC123;IL;amber;;
"""


async def _hotlist(block: Block) -> str:
    stub = block.stub(("partner-admin",))
    created = await stub.CreateHotlist(
        pb.CreateHotlistRequest(
            hotlist=pb.Hotlist(display_name="Stolen vehicles", max_substitutions=1)
        )
    )
    bad = await stub.ImportHotlist(
        pb.ImportHotlistRequest(
            hotlist_id=created.hotlist.id, content=HOTLIST + b"NOT A PLATE!;;x;;\nXYZ;;x;someday;\n"
        )
    )
    assert bad.imported == 0 and [e.line for e in bad.errors] == [4, 5]
    listed = await stub.ListHotlists(pb.ListHotlistsRequest())
    assert listed.hotlists[0].entry_count == 0  # nothing half imported
    good = await stub.ImportHotlist(
        pb.ImportHotlistRequest(hotlist_id=created.hotlist.id, content=HOTLIST)
    )
    assert good.imported == 2 and not good.errors and good.hotlist.entry_count == 2
    return str(created.hotlist.id)


async def _alerts_of(block: Block, kind: str) -> list[Any]:
    listed = await block.stub().ListAlerts(pb.ListAlertsRequest())
    return [a for a in listed.alerts if a.kind == kind]


async def test_hotlisted_plate_raises_a_hit_that_needs_a_person_to_confirm(
    database: Database, city_block: Any
) -> None:
    async with city_block(database) as block:
        admin = block.stub(("partner-admin",))
        rule = pb.Rule(
            display_name="Hit near shots",
            enabled=True,
            severity=pb.SEVERITY_CRITICAL,
            correlation=pb.CorrelationTrigger(
                premise_kinds=["gunshot"], condition_kinds=["hotlist_hit"], radius_meters=500
            ),
        )
        await admin.CreateRule(pb.CreateRuleRequest(rule=rule))
        list_id = await _hotlist(block)
        t = now()
        status, _ = await block.post("shotspotter", gunshot_xml("SS-H", 1, t))
        assert status == 201

        # The camera reads "80B5Z1": the listed 8OB5Z1 with O read as 0.
        read_id = await block.plate_read("west_facing_east", "80B5Z1", t, publish=True)
        hits = await poll(lambda: _alerts_of(block, "hotlist_hit"))
        assert "unverified" in hits[0].title and "OCR-equivalent" in hits[0].title
        (hit,) = (await block.stub().ListHotlistHits(pb.ListHotlistHitsRequest())).hits
        assert hit.plate_read_id == read_id and hit.hotlist_id == list_id
        assert hit.match_type == pb.HOTLIST_MATCH_TYPE_OCR_EQUIVALENT and hit.substitutions == 1
        assert hit.state == pb.HOTLIST_HIT_STATE_UNVERIFIED and hit.entry.category == "stolen"

        correlated = await poll(lambda: _alerts_of(block, "correlation"))
        assert correlated[0].severity == pb.SEVERITY_CRITICAL
        assert correlated[0].title == "Hit near shots"

        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await block.stub().VerifyHotlistHit(
                pb.VerifyHotlistHitRequest(hit_id=hit.id, confirmed=True)
            )
        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT  # a note is required
        verified = await block.stub().VerifyHotlistHit(
            pb.VerifyHotlistHitRequest(
                hit_id=hit.id, confirmed=True, note="snapshot shows 8OB5Z1, silver sedan"
            )
        )
        assert verified.hit.state == pb.HOTLIST_HIT_STATE_CONFIRMED
        assert verified.hit.verifier.subject == "op@city"
        alert = (await block.stub().GetAlert(pb.GetAlertRequest(alert_id=hit.alert_id))).alert
        assert any("confirmed by op@city" in n.text for n in alert.notes)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await block.stub().VerifyHotlistHit(
                pb.VerifyHotlistHitRequest(hit_id=hit.id, confirmed=False, note="again")
            )
        assert caught.value.code() is grpc.StatusCode.FAILED_PRECONDITION

        # The same read delivered again raises nothing new.
        await block.plate_read("west_facing_east", "ZZZ999", t, publish=True)
        assert len(await _alerts_of(block, "hotlist_hit")) == 1


def eido(incident: str, status: str, stamp: str, north: float = 0) -> bytes:
    lat, lon = offset(north, 0)
    return json.dumps(
        {
            "incidentComponent": [
                {
                    "incidentTrackingIdentifier": incident,
                    "incidentTypeCommonRegistryText": ["Shots Fired"],
                    "incidentStatusCommonRegistryText": [status],
                    "incidentCommonPriorityNumber": 2,
                    "lastUpdateTimeStamp": stamp,
                }
            ],
            "locationComponent": [
                {
                    "locationByValue": {"latitude": lat, "longitude": lon},
                    "civicAddressText": "5th & Main",
                }
            ],
        }
    ).encode()


async def test_eido_incident_raises_then_updates_and_closes_its_alert(
    database: Database, city_block: Any
) -> None:
    async with city_block(database) as block:
        t = now()
        stamp = (t - timedelta(minutes=1)).isoformat()
        post = block.post
        status, first = await post(
            "cad", eido("INC-7", "Dispatched", stamp), content_type="application/json"
        )
        assert status == 201, first
        status, second = await post(
            "cad",
            eido("INC-7", "On Scene", t.isoformat(), north=30),
            content_type="application/json",
        )
        assert status == 201 and second["alert_id"] == first["alert_id"]
        alert = (await block.stub().GetAlert(pb.GetAlertRequest(alert_id=first["alert_id"]))).alert
        assert alert.kind == "cad_incident" and "On Scene" in alert.title
        assert alert.severity == pb.SEVERITY_HIGH and alert.trigger_count == 2
        later = (t + timedelta(minutes=5)).isoformat()
        status, _ = await post(
            "cad", eido("INC-7", "Closed", later), content_type="application/json"
        )
        assert status == 201
        alert = (await block.stub().GetAlert(pb.GetAlertRequest(alert_id=first["alert_id"]))).alert
        assert alert.state == pb.ALERT_STATE_RESOLVED

        status, body = await post(
            "cad", eido("INC-404", "Closed", later), content_type="application/json"
        )
        assert status == 404 and "not known here" in body["error"]
        events = await block.stub().ListExternalEvents(pb.ListExternalEventsRequest())
        sources = [e.source_event_id for e in events.external_events]
        assert sources.count("INC-7") == 3 and "INC-404" in sources  # kept, nothing lost


async def test_scheduled_import_from_a_bucket_and_the_freshness_alarm(
    database: Database, city_block: Any
) -> None:
    async with city_block(database) as block:
        objects = block.p.platform.runtime.objects
        await objects.ensure_bucket("hotlists")
        await objects.put("hotlists", "bolo.csv", b"ABC123,IL,stolen,,\n", content_type="text/csv")
        admin = block.stub(("partner-admin",))
        spec = pb.Hotlist(
            display_name="State BOLO", source_url="bucket://hotlists/bolo.csv", delimiter=","
        )
        spec.refresh_interval.FromSeconds(3600)
        spec.max_age.FromSeconds(7200)
        created = (await admin.CreateHotlist(pb.CreateHotlistRequest(hotlist=spec))).hotlist
        worker = block.alerting.worker
        t = now()
        await worker.tick(t)
        (listed,) = (await admin.ListHotlists(pb.ListHotlistsRequest())).hotlists
        assert listed.entry_count == 1 and not listed.last_error

        # A broken file on the next run changes nothing and says why.
        await objects.put(
            "hotlists", "bolo.csv", b"ABC123,IL,stolen,,\nBAD!,IL,x,,\n", content_type="text/csv"
        )
        await worker.tick(t + timedelta(hours=1, seconds=1))
        (listed,) = (await admin.ListHotlists(pb.ListHotlistsRequest())).hotlists
        assert listed.entry_count == 1 and "line 2" in listed.last_error

        # No good import for longer than max_age: a freshness alarm, once.
        await worker.tick(t + timedelta(hours=2, seconds=2))
        await worker.tick(t + timedelta(hours=2, seconds=3))
        stale = await _alerts_of(block, "hotlist_stale")
        assert len(stale) == 1 and "State BOLO" in stale[0].title
        await objects.put(
            "hotlists",
            "bolo.csv",
            b"XYZ9,IL,amber,,\nABC123,IL,stolen,,\n",
            content_type="text/csv",
        )
        await worker.tick(t + timedelta(hours=3, seconds=4))
        (listed,) = (await admin.ListHotlists(pb.ListHotlistsRequest())).hotlists
        assert listed.entry_count == 2 and listed.id == created.id
        alert = (await block.stub().GetAlert(pb.GetAlertRequest(alert_id=stale[0].id))).alert
        assert alert.state == pb.ALERT_STATE_RESOLVED
