"""`rtcc sim` plugs into the CLI the way every command module does."""

from __future__ import annotations

import argparse

from rtcc.sim import cli


def test_sim_command_declares_an_async_runner_and_its_options() -> None:
    parser = argparse.ArgumentParser()
    cli.add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["sim", "--cameras", "2", "--port", "9554"])
    assert args.run is cli.run and args.is_async is True
    assert (args.cameras, args.port, args.registry) == (2, 9554, "")
