"""The lease plan: balanced, sticky, and taking over dead replicas' cameras."""

from __future__ import annotations

from rtcc.ingest.leases import fair_share, plan

CAMERAS = [f"cam_{i}" for i in range(10)]


def _converge(replicas: list[str], holders: dict[str, str], max_cameras: int = 0) -> dict[str, str]:
    """Run every replica's plan until nothing changes (replicas act one after another)."""
    for _ in range(10):
        changed = False
        for me in replicas:
            decision = plan(me, CAMERAS, replicas, holders, max_cameras)
            for camera in decision.release:
                del holders[camera]
                changed = True
            for camera in decision.acquire:
                if camera not in holders:
                    holders[camera] = me
                    changed = True
        if not changed:
            return holders
    raise AssertionError("plans did not converge")


def test_cameras_spread_evenly_over_replicas() -> None:
    holders = _converge(["a", "b", "c"], {})
    counts = sorted(list(holders.values()).count(r) for r in "abc")
    assert len(holders) == 10 and counts == [3, 3, 4]


def test_dead_replicas_cameras_are_taken_over_by_the_living() -> None:
    holders = _converge(["a", "b", "c"], {})
    survivors = {c: r for c, r in holders.items() if r != "c"}  # c's leases expired
    after = _converge(["a", "b"], survivors)
    assert len(after) == 10 and set(after.values()) == {"a", "b"}
    assert all(after[c] == r for c, r in survivors.items()), "survivors keep their cameras"


def test_new_replica_gets_a_share_and_others_give_back_only_extras() -> None:
    holders = _converge(["a", "b"], {})
    after = _converge(["a", "b", "c"], dict(holders))
    assert sorted(list(after.values()).count(r) for r in "abc") == [3, 3, 4]
    moved = [c for c in CAMERAS if holders[c] != after[c]]
    assert len(moved) <= 4


def test_replica_releases_cameras_no_longer_recorded() -> None:
    decision = plan("a", ["cam_1"], ["a"], {"cam_1": "a", "cam_gone": "a"})
    assert decision.release == ["cam_gone"] and decision.acquire == []


def test_restart_of_the_same_replicas_gives_the_same_assignment() -> None:
    assert _converge(["a", "b", "c"], {}) == _converge(["a", "b", "c"], {})
    assert [fair_share(10, 3, i) for i in range(3)] == [4, 3, 3] and fair_share(0, 3) == 0


def test_a_replica_never_holds_more_than_its_limit_and_the_rest_wait() -> None:
    holders = _converge(["a", "b"], {}, max_cameras=3)
    assert sorted(list(holders.values()).count(r) for r in "ab") == [3, 3]
    # A third replica (the operator scaled out) takes cameras nobody could.
    holders = _converge(["a", "b", "c"], holders, max_cameras=3)
    assert sorted(list(holders.values()).count(r) for r in "abc") == [3, 3, 3]
    # A limit above the fair share changes nothing.
    assert sorted(_converge(["a", "b"], {}, max_cameras=8).values()).count("a") == 5
