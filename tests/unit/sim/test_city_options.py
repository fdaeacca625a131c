"""Options for many cheap cameras: a smaller main stream and the `rtcc sim` flags."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from rtcc.sim import cli
from rtcc.sim.scene import filter_graph, scene_for
from rtcc.sim.simulator import Simulator


def test_the_default_graph_is_unchanged_and_a_main_size_scales_the_main_stream() -> None:
    scene = scene_for(0, 10)
    assert filter_graph(scene) == filter_graph(scene, (1280, 720))
    small = filter_graph(scene, (640, 360))
    assert "[big]scale=640:360[main]" in small and "[full]scale=640:360[sub]" in small
    tiny = filter_graph(scene, (320, 180))
    assert "[full]scale=320:180[sub]" in tiny, "the sub stream is never larger than the main"


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_commands(parser.add_subparsers(dest="command"))
    return parser.parse_args(["sim", *argv])


def test_the_sim_command_takes_size_bitrate_and_shared() -> None:
    args = _parse("--cameras", "100", "--size", "640x360", "--bitrate", "1M", "--shared")
    assert (args.cameras, args.size, args.bitrate, args.shared) == (100, (640, 360), "1M", True)
    assert _parse().shared is False and _parse().size is None


@pytest.mark.parametrize("bad", ["640", "640x", "axb", "641x360", "8000x360", "16x16"])
def test_a_bad_size_is_refused_with_its_form(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _parse("--size", bad)
    assert exit_info.value.code == 2
    assert f"size '{bad}'" in capsys.readouterr().err


def test_a_simulator_needs_a_camera(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Simulator(0, tmp_path)
