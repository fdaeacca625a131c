"""The database contract, proven on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from rtcc.backends.audit import AuditEntry, append_audit, audit_log
from rtcc.backends.database import Database, UTCDateTime, open_database
from rtcc.core.errors import AlreadyExists, FailedPrecondition, InvalidArgument, Unavailable
from rtcc.migrations import alembic_config

things = sa.MetaData()
parent = sa.Table(
    "contract_parent",
    things,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("created", UTCDateTime(), nullable=True),
)
child = sa.Table(
    "contract_child",
    things,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("parent_id", sa.ForeignKey("contract_parent.id"), nullable=False),
)
counter = sa.Table(
    "contract_counter",
    things,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("n", sa.Integer, nullable=False),
)


def _id() -> str:
    return uuid.uuid4().hex


@pytest_asyncio.fixture(scope="module")
async def db(database: Database) -> AsyncIterator[Database]:
    async with database.transaction() as conn:
        await conn.run_sync(things.create_all)
    yield database


async def _count(db: Database, table: sa.Table, where: sa.ColumnElement[bool]) -> int:
    async with db.transaction(readonly=True) as conn:
        return int((await conn.execute(sa.select(sa.func.count()).where(where))).scalar_one())


async def test_migrations_reach_every_head_and_apply_again_without_change(db: Database) -> None:
    await db.migrate()
    await db.migrate()
    heads = set(ScriptDirectory.from_config(alembic_config(db.engine.url)).get_heads())
    async with db.transaction(readonly=True) as conn:
        applied = {
            row[0] for row in await conn.exec_driver_sql("SELECT version_num FROM alembic_version")
        }
        tables = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
    assert applied == heads
    assert "audit_log" in tables


async def test_unique_violation_is_already_exists_and_keeps_the_first_row(db: Database) -> None:
    name = _id()
    async with db.transaction() as conn:
        await conn.execute(parent.insert().values(id=_id(), name=name))
    with pytest.raises(AlreadyExists):
        async with db.transaction() as conn:
            await conn.execute(parent.insert().values(id=_id(), name=name))
    assert await _count(db, parent, parent.c.name == name) == 1


async def test_missing_foreign_key_row_is_failed_precondition(db: Database) -> None:
    with pytest.raises(FailedPrecondition):
        async with db.transaction() as conn:
            await conn.execute(child.insert().values(id=_id(), parent_id="no-such-parent"))


async def test_error_inside_transaction_rolls_back_every_statement(db: Database) -> None:
    first, name = _id(), _id()
    with pytest.raises(RuntimeError):
        async with db.transaction() as conn:
            await conn.execute(parent.insert().values(id=first, name=name))
            raise RuntimeError("caller failed after writing")
    with pytest.raises(AlreadyExists):
        async with db.transaction() as conn:
            await conn.execute(parent.insert().values(id=first, name=_id()))
            await conn.execute(parent.insert().values(id=_id(), name=_id()))
            await conn.execute(parent.insert().values(id=first, name=_id()))
    assert await _count(db, parent, parent.c.id == first) == 0


async def test_concurrent_read_modify_write_transactions_all_commit(db: Database) -> None:
    # SELECT … FOR UPDATE then UPDATE: a row lock on PostgreSQL, BEGIN IMMEDIATE on SQLite.
    row = _id()
    async with db.transaction() as conn:
        await conn.execute(counter.insert().values(id=row, n=0))

    async def bump() -> None:
        for _ in range(3):
            async with db.transaction() as conn:
                query = sa.select(counter.c.n).where(counter.c.id == row).with_for_update()
                n = (await conn.execute(query)).scalar_one()
                await asyncio.sleep(0)  # let the other writers run in between
                await conn.execute(counter.update().where(counter.c.id == row).values(n=n + 1))

    await asyncio.gather(*(bump() for _ in range(8)))
    async with db.transaction(readonly=True) as conn:
        n = (await conn.execute(sa.select(counter.c.n).where(counter.c.id == row))).scalar_one()
    assert n == 24


async def test_audit_entries_keep_utc_time_and_json(db: Database) -> None:
    when = dt.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    resource = _id()
    async with db.transaction() as conn:
        entry_id = await append_audit(
            conn,
            AuditEntry(
                actor_subject="ana@pd.example",
                actor_org_id="org_pd",
                action="camera.update",
                resource_type="camera",
                resource_id=resource,
                before={"name": "old", "tags": ["a"]},
                after={"name": "new", "tags": ["a", "b"], "ptz": None},
                request_id="req_1",
                time=when,
            ),
        )
    async with db.transaction(readonly=True) as conn:
        row = (await conn.execute(sa.select(audit_log).where(audit_log.c.id == entry_id))).one()
    assert row.time == when and row.time.tzinfo == dt.UTC
    assert row.before == {"name": "old", "tags": ["a"]}
    assert row.after == {"name": "new", "tags": ["a", "b"], "ptz": None}
    assert row.resource_id == resource


async def test_naive_datetime_is_refused(db: Database) -> None:
    with pytest.raises(InvalidArgument):
        async with db.transaction() as conn:
            await conn.execute(
                parent.insert().values(id=_id(), name=_id(), created=dt.datetime(2026, 1, 1))
            )


async def test_unreachable_postgres_is_unavailable_fast_without_the_password() -> None:
    start = time.monotonic()
    with pytest.raises(Unavailable) as caught:
        await open_database("postgresql://rtcc:hunter2secret@127.0.0.1:1/rtcc")
    assert time.monotonic() - start < 3
    assert "127.0.0.1:1" in str(caught.value)
    assert "hunter2secret" not in str(caught.value)


async def test_silent_postgres_is_unavailable_after_the_connect_timeout() -> None:
    # A port that accepts connections and never answers: a hung server or a black hole.
    held: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    start = time.monotonic()
    try:
        with pytest.raises(Unavailable) as caught:
            await open_database(f"postgresql://rtcc:pw@127.0.0.1:{port}/rtcc", connect_timeout=1)
    finally:
        for writer in held:
            writer.close()
        server.close()
    assert time.monotonic() - start < 4
    assert f"127.0.0.1:{port}" in str(caught.value)


async def test_unopenable_sqlite_file_is_unavailable() -> None:
    with pytest.raises(Unavailable) as caught:
        await open_database("sqlite:////proc/rtcc-cannot-be-here/rtcc.db")
    assert "/proc/rtcc-cannot-be-here" in str(caught.value)


@pytest.mark.postgres
async def test_postgres_connections_killed_by_the_server_are_replaced(postgres_url: str) -> None:
    db = await open_database(postgres_url)
    try:
        async with db.transaction() as conn:
            await conn.exec_driver_sql("SELECT 1")
        # Kill every other session of this database, including our pooled idle one.
        admin = await open_database(make_url(postgres_url).render_as_string(hide_password=False))
        async with admin.transaction() as conn:
            killed = await conn.exec_driver_sql(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            assert killed.scalar_one() >= 1
        await admin.close()
        async with db.transaction() as conn:
            assert (await conn.exec_driver_sql("SELECT 41 + 1")).scalar_one() == 42
    finally:
        await db.close()
