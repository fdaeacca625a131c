"""The demo feed raises a gunshot and a CAD alert next to the demo cameras."""

from __future__ import annotations

from typing import Any

from rtcc.alerting.demo import DemoFeed
from rtcc.alerting.v1 import alerting_pb2 as pb
from rtcc.backends.database import Database


async def test_one_round_of_the_demo_feed_raises_two_correlated_alerts(
    database: Database, city_block: Any
) -> None:
    async with city_block(database) as block:
        feed = DemoFeed(block.p.platform.runtime, block.org_id, every_s=60)
        list_id = await feed.ensure_hotlist(["RTC4821"])
        assert await feed.ensure_hotlist(["RTC4821"]) == list_id  # once
        ids = await feed.feed_once()
        assert len(ids) == 2
        kinds = set()
        for alert_id in ids:
            alert = (await block.stub().GetAlert(pb.GetAlertRequest(alert_id=alert_id))).alert
            kinds.add(alert.kind)
            assert alert.correlation.in_view_count >= 1
        assert kinds == {"gunshot", "cad_incident"}
