"""The alert lifecycle state machine, escalation and duplicate keys."""

from __future__ import annotations

import datetime as dt

import pytest

from rtcc.alerting import lifecycle as lc
from rtcc.core.errors import FailedPrecondition, InvalidArgument

T = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def test_new_to_acknowledged_to_assigned_to_resolved() -> None:
    state = lc.acknowledge(lc.OPEN, "a").state
    assert state == lc.ACKNOWLEDGED
    state = lc.assign(state, "a", "officer@city", "1-Adam-12").state
    assert state == lc.ASSIGNED
    assert lc.resolve(state, "a", lc.ACTIONED, "").state == lc.RESOLVED


def test_assigning_an_open_alert_acknowledges_it_and_unassigning_keeps_it_acknowledged() -> None:
    assert lc.assign(lc.OPEN, "a", "", "unit-7").state == lc.ASSIGNED
    assert lc.assign(lc.ASSIGNED, "a", "", "").state == lc.ACKNOWLEDGED


def test_closed_alerts_change_no_more() -> None:
    for closed in (lc.RESOLVED, lc.DISMISSED):
        with pytest.raises(FailedPrecondition, match="already"):
            lc.acknowledge(closed, "a")
        with pytest.raises(FailedPrecondition):
            lc.resolve(closed, "a", lc.ACTIONED, "")


def test_dismiss_needs_a_reason_and_false_alarm_a_note() -> None:
    with pytest.raises(InvalidArgument, match="reason is required"):
        lc.dismiss(lc.OPEN, "a", "  ")
    assert lc.dismiss(lc.OPEN, "a", "fireworks").state == lc.DISMISSED
    with pytest.raises(InvalidArgument, match="note is required"):
        lc.resolve(lc.OPEN, "a", lc.FALSE_ALARM, "")
    with pytest.raises(InvalidArgument, match="outcome"):
        lc.resolve(lc.OPEN, "a", 0, "")


def test_escalation_is_due_once_per_period_while_unacknowledged() -> None:
    after = dt.timedelta(seconds=60)
    assert not lc.due_escalation(lc.OPEN, T, 0, T + dt.timedelta(seconds=59), after)
    assert lc.due_escalation(lc.OPEN, T, 0, T + dt.timedelta(seconds=60), after)
    assert not lc.due_escalation(lc.OPEN, T, 1, T + dt.timedelta(seconds=100), after)
    assert lc.due_escalation(lc.OPEN, T, 1, T + dt.timedelta(seconds=120), after)
    assert not lc.due_escalation(lc.ACKNOWLEDGED, T, 0, T + dt.timedelta(hours=1), after)
    assert lc.escalated_severity(4) == 4


def test_merge_key_from_configured_fields() -> None:
    values = {
        "kind": "gunshot",
        "source": "ss",
        "source_event_id": "1",
        "latitude": 41.00012,
        "longitude": -87.00049,
    }
    assert lc.merge_key(("kind", "source", "source_event_id"), values) == "gunshot|ss|1"
    near = {**values, "latitude": 41.00031}
    assert lc.merge_key(("kind", "cell"), values) == lc.merge_key(("kind", "cell"), near)
    assert lc.merge_key(("cell",), {"latitude": None}) == ""
