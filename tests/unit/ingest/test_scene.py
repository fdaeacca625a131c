"""Simulated scenes: deterministic, and their ground truth matches their drawing."""

from __future__ import annotations

from rtcc.sim.scene import WIDTH, filter_graph, ground_truth, plate_for, scene_for


def test_the_same_camera_always_gets_the_same_scene() -> None:
    assert filter_graph(scene_for(3, 10)) == filter_graph(scene_for(3, 10))
    assert ground_truth(scene_for(3, 10)) == ground_truth(scene_for(3, 10))
    assert plate_for(1, 1) != plate_for(2, 1)


def test_intruder_enters_the_restricted_zone_at_a_known_time() -> None:
    truth = ground_truth(scene_for(0, 10))
    entries = {e["object_id"]: e["time_s"] for e in truth["zone_entries"]}
    assert 4.0 < entries["intruder"] < 6.0
    frame = truth["frames"][round(entries["intruder"] * 15)]
    box = next(o["box"] for o in frame["objects"] if o["id"] == "intruder")
    zx, _zy, zw, _zh = truth["zone"]["box"]
    assert zx <= box[0] + box[2] / 2 <= zx + zw


def test_every_plate_is_drawn_and_reported() -> None:
    scene = scene_for(2, 10)
    graph, truth = filter_graph(scene), ground_truth(scene)
    assert len(truth["plates"]) == 2
    for plate in truth["plates"]:
        assert f"text='{plate['text']}'" in graph


def test_boxes_follow_the_same_motion_as_the_rendered_expression() -> None:
    scene = scene_for(0, 10)
    actor = scene.actors[0]
    expr = actor.expr(1)
    for t in (0.0, 2.5, 7.3):
        value = eval(  # the FFmpeg expression is plain arithmetic once if/lt are defined
            expr.replace("if(", "_if(").replace("lt(", "_lt("),
            {"_if": lambda c, a, b: a if c else b, "_lt": lambda a, b: a < b, "t": t},
        )
        assert abs(value - actor.position(t)[0]) < 1e-6
    assert ground_truth(scene)["size"] == [WIDTH, 720]
