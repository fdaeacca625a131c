"""Alembic runtime environment: runs migrations on the async engine of `rtcc.backends`."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import pkgutil

import sqlalchemy as sa
from alembic import context
from sqlalchemy.pool import NullPool

import rtcc
from rtcc.backends.database import create_engine, metadata

# Any 64-bit constant: replicas starting together take turns migrating PostgreSQL.
_MIGRATION_LOCK = 0x5254_4343_4D49_4752


def _import_service_tables() -> None:
    """Import every `rtcc.<service>.tables` so autogenerate sees all tables."""
    for module in pkgutil.iter_modules(rtcc.__path__):
        name = f"rtcc.{module.name}.tables"
        if module.ispkg and importlib.util.find_spec(name) is not None:
            importlib.import_module(name)


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online(url: sa.URL) -> None:
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            postgres = conn.dialect.name == "postgresql"
            if postgres:
                await conn.exec_driver_sql(f"SELECT pg_advisory_lock({_MIGRATION_LOCK})")
                await conn.commit()
            await conn.run_sync(_run)
            await conn.commit()
            if postgres:
                await conn.exec_driver_sql(f"SELECT pg_advisory_unlock({_MIGRATION_LOCK})")
                await conn.commit()
    finally:
        await engine.dispose()


_import_service_tables()
_url: sa.URL = context.config.attributes["url"]
if context.is_offline_mode():
    context.configure(
        url=_url.render_as_string(hide_password=False),
        target_metadata=metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online(_url))
