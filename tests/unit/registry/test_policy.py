"""The one access policy (registry/policy.py): every row of docs/access.md's table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rtcc.registry import access, policy
from rtcc.registry.access import Grant, Schedule, Window
from rtcc.registry.policy import CallerKind, What

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # a Monday, 14:00 UTC
NIGHTS = Schedule("UTC", (Window(frozenset(), 22 * 60, 6 * 60),))
AFTERNOONS = Schedule("UTC", (Window(frozenset(), 12 * 60, 18 * 60),))
MEMBER, ADMIN, SERVICE = CallerKind.MEMBER, CallerKind.PLATFORM_ADMIN, CallerKind.SERVICE


def grant(**kw: object) -> Grant:
    values: dict[str, object] = {
        "id": "grt_1",
        "grantor_org_id": "org_shop",
        "grantee_org_id": "org_pd",
        "all_cameras": True,
        "camera_ids": frozenset(),
        "live": True,
        "recorded": True,
    }
    values.update(kw)
    return Grant(**values)  # type: ignore[arg-type]


def held(*grants: Grant, org: str = "org_pd", now: datetime = NOW) -> access.Access:
    return access.camera_access(org, "org_shop", "cam_1", grants, now)


def allowed(kind: CallerKind, holding: access.Access, what: What, **kw: object) -> bool:
    return policy.decide(kind, holding, what, **kw).allowed  # type: ignore[arg-type]


ALL = list(What)


def test_services_see_everything_raw_video_of_masked_cameras_included() -> None:
    nothing = held()
    for what in ALL:
        assert allowed(SERVICE, nothing, what, raw=True, masked=True)


def test_the_owner_sees_everything_but_people_get_no_raw_video_of_a_masked_camera() -> None:
    mine = held(org="org_shop")
    assert all(allowed(MEMBER, mine, what) for what in ALL)
    assert allowed(MEMBER, mine, What.LIVE_VIDEO, raw=True, masked=False)
    for what in (What.LIVE_VIDEO, What.RECORDED_VIDEO):
        decision = policy.decide(MEMBER, mine, what, raw=True, masked=True)
        assert not decision.allowed and decision.reason == "privacy masked"
        assert allowed(MEMBER, mine, what, raw=False, masked=True)  # playback masks it
    assert allowed(MEMBER, mine, What.ANALYTICS, raw=True, masked=True)  # not video


def test_a_grantee_inside_a_window_sees_what_the_grant_says() -> None:
    live_only = held(grant(recorded=False, schedule=AFTERNOONS))
    assert [allowed(MEMBER, live_only, w) for w in ALL] == [True, True, False, True, True]
    recorded_only = held(grant(live=False))
    assert [allowed(MEMBER, recorded_only, w) for w in ALL] == [True, False, True, True, True]
    assert policy.decide(MEMBER, recorded_only, What.LIVE_VIDEO).reason == "scope not granted"


def test_a_grantee_outside_every_window_sees_metadata_only() -> None:
    closed = held(grant(schedule=NIGHTS))
    assert closed.visible
    assert [allowed(MEMBER, closed, w) for w in ALL] == [True, False, False, False, False]
    assert policy.decide(MEMBER, closed, What.ANALYTICS).reason == "outside schedule"
    at_night = held(grant(schedule=NIGHTS), now=NOW.replace(hour=23))
    assert all(allowed(MEMBER, at_night, w) for w in ALL)


@pytest.mark.parametrize(
    "lapsed",
    [
        grant(revoke_time=NOW - timedelta(minutes=1)),
        grant(expire_time=NOW - timedelta(minutes=1)),
        grant(start_time=NOW + timedelta(days=1)),
    ],
    ids=["revoked", "expired", "pending"],
)
def test_revoked_expired_and_pending_grants_give_nothing_at_all(lapsed: Grant) -> None:
    assert not any(allowed(MEMBER, held(lapsed), w) for w in ALL)


def test_no_grant_gives_nothing_and_another_organisations_grant_neither() -> None:
    assert not any(allowed(MEMBER, held(), w) for w in ALL)
    assert not any(allowed(MEMBER, held(grant(grantee_org_id="org_other")), w) for w in ALL)


def test_platform_admins_see_metadata_and_health_but_no_video_or_results() -> None:
    nothing = held(org="org_platform")
    assert [allowed(ADMIN, nothing, w) for w in ALL] == [True, False, False, True, False]
    decision = policy.decide(ADMIN, nothing, What.LIVE_VIDEO)
    assert decision.reason == "metadata only"
    assert all(allowed(ADMIN, held(org="org_shop"), w) for w in ALL)  # unless owner


def test_recorded_video_of_an_instant_before_the_grant_started_is_refused() -> None:
    started = NOW - timedelta(days=1)
    recent = held(grant(start_time=started))
    assert recent.recorded_since == started
    assert allowed(MEMBER, recent, What.RECORDED_VIDEO, at=started + timedelta(hours=1))
    decision = policy.decide(MEMBER, recent, What.RECORDED_VIDEO, at=started - timedelta(hours=1))
    assert not decision.allowed and decision.reason == "before grant start"
    # A second grant without a start lifts the bound.
    assert held(grant(start_time=started), grant(id="grt_2")).recorded_since is None
    assert held(org="org_shop").recorded_since is None


def test_caller_kind_follows_service_identity_then_platform_admin_role() -> None:
    assert policy.caller_kind(is_service=True, roles=["operator"]) is SERVICE
    assert policy.caller_kind(is_service=False, roles=["platform-admin"]) is ADMIN
    assert policy.caller_kind(is_service=False, roles=["operator", "analyst"]) is MEMBER
