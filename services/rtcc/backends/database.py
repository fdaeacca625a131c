"""The relational database: SQLite (embedded) or PostgreSQL (at scale), one interface.

`open_database(url)` returns a `Database` whose `transaction()` yields an SQLAlchemy
`AsyncConnection` inside BEGIN..COMMIT. Driver errors never leave this module: they are
translated into the `rtcc.core.errors` vocabulary (unique violation -> AlreadyExists,
foreign-key violation -> FailedPrecondition, lost or refused connection -> Unavailable).

Every service defines its tables on the shared `metadata` below (in
`rtcc/<service>/tables.py`) and ships its own Alembic revision; `Database.migrate()`
upgrades to every head.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from rtcc.core.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    RtccError,
    Unavailable,
)
from rtcc.core.logging import mask_url

Dialect = Literal["sqlite", "postgresql"]

# Constraint names are deterministic so that migrations can refer to them on both dialects.
metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# JSON that is indexable JSONB on PostgreSQL and TEXT-backed JSON on SQLite.
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


class UTCDateTime(sa.TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on both dialects.

    PostgreSQL stores `timestamptz`; SQLite stores naive UTC text, which sorts correctly.
    Naive datetimes are refused on the way in: they are always a bug here.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise InvalidArgument(f"naive datetime {value.isoformat()} given; use UTC-aware time")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)  # type: ignore[no-any-return]
        return value.astimezone(dt.UTC)  # type: ignore[no-any-return]


# asyncpg SQLSTATEs: what they mean for the caller.
_PG_UNIQUE = "23505"
_PG_FOREIGN_KEY = "23503"
# SQLSTATE class 22, data exception: a value does not fit its column (too long, out of
# range). A request's value, not the server's fault.
_PG_DATA_EXCEPTION = "22"
_PG_RETRYABLE = {"40001", "40P01", "57P01", "57P02", "57P03", "53300"}


class Database:
    """An opened database: an async engine plus error translation and migrations."""

    def __init__(self, engine: AsyncEngine, *, where: str) -> None:
        self.engine = engine
        self.dialect: Dialect = "sqlite" if engine.dialect.name == "sqlite" else "postgresql"
        # Where the database lives, for messages: host:port/db or the SQLite path; no secret.
        self.where = where

    @contextlib.asynccontextmanager
    async def transaction(self, *, readonly: bool = False) -> AsyncIterator[AsyncConnection]:
        """Yield a connection inside BEGIN..COMMIT; roll back on any exception.

        On SQLite a writing transaction starts with BEGIN IMMEDIATE, so two writers queue
        on the busy timeout instead of failing when a read lock would need upgrading.
        """
        conn = await self._connect()
        try:
            conn = await conn.execution_options(rtcc_readonly=readonly)
            async with conn.begin():
                if readonly and self.dialect == "postgresql":
                    await conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                yield conn
        except sa.exc.DBAPIError as exc:
            raise self._translate(exc) from None
        except sa.exc.StatementError as exc:
            # Raised while binding parameters, e.g. by UTCDateTime refusing a naive time.
            if isinstance(exc.orig, RtccError):
                raise exc.orig from None
            raise
        finally:
            await conn.close()

    async def _connect(self) -> AsyncConnection:
        try:
            return await self.engine.connect()
        except sa.exc.DBAPIError as exc:
            raise self._translate(exc) from None
        except (OSError, TimeoutError, sa.exc.TimeoutError) as exc:
            # Raised by the drivers (or the pool) while connecting, outside DBAPI wrapping.
            raise self._unavailable(exc) from None

    @property
    def url(self) -> str:
        """The URL this database was opened with, in the user-facing spelling (secret!)."""
        return self.engine.url.set(drivername=self.dialect).render_as_string(hide_password=False)

    async def check(self) -> None:
        """Raise Unavailable unless a trivial query round-trips (readiness probes)."""
        async with self.transaction(readonly=True) as conn:
            await conn.exec_driver_sql("SELECT 1")

    async def migrate(self) -> None:
        """Upgrade the schema to every Alembic head; a no-op when already there."""
        from rtcc.migrations import upgrade_to_heads

        try:
            await asyncio.to_thread(upgrade_to_heads, self.engine.url)
        except sa.exc.DBAPIError as exc:
            raise self._translate(exc) from None
        except (OSError, TimeoutError) as exc:
            raise self._unavailable(exc) from None

    async def close(self) -> None:
        await self.engine.dispose()

    def _translate(self, exc: sa.exc.DBAPIError) -> Exception:
        orig = exc.orig
        code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
        text = str(orig)
        if code == _PG_UNIQUE or "UNIQUE constraint failed" in text:
            return AlreadyExists(f"a row with the same key already exists ({_detail(orig)})")
        if code == _PG_FOREIGN_KEY or "FOREIGN KEY constraint failed" in text:
            return FailedPrecondition(
                f"a referenced row is missing or still in use ({_detail(orig)})"
            )
        # asyncpg refuses to encode such a value itself (its DataError is a ValueError).
        if str(code or "").startswith(_PG_DATA_EXCEPTION) or isinstance(
            getattr(orig, "__cause__", None), ValueError
        ):
            return InvalidArgument(f"a value in the request does not fit: {_reason(orig)}")
        if code in _PG_RETRYABLE or exc.connection_invalidated:
            return self._unavailable(orig)
        if isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError):
            if self.dialect == "postgresql" or "locked" in text or "unable to open" in text:
                return self._unavailable(orig)
        return exc  # a programming error (bad SQL): let it surface as itself

    def _unavailable(self, exc: BaseException | None) -> Unavailable:
        reason = _reason(exc)
        if self.dialect == "sqlite":
            return Unavailable(f"the SQLite database {self.where} is unavailable: {reason}")
        return Unavailable(f"the PostgreSQL database at {self.where} is unavailable: {reason}")


def _detail(orig: BaseException | None) -> str:
    # asyncpg's own exception (the adapter's __cause__) names the constraint.
    name = getattr(orig, "constraint_name", None) or getattr(
        getattr(orig, "__cause__", None), "constraint_name", None
    )
    if name:
        return f"constraint {name}"
    return str(orig).splitlines()[0] if orig is not None else "unknown constraint"


def _reason(exc: BaseException | None) -> str:
    while exc is not None and exc.__cause__ is not None and not str(exc):
        exc = exc.__cause__
    if exc is None:
        return "unknown error"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno).lower()
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


def async_url(url: str) -> URL:
    """Translate a user-facing URL (`sqlite:///…`, `postgresql://…`) to the async driver's."""
    if url.split("?", 1)[0].count("@") > 1:
        # A password with a raw "@" or "/": parsed, part of it would become the host or
        # the database name and be printed as such. Refuse, masked.
        raise InvalidArgument(
            f"database URL {mask_url(url)!r} has more than one '@': percent-encode the "
            "password's special characters ('@' as %40, '/' as %2F)",
            field="database_url",
        )
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        raise InvalidArgument(
            f"database URL {mask_url(url)!r} is not a URL (percent-encode special characters "
            "of the password)",
            field="database_url",
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise InvalidArgument("an SQLite database needs a file path", field="database_url")
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        query = dict(parsed.query)
        if "sslmode" in query:  # libpq spelling; asyncpg calls it ssl
            query["ssl"] = query.pop("sslmode")
        return parsed.set(drivername="postgresql+asyncpg", query=query)
    raise InvalidArgument(
        f"database URL scheme {parsed.drivername!r} is not supported; "
        "use sqlite:///path or postgresql://user:password@host:port/db",
        field="database_url",
    )


def create_engine(url: URL, *, connect_timeout: float = 5.0, **kwargs: Any) -> AsyncEngine:
    """An AsyncEngine for a translated URL with this project's connection settings."""
    if url.get_backend_name() == "sqlite":
        engine = create_async_engine(
            url, connect_args={"timeout": connect_timeout}, pool_pre_ping=True, **kwargs
        )
        _configure_sqlite(engine, busy_timeout_ms=int(max(connect_timeout, 5.0) * 1000))
        return engine
    if "poolclass" not in kwargs:
        kwargs.update(pool_size=10, max_overflow=10, pool_timeout=connect_timeout)
    return create_async_engine(
        url, connect_args={"timeout": connect_timeout}, pool_pre_ping=True, **kwargs
    )


def _configure_sqlite(engine: AsyncEngine, *, busy_timeout_ms: int) -> None:
    # pysqlite's own transaction handling is broken for DDL and SAVEPOINT; take it over
    # (the recipe from SQLAlchemy's SQLite dialect documentation).
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        # FULL: a commit is on disk (WAL fsynced) before it returns. With NORMAL a power
        # loss can undo acknowledged commits, e.g. a segment's index row after the
        # uploader deleted the spool copy. Measured cost: docs/operations.md.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn: sa.Connection) -> None:
        readonly = conn.get_execution_options().get("rtcc_readonly", False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def _where(url: URL) -> str:
    if url.get_backend_name() == "sqlite":
        return str(Path(url.database or "").resolve())
    return f"{url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"


async def open_database(url: str, *, connect_timeout: float = 5.0) -> Database:
    """Open the database at `url` and check it answers; Unavailable within `connect_timeout`.

    `sqlite:///relative.db` and `sqlite:////absolute.db` (SQLAlchemy's spelling; missing
    parent directories are created) or `postgresql://user:password@host:port/db`.
    """
    target = async_url(url)
    if target.get_backend_name() == "sqlite":
        try:
            Path(target.database or "").parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            where = _where(target)
            raise Unavailable(
                f"the SQLite database {where} is unavailable: {_reason(exc)}"
            ) from None
    db = Database(create_engine(target, connect_timeout=connect_timeout), where=_where(target))
    try:
        await asyncio.wait_for(db.check(), timeout=connect_timeout + 1)
    except TimeoutError as exc:
        await db.close()
        raise db._unavailable(exc) from None
    except BaseException:
        await db.close()
        raise
    return db


__all__ = [
    "Database",
    "Dialect",
    "JSONType",
    "UTCDateTime",
    "async_url",
    "create_engine",
    "metadata",
    "open_database",
]
