"""Persistence of cameras and their health.

Reads take a connection (the caller's transaction); writes take a
:class:`~rtcc.registry.change_log.Transaction` so that each one also records its
revision, change row and audit entry. Credentials are sealed before they reach a row
and leave this module only through :meth:`CameraStore.credentials`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from rtcc.core.ids import new_id
from rtcc.registry import access, convert, geo
from rtcc.registry.camera_queries import (
    Near,
    StoredCamera,
    by_ids,
    near_queries,
    public_camera,
    row_values,
    select_cameras,
    site_of,
    stored_camera,
    visible,
)
from rtcc.registry.change_log import Transaction
from rtcc.registry.credentials import CredentialBox, Credentials
from rtcc.registry.edits import CredentialsEdit
from rtcc.registry.tables import camera_health, camera_tags, cameras
from rtcc.registry.v1 import registry_pb2 as pb


class CameraStore:
    """Cameras in the registry's tables."""

    def __init__(self, box: CredentialBox) -> None:
        self._box = box

    # ---- reads ---------------------------------------------------------------------

    async def get(self, conn: AsyncConnection, camera_id: str) -> StoredCamera | None:
        query = select_cameras(sealed=True).where(cameras.c.id == camera_id)
        row = (await conn.execute(query)).first()
        return stored_camera(row) if row is not None else None

    async def get_many(self, conn: AsyncConnection, ids: Sequence[str]) -> dict[str, StoredCamera]:
        if not ids:
            return {}
        out: dict[str, StoredCamera] = {}
        for query, params in by_ids(ids):
            rows = await conn.execute(query, params)
            out.update((row.id, stored_camera(row)) for row in rows)
        return out

    async def page(
        self,
        conn: AsyncConnection,
        vis: access.Visibility,
        now: datetime,
        *,
        organization_id: str = "",
        tag: str = "",
        after: str = "",
        limit: int = 100,
    ) -> list[StoredCamera]:
        query = select_cameras().where(visible(vis, now))
        if organization_id:
            query = query.where(cameras.c.organization_id == organization_id)
        if tag:
            tagged = sa.select(camera_tags.c.camera_id).where(camera_tags.c.tag == tag)
            query = query.where(cameras.c.id.in_(tagged))
        if after:
            query = query.where(cameras.c.id > after)
        rows = await conn.execute(query.order_by(cameras.c.id).limit(limit))
        return [stored_camera(row) for row in rows]

    async def near(
        self, conn: AsyncConnection, area: geo.SearchArea, vis: access.Visibility, now: datetime
    ) -> list[Near]:
        """Cameras inside the search area's box, before the distance refine. Callers that
        see everything get whole rows at once (most will be returned), saving a query."""
        full = vis.everything
        found: list[Near] = []
        for query, params in near_queries(area, vis, now, full):
            rows = await conn.execute(query, params)
            found.extend(Near(site_of(r), r.organization_id, r if full else None) for r in rows)
        return found

    async def existing_keys(
        self, conn: AsyncConnection, organization_id: str
    ) -> tuple[set[str], set[str]]:
        """The organisation's external ids and main stream URLs (import duplicate checks)."""
        rows = await conn.execute(
            sa.select(cameras.c.external_id, cameras.c.main_url).where(
                cameras.c.organization_id == organization_id
            )
        )
        externals, urls = set(), set()
        for row in rows:
            if row.external_id:
                externals.add(row.external_id)
            if row.main_url:
                urls.add(row.main_url)
        return externals, urls

    async def clash(self, conn: AsyncConnection, camera: pb.Camera) -> tuple[str, str] | None:
        """The (field, camera id) of another camera of the same organisation with the
        same external_id or main stream URL; checked under the write lock, so exact."""
        for field, column, value in (
            ("external_id", cameras.c.external_id, camera.external_id),
            ("streams.main_url", cameras.c.main_url, camera.streams.main_url),
        ):
            if not value:
                continue
            other = await conn.scalar(
                sa.select(cameras.c.id).where(
                    cameras.c.organization_id == camera.organization_id,
                    column == value,
                    cameras.c.id != camera.id,
                )
            )
            if other is not None:
                return field, str(other)
        return None

    async def owned_ids(
        self, conn: AsyncConnection, organization_id: str, ids: Sequence[str]
    ) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(ids), 1000):
            chunk = list(ids[start : start + 1000])
            rows = await conn.execute(
                sa.select(cameras.c.id).where(
                    cameras.c.id.in_(chunk), cameras.c.organization_id == organization_id
                )
            )
            found.update(row.id for row in rows)
        return found

    def credentials(self, stored: StoredCamera) -> Credentials | None:
        if stored.sealed_credentials is None:
            return None
        return self._box.open(stored.sealed_credentials)

    # ---- writes --------------------------------------------------------------------

    async def create(
        self, tx: Transaction, items: Sequence[tuple[pb.Camera, Credentials | None]]
    ) -> list[pb.Camera]:
        """Insert validated cameras; return them as stored (ids, etags, times)."""
        if not items:
            return []
        revisions = await tx.reserve(len(items))
        rows: list[dict[str, Any]] = []
        tags: list[dict[str, Any]] = []
        created: list[pb.Camera] = []
        for (camera, creds), revision in zip(items, revisions, strict=True):
            spec = convert.camera_spec(camera)
            spec.id = camera_id = new_id("cam")
            sealed = self._box.seal(creds) if creds else None
            values = row_values(spec, revision, tx.now)
            values.update(id=camera_id, organization_id=spec.organization_id)
            values.update(credentials=sealed, create_time=tx.now)
            out = public_camera(spec, revision, tx.now, sealed is not None)
            out.create_time.FromDatetime(tx.now)
            rows.append(values)
            tags.extend({"camera_id": camera_id, "tag": t} for t in camera.tags)
            tx.change(
                revision,
                pb.CAMERA_CHANGE_TYPE_CREATED,
                camera.organization_id,
                camera_id=camera_id,
                payload=out.SerializeToString(),
            )
            created.append(out)
        await _insert(tx.conn, rows, tags)
        for out in created:
            tx.audit(
                "camera.create",
                "camera",
                out.id,
                [out.organization_id],
                after=convert.camera_json(out),
            )
        return created

    async def save(
        self, tx: Transaction, stored: StoredCamera, merged: pb.Camera, edit: CredentialsEdit
    ) -> pb.Camera:
        """Replace a camera's settings (the caller checked its etag inside ``tx``)."""
        revision = await tx.revision()
        values = row_values(merged, revision, tx.now)
        sealed = stored.sealed_credentials
        if not edit.keep:
            sealed = self._box.seal(edit.value) if edit.value else None
        values["credentials"] = sealed
        await tx.conn.execute(
            sa.update(cameras).where(cameras.c.id == stored.camera.id).values(**values)
        )
        await tx.conn.execute(
            sa.delete(camera_tags).where(camera_tags.c.camera_id == stored.camera.id)
        )
        if merged.tags:
            await tx.conn.execute(
                sa.insert(camera_tags),
                [{"camera_id": stored.camera.id, "tag": t} for t in merged.tags],
            )
        out = public_camera(merged, revision, tx.now, sealed is not None)
        out.health.CopyFrom(stored.camera.health)
        tx.change(
            revision,
            pb.CAMERA_CHANGE_TYPE_UPDATED,
            stored.organization_id,
            camera_id=out.id,
            payload=out.SerializeToString(),
        )
        after = convert.camera_json(out)
        if not edit.keep:
            after["credentials_changed"] = True
        tx.audit(
            "camera.update",
            "camera",
            out.id,
            [stored.organization_id],
            before=convert.camera_json(stored.camera),
            after=after,
        )
        return out

    async def delete(self, tx: Transaction, stored: StoredCamera) -> None:
        revision = await tx.revision()
        await tx.conn.execute(sa.delete(cameras).where(cameras.c.id == stored.camera.id))
        tx.change(
            revision,
            pb.CAMERA_CHANGE_TYPE_DELETED,
            stored.organization_id,
            camera_id=stored.camera.id,
        )
        tx.audit(
            "camera.delete",
            "camera",
            stored.camera.id,
            [stored.organization_id],
            before=convert.camera_json(stored.camera),
        )

    async def report_health(
        self, tx: Transaction, reports: Sequence[pb.CameraHealthReport]
    ) -> list[str]:
        """Upsert health; a status transition is a change on the feed. Returns unknown ids."""
        ids = list({r.camera_id for r in reports})
        rows = await tx.conn.execute(
            sa.select(cameras.c.id, camera_health.c.status)
            .select_from(
                cameras.outerjoin(camera_health, camera_health.c.camera_id == cameras.c.id)
            )
            .where(cameras.c.id.in_(ids))
        )
        before = {row.id: row.status for row in rows}
        latest = {r.camera_id: r for r in reports if r.camera_id in before}
        if latest:
            await _upsert_health(tx.conn, [_health_values(r, tx.now) for r in latest.values()])
        moved = sorted(i for i, r in latest.items() if r.health.status != before[i])
        if moved:
            current = await self.get_many(tx.conn, moved)
            for camera_id, revision in zip(moved, await tx.reserve(len(moved)), strict=True):
                cam = current[camera_id].camera
                tx.change(
                    revision,
                    pb.CAMERA_CHANGE_TYPE_HEALTH_CHANGED,
                    cam.organization_id,
                    camera_id=camera_id,
                    payload=cam.SerializeToString(),
                )
        return sorted({r.camera_id for r in reports} - set(before))


async def _insert(
    conn: AsyncConnection, rows: list[dict[str, Any]], tags: list[dict[str, Any]]
) -> None:
    await conn.execute(sa.insert(cameras), rows)
    if tags:
        await conn.execute(sa.insert(camera_tags), tags)


def _health_values(report: pb.CameraHealthReport, now: datetime) -> dict[str, Any]:
    h = report.health
    return {
        "camera_id": report.camera_id,
        "status": h.status,
        "last_seen_time": convert.optional_time(h, "last_seen_time"),
        "frames_per_second": h.frames_per_second,
        "bitrate_bps": h.bitrate_bps,
        "detail": h.detail[:200],
        "report_time": convert.optional_time(h, "report_time") or now,
    }


async def _upsert_health(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(camera_health)
    update = {c.name: stmt.excluded[c.name] for c in camera_health.c if c.name != "camera_id"}
    await conn.execute(stmt.on_conflict_do_update(index_elements=["camera_id"], set_=update), rows)
