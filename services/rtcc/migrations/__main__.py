"""Developer entry point: `python -m rtcc.migrations upgrade|revision --url …`."""

from __future__ import annotations

import argparse

from alembic import command

from rtcc.backends.database import async_url
from rtcc.migrations import alembic_config


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m rtcc.migrations")
    sub = parser.add_subparsers(dest="command", required=True)
    upgrade = sub.add_parser("upgrade", help="upgrade a database to every head")
    upgrade.add_argument("--url", required=True, help="sqlite:///… or postgresql://…")
    revision = sub.add_parser("revision", help="write a new revision file under versions/")
    revision.add_argument("--url", required=True, help="a database at the current heads")
    revision.add_argument("-m", "--message", required=True)
    revision.add_argument("--head", default="head", help="parent, e.g. registry@head")
    revision.add_argument("--branch-label", default=None, help="for a service's first revision")
    revision.add_argument("--rev-id", default=None, help="e.g. registry_0002")
    revision.add_argument("--autogenerate", action="store_true")
    args = parser.parse_args()
    config = alembic_config(async_url(args.url))
    if args.command == "upgrade":
        command.upgrade(config, "heads")
    else:
        command.revision(
            config,
            message=args.message,
            autogenerate=args.autogenerate,
            head=args.head,
            branch_label=args.branch_label,
            rev_id=args.rev_id,
        )


if __name__ == "__main__":
    main()
