"""Alerting: external events, alerts and their change log, rules, channels and the
notification outbox, source liveness, hot lists and hits, and recording holds.

Revision ID: 0005_alerting
Revises: 0004_analytics
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005_alerting"
down_revision: str | Sequence[str] | None = "0004_analytics"
branch_labels: str | Sequence[str] | None = ("alerting",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The tables are defined once, in rtcc.alerting.tables; this revision creates them
    # as they are defined there (a later change to them comes as a new revision).
    from rtcc.alerting.tables import TABLES

    bind = op.get_bind()
    for table in TABLES:
        table.create(bind)


def downgrade() -> None:
    from rtcc.alerting.tables import TABLES

    bind = op.get_bind()
    for table in reversed(TABLES):
        table.drop(bind)
