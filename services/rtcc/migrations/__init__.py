"""The one Alembic environment for every service's tables.

Configured in code (no alembic.ini): `alembic_config(url)` points Alembic at this
package, so it works from a source checkout and from an installed wheel alike.

Each service adds its own revision files under `versions/`, labelled with its name:

    revision = "0005_alerting"
    down_revision = "0004_analytics"   # or "0001_base": branches are fine too
    branch_labels = ("alerting",)      # on the service's first revision only

`Database.migrate()` upgrades to every head, so parallel branches from the base never
need a merge revision. Generate one with
`python -m rtcc.migrations revision --url sqlite:///var/dev.db -m "rules"
--rev-id 0005_alerting --branch-label alerting` (`--head` picks the parent when there are
several heads; `--autogenerate` diffs against every `rtcc/<service>/tables.py`).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import URL

HERE = Path(__file__).resolve().parent


def alembic_config(url: URL) -> Config:
    """An Alembic Config for this package; `url` is the async driver URL (with password)."""
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("version_locations", str(HERE / "versions"))
    config.set_main_option("path_separator", "os")
    config.attributes["url"] = url
    return config


def upgrade_to_heads(url: URL) -> None:
    """Upgrade the database at `url` to every head (blocking; run it in a thread)."""
    command.upgrade(alembic_config(url), "heads")
