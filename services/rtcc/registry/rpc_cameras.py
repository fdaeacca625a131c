"""RegistryService RPCs on cameras: CRUD, stream credentials, health."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from rtcc.core.auth import Principal, current_principal
from rtcc.core.errors import AlreadyExists, InvalidArgument, NotFound
from rtcc.registry import access, convert, edits, validation
from rtcc.registry.context import RegistryContext
from rtcc.registry.tables import state
from rtcc.registry.v1 import registry_pb2 as pb

MAX_HEALTH_REPORTS = 1000


class CameraRpcs:
    ctx: RegistryContext

    async def CreateCamera(
        self, request: pb.CreateCameraRequest, context: Any
    ) -> pb.CreateCameraResponse:
        principal = current_principal()
        camera = pb.Camera()
        camera.CopyFrom(request.camera)
        camera.organization_id = camera.organization_id or principal.org_id
        access.require_org_admin(principal, camera.organization_id)
        validation.camera(camera)
        credentials = edits.credentials_of(camera.streams)
        async with self.ctx.feed.write(principal) as tx:
            await self.require_organization(
                tx.conn, camera.organization_id, "camera.organization_id"
            )
            await self.refuse_duplicate(tx.conn, camera)
            (created,) = await self.ctx.cameras.create(tx, [(camera, credentials)])
        return pb.CreateCameraResponse(camera=self._as_creator(principal, created))

    async def GetCamera(self, request: pb.GetCameraRequest, context: Any) -> pb.GetCameraResponse:
        principal = current_principal()
        camera_id = validation.check_id(request.camera_id, "cam", "camera_id")
        async with self.ctx.db.transaction(readonly=True) as conn:
            view = await self.ctx.view(conn, principal)
            _, camera = await self.ctx.visible_camera(conn, view, camera_id)
        return pb.GetCameraResponse(camera=camera)

    async def ListCameras(
        self, request: pb.ListCamerasRequest, context: Any
    ) -> pb.ListCamerasResponse:
        principal = current_principal()
        limit = validation.page_size(request.page_size)
        after = edits.after_id(request.page_token)
        if request.organization_id:
            validation.check_id(request.organization_id, "org", "organization_id")
        async with self.ctx.db.transaction(readonly=True) as conn:
            # The revision is read first: the listing reflects at least this revision.
            revision = int((await conn.execute(sa.select(state.c.revision))).scalar_one())
            view = await self.ctx.view(conn, principal)
            found = await self.ctx.cameras.page(
                conn,
                view.visibility,
                view.now,
                organization_id=request.organization_id,
                tag=request.tag.strip().lower(),
                after=after,
                limit=limit + 1,
            )
            cameras = await self.ctx.present(conn, view, found[:limit])
        token = edits.page_token(found[limit - 1].camera.id) if len(found) > limit else ""
        return pb.ListCamerasResponse(cameras=cameras, next_page_token=token, revision=revision)

    async def UpdateCamera(
        self, request: pb.UpdateCameraRequest, context: Any
    ) -> pb.UpdateCameraResponse:
        principal = current_principal()
        patch = request.camera
        camera_id = validation.check_id(patch.id, "cam", "camera.id")
        if "organization_id" in request.update_mask.paths:
            raise InvalidArgument(
                "camera.organization_id cannot change: register the camera again under "
                "the new owner",
                field="update_mask",
            )
        paths = validation.update_mask(request.update_mask, edits.CAMERA_PATHS)
        async with self.ctx.feed.write(principal) as tx:
            view = await self.ctx.view(tx.conn, principal)
            stored, _ = await self.ctx.visible_camera(tx.conn, view, camera_id)
            access.require_org_admin(principal, stored.organization_id)
            edits.check_etag(patch.etag, stored.etag, "camera.etag")
            merged, credentials = edits.merge_camera(stored.camera, patch, paths)
            validation.camera(merged)
            await self.refuse_duplicate(tx.conn, merged)
            updated = await self.ctx.cameras.save(tx, stored, merged, credentials)
        return pb.UpdateCameraResponse(camera=self._as_creator(principal, updated))

    async def DeleteCamera(
        self, request: pb.DeleteCameraRequest, context: Any
    ) -> pb.DeleteCameraResponse:
        principal = current_principal()
        camera_id = validation.check_id(request.camera_id, "cam", "camera_id")
        async with self.ctx.feed.write(principal) as tx:
            view = await self.ctx.view(tx.conn, principal)
            stored, _ = await self.ctx.visible_camera(tx.conn, view, camera_id)
            access.require_org_admin(principal, stored.organization_id)
            edits.check_etag(request.etag, stored.etag, "etag")
            await self.ctx.cameras.delete(tx, stored)
        return pb.DeleteCameraResponse()

    async def GetCameraStreamCredentials(
        self, request: pb.GetCameraStreamCredentialsRequest, context: Any
    ) -> pb.GetCameraStreamCredentialsResponse:
        access.require_service(current_principal(), access.INGEST)
        camera_id = validation.check_id(request.camera_id, "cam", "camera_id")
        async with self.ctx.db.transaction(readonly=True) as conn:
            stored = await self.ctx.cameras.get(conn, camera_id)
        if stored is None:
            raise NotFound(f"camera {camera_id} does not exist")
        streams = stored.camera.streams
        out = pb.GetCameraStreamCredentialsResponse(
            main_url=streams.main_url, sub_url=streams.sub_url
        )
        credentials = self.ctx.cameras.credentials(stored)
        if credentials is not None:
            out.credentials.username = credentials.username
            out.credentials.password = credentials.password
        return out

    async def ReportCameraHealth(
        self, request: pb.ReportCameraHealthRequest, context: Any
    ) -> pb.ReportCameraHealthResponse:
        principal = current_principal()
        access.require_service(principal, access.INGEST)
        if len(request.reports) > MAX_HEALTH_REPORTS:
            raise InvalidArgument(
                f"reports holds more than {MAX_HEALTH_REPORTS}; split the batch", field="reports"
            )
        for i, report in enumerate(request.reports):
            validation.check_id(report.camera_id, "cam", f"reports[{i}].camera_id")
            if report.health.status not in pb.CameraStatus.values():
                raise InvalidArgument("unknown status", field=f"reports[{i}].health.status")
        if not request.reports:
            return pb.ReportCameraHealthResponse()
        async with self.ctx.feed.write(principal) as tx:
            unknown = await self.ctx.cameras.report_health(tx, request.reports)
        return pb.ReportCameraHealthResponse(unknown_camera_ids=unknown)

    async def require_organization(self, conn: AsyncConnection, org_id: str, field: str) -> None:
        if await self.ctx.organizations.get(conn, org_id) is None:
            raise NotFound(f"{field}: organisation {org_id} does not exist")

    async def refuse_duplicate(self, conn: AsyncConnection, camera: pb.Camera) -> None:
        clash = await self.ctx.cameras.clash(conn, camera)
        if clash is not None:
            field, other = clash
            raise AlreadyExists(
                f"camera.{field} is already used by camera {other} of this organisation"
            )

    def _as_creator(self, principal: Principal, camera: pb.Camera) -> pb.Camera:
        """The written camera as its writer sees it (owner, or a platform admin)."""
        decision = access.camera_access(
            principal.org_id, camera.organization_id, camera.id, (), self.ctx.clock()
        )
        camera.caller_access.CopyFrom(convert.access_to_proto(decision))
        return camera
