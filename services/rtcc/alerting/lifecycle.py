"""The alert lifecycle as a pure state machine, plus escalation and merge keys.

    new (OPEN) ── acknowledge ──▶ ACKNOWLEDGED ── assign ──▶ ASSIGNED
        │  └──────────── assign (acknowledges too) ────────────▶ │
        └── resolve (outcome) / dismiss (reason) ◀───────────────┘ ──▶ RESOLVED | DISMISSED

Closed alerts (resolved, dismissed) change no more; notes may still be added.
Every transition is audited by the store in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from rtcc.core.errors import FailedPrecondition, InvalidArgument

OPEN, ACKNOWLEDGED, RESOLVED, ASSIGNED, DISMISSED = 1, 2, 3, 4, 5
CLOSED = frozenset({RESOLVED, DISMISSED})
STATE_NAMES = {
    OPEN: "open",
    ACKNOWLEDGED: "acknowledged",
    RESOLVED: "resolved",
    ASSIGNED: "assigned",
    DISMISSED: "dismissed",
}
# ResolutionOutcome values.
ACTIONED, NO_ACTION, FALSE_ALARM, DUPLICATE = 1, 2, 3, 4
MAX_NOTE = 4000


@dataclass(frozen=True)
class Transition:
    state: int
    action: str
    note: str = ""


def _open(state: int, alert_id: str, verb: str) -> None:
    if state in CLOSED:
        raise FailedPrecondition(
            f"alert {alert_id} is already {STATE_NAMES[state]}; it cannot be {verb}"
        )


def check_note(note: str, *, required: bool = False, name: str = "note") -> str:
    note = note.strip()
    if required and not note:
        raise InvalidArgument(f"{name} is required", field=name)
    if len(note) > MAX_NOTE:
        raise InvalidArgument(f"{name} is at most {MAX_NOTE} characters", field=name)
    return note


def acknowledge(state: int, alert_id: str) -> Transition:
    _open(state, alert_id, "acknowledged")
    # Acknowledging twice (two operators at once) keeps the later state.
    return Transition(ACKNOWLEDGED if state == OPEN else state, "alert.acknowledge")


def assign(state: int, alert_id: str, assignee: str, unit: str) -> Transition:
    _open(state, alert_id, "assigned")
    if len(assignee) > 255 or len(unit) > 64:
        raise InvalidArgument("assignee is at most 255 and unit at most 64 characters")
    if not assignee and not unit:
        return Transition(ACKNOWLEDGED, "alert.unassign")
    return Transition(ASSIGNED, "alert.assign")


def resolve(state: int, alert_id: str, outcome: int, note: str) -> Transition:
    _open(state, alert_id, "resolved")
    if outcome not in (ACTIONED, NO_ACTION, FALSE_ALARM, DUPLICATE):
        raise InvalidArgument(
            "outcome is required (actioned, no action, false alarm, duplicate)", field="outcome"
        )
    check_note(note, required=outcome == FALSE_ALARM)
    return Transition(RESOLVED, "alert.resolve", note)


def dismiss(state: int, alert_id: str, reason: str) -> Transition:
    _open(state, alert_id, "dismissed")
    reason = check_note(reason, required=True, name="reason")
    return Transition(DISMISSED, "alert.dismiss", reason)


def due_escalation(
    state: int, create_time: dt.datetime, level: int, now: dt.datetime, after: dt.timedelta
) -> bool:
    """An open alert escalates once per `after` it stays unacknowledged (level 1, 2…)."""
    if state != OPEN or after <= dt.timedelta(0):
        return False
    return now - create_time >= after * (level + 1)


def escalated_severity(severity: int) -> int:
    return min(4, severity + 1)


def merge_key(fields: tuple[str, ...], values: dict[str, object]) -> str:
    """The configurable duplicate key: alerts with one key while open are one alert.

    ``fields`` name alert attributes (kind, source, source_event_id, address, cell);
    ``cell`` is the location snapped to a ~100 m grid, so two reports of one scene from
    different systems share it."""
    parts = []
    for name in fields:
        if name == "cell":
            lat, lon = values.get("latitude"), values.get("longitude")
            if not isinstance(lat, (int, float)) or not isinstance(lon, (int, float)):
                return ""
            parts.append(f"{round(lat * 1000)}:{round(lon * 1000)}")
        else:
            parts.append(str(values.get(name, "")).strip().lower())
    return "|".join(parts)
