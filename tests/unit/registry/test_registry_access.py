"""Who may see what: grants, schedules, expiry, revocation, roles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from rtcc.core.auth import Principal
from rtcc.core.errors import PermissionDenied
from rtcc.registry import access
from rtcc.registry.access import Grant, Schedule, Window
from rtcc.registry.grant_cache import GrantSet

DETROIT = ZoneInfo("America/Detroit")
NIGHTS = Schedule("America/Detroit", (Window(frozenset(), 22 * 60, 6 * 60),))
FRIDAY_NIGHT = Schedule("America/Detroit", (Window(frozenset({5}), 22 * 60, 6 * 60),))


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=DETROIT).astimezone(UTC)  # type: ignore[misc]


def grant(**kw: object) -> Grant:
    values: dict[str, object] = {
        "id": "grt_1",
        "grantor_org_id": "org_shop",
        "grantee_org_id": "org_pd",
        "all_cameras": True,
        "camera_ids": frozenset(),
        "live": True,
        "recorded": False,
    }
    values.update(kw)
    return Grant(**values)  # type: ignore[arg-type]


def who(*roles: str, org: str = "org_pd", subject: str = "u@pd") -> Principal:
    return Principal(subject, org, frozenset(roles))


# ---- schedules ---------------------------------------------------------------------


def test_night_window_is_open_late_evening_and_ends_next_morning() -> None:
    # 2026-03-02 is a Monday.
    assert access.open_window_end(NIGHTS, local(2026, 3, 2, 23, 0)) == local(2026, 3, 3, 6, 0)


def test_night_window_started_yesterday_is_open_before_dawn() -> None:
    assert access.open_window_end(NIGHTS, local(2026, 3, 3, 5, 59)) == local(2026, 3, 3, 6, 0)


@pytest.mark.parametrize("hour", [6, 12, 21])
def test_night_window_is_closed_in_the_day(hour: int) -> None:
    assert access.open_window_end(NIGHTS, local(2026, 3, 3, hour, 0)) is None


def test_window_days_are_the_days_it_starts_on() -> None:
    # Friday 2026-03-06 22:00 to Saturday 06:00.
    assert access.open_window_end(FRIDAY_NIGHT, local(2026, 3, 7, 3, 0)) == local(2026, 3, 7, 6, 0)
    assert access.open_window_end(FRIDAY_NIGHT, local(2026, 3, 6, 3, 0)) is None  # Thu night
    assert access.open_window_end(FRIDAY_NIGHT, local(2026, 3, 6, 23, 0)) is not None


def test_window_is_read_in_its_time_zone_not_utc() -> None:
    office = Schedule("Asia/Tokyo", (Window(frozenset(), 9 * 60, 17 * 60),))
    tokyo_ten = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert access.open_window_end(office, tokyo_ten.astimezone(UTC)) is not None
    assert access.open_window_end(office, datetime(2026, 3, 2, 10, 0, tzinfo=UTC)) is None


def test_window_to_midnight_ends_at_the_next_day() -> None:
    evening = Schedule("UTC", (Window(frozenset(), 18 * 60, 24 * 60),))
    now = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
    assert access.open_window_end(evening, now) == datetime(2026, 3, 3, tzinfo=UTC)


# ---- grants ------------------------------------------------------------------------

NOW = local(2026, 3, 3, 12, 0)


@pytest.mark.parametrize(
    ("kw", "state"),
    [
        ({}, access.GrantState.ACTIVE),
        ({"start_time": NOW + timedelta(hours=1)}, access.GrantState.PENDING),
        ({"expire_time": NOW}, access.GrantState.EXPIRED),
        ({"revoke_time": NOW - timedelta(seconds=1)}, access.GrantState.REVOKED),
        ({"revoke_time": NOW, "expire_time": NOW}, access.GrantState.REVOKED),
    ],
)
def test_grant_state_follows_its_times(kw: dict[str, datetime], state: access.GrantState) -> None:
    assert access.grant_state(grant(**kw), NOW) is state


def test_owner_has_full_access_without_grants() -> None:
    decision = access.camera_access("org_shop", "org_shop", "cam_1", [], NOW)
    assert decision.owner and decision.live and decision.recorded and decision.valid_until is None


def test_live_grant_gives_live_and_nothing_more() -> None:
    decision = access.camera_access("org_pd", "org_shop", "cam_1", [grant()], NOW)
    assert decision.visible and decision.live and not decision.recorded
    assert decision.grant_ids == ("grt_1",) and not decision.owner


@pytest.mark.parametrize(
    "kw",
    [
        {"expire_time": NOW - timedelta(seconds=1)},
        {"revoke_time": NOW},
        {"start_time": NOW + timedelta(minutes=1)},
        {"grantee_org_id": "org_other"},
        {"grantor_org_id": "org_other_shop"},
        {"all_cameras": False, "camera_ids": frozenset({"cam_2"})},
    ],
)
def test_grant_that_does_not_apply_gives_nothing(kw: dict[str, object]) -> None:
    decision = access.camera_access("org_pd", "org_shop", "cam_1", [grant(**kw)], NOW)
    assert decision == access.NO_ACCESS


def test_outside_its_schedule_a_grant_shows_the_camera_but_no_video() -> None:
    decision = access.camera_access("org_pd", "org_shop", "cam_1", [grant(schedule=NIGHTS)], NOW)
    assert decision.visible and not decision.live and not decision.recorded
    assert decision.reason == "outside schedule"


def test_access_ends_at_the_earlier_of_window_end_and_expiry() -> None:
    night = local(2026, 3, 3, 23, 0)
    late_expiry = grant(schedule=NIGHTS, expire_time=local(2026, 3, 10, 0, 0))
    assert access.camera_access("org_pd", "org_shop", "c", [late_expiry], night).valid_until == (
        local(2026, 3, 4, 6, 0)
    )
    early = grant(schedule=NIGHTS, expire_time=local(2026, 3, 4, 1, 0))
    assert access.camera_access("org_pd", "org_shop", "c", [early], night).valid_until == (
        local(2026, 3, 4, 1, 0)
    )


def test_two_grants_add_up_and_the_open_ended_one_wins() -> None:
    live = grant(id="grt_live", expire_time=NOW + timedelta(days=1))
    recorded = grant(id="grt_rec", live=False, recorded=True)
    decision = access.camera_access("org_pd", "org_shop", "c", [live, recorded], NOW)
    assert decision.live and decision.recorded and decision.valid_until is None
    assert set(decision.grant_ids) == {"grt_live", "grt_rec"}


def test_named_cameras_grant_covers_only_those() -> None:
    named = grant(all_cameras=False, camera_ids=frozenset({"cam_1"}))
    assert access.camera_access("org_pd", "org_shop", "cam_1", [named], NOW).live
    assert not access.camera_access("org_pd", "org_shop", "cam_9", [named], NOW).visible


def test_visibility_collects_grantors_and_named_grants_in_force() -> None:
    rules = [
        grant(id="grt_a"),
        grant(id="grt_b", grantor_org_id="org_b", all_cameras=False, camera_ids=frozenset()),
        grant(id="grt_c", grantor_org_id="org_c", revoke_time=NOW),
    ]
    vis = access.visibility(who("operator"), rules, NOW)
    assert not vis.everything
    assert vis.grantor_org_ids == {"org_shop"} and vis.camera_grant_ids == {"grt_b"}


@pytest.mark.parametrize(
    "principal",
    [who("platform-admin", org="org_platform"), who("service", subject="service:alerting")],
)
def test_services_and_platform_admins_see_every_camera(principal: Principal) -> None:
    assert access.visibility(principal, [], NOW).everything


# ---- roles -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("principal", "allowed"),
    [
        (who("partner-admin", org="org_shop"), True),
        (who("platform-admin", org="org_platform"), True),
        (who("partner-admin", org="org_pd"), False),
        (who("operator", "investigator", "analyst", org="org_shop"), False),
        (who("service", subject="service:ingest", org="org_platform"), False),
    ],
)
def test_only_the_owners_admin_or_a_platform_admin_administers_it(
    principal: Principal, allowed: bool
) -> None:
    if allowed:
        access.require_org_admin(principal, "org_shop")
    else:
        with pytest.raises(PermissionDenied):
            access.require_org_admin(principal, "org_shop")


def test_a_role_named_service_is_not_a_service_without_a_service_subject() -> None:
    impostor = who("service", subject="mallory")
    with pytest.raises(PermissionDenied):
        access.require_member(impostor)
    with pytest.raises(PermissionDenied):
        access.require_service(impostor, "ingest")
    with pytest.raises(PermissionDenied):
        access.require_service(who("service", subject="service:alerting"), "ingest")
    access.require_service(who("service", subject="service:ingest"), "ingest")


def test_users_check_access_only_for_their_own_organisation() -> None:
    assert access.may_check_for(who("operator"), "org_pd")
    assert not access.may_check_for(who("operator"), "org_shop")
    assert access.may_check_for(who("service", subject="service:playback"), "org_shop")


def test_cached_grant_set_sees_what_the_reference_visibility_sees() -> None:
    rules = [
        grant(id="grt_a"),
        grant(id="grt_b", grantor_org_id="org_b", all_cameras=False, camera_ids=frozenset()),
    ]
    for principal in (who("operator"), who("platform-admin", org="org_platform")):
        cached = GrantSet.of(principal.org_id, rules).visibility(principal)
        assert cached == access.visibility(principal, rules, NOW)
    granted = GrantSet.of("org_pd", rules)
    assert granted.named_grantors == {"org_b"} and granted.named_grant_ids == ("grt_b",)
