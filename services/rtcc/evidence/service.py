"""The evidence target: cases, items, clip exports, the chain of custody, holds,
packages, share links and partner requests.

`setup` builds the context, adds the servicer (thin: who is calling, then the domain
module), the HTTP routes (share links, partner links, the console's JSON API) and two
supervised loops: the export worker and the retention schedule.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import grpc

from rtcc.clients import for_service
from rtcc.core.auth import current_principal
from rtcc.core.runtime import Runtime
from rtcc.evidence import cases_api, exports_api, items_api, partners, sharing
from rtcc.evidence.content import Content
from rtcc.evidence.context import EvidenceContext
from rtcc.evidence.custody_store import CustodyLog
from rtcc.evidence.exporter import ExportWorker
from rtcc.evidence.http_api import EvidenceHttp
from rtcc.evidence.jobs import JobStore
from rtcc.evidence.keys import key_path, load_or_create_key
from rtcc.evidence.mail import Mailer
from rtcc.evidence.retention import retention_loop, run_retention
from rtcc.evidence.store import CaseStore
from rtcc.evidence.v1 import evidence_pb2 as pb
from rtcc.evidence.v1 import evidence_pb2_grpc

SERVICE_NAME = "rtcc.evidence.v1.EvidenceService"


class EvidenceServicer(evidence_pb2_grpc.EvidenceServiceServicer):
    def __init__(self, ctx: EvidenceContext) -> None:
        self.ctx = ctx

    async def CreateCase(self, request: Any, context: Any) -> Any:
        return await cases_api.create_case(self.ctx, current_principal(), request)

    async def GetCase(self, request: Any, context: Any) -> Any:
        return await cases_api.get_case(self.ctx, current_principal(), request)

    async def ListCases(self, request: Any, context: Any) -> Any:
        return await cases_api.list_cases(self.ctx, current_principal(), request)

    async def UpdateCase(self, request: Any, context: Any) -> Any:
        return await cases_api.update_case(self.ctx, current_principal(), request)

    async def DeleteCase(self, request: Any, context: Any) -> Any:
        return await cases_api.delete_case(self.ctx, current_principal(), request)

    async def SetLegalHold(self, request: Any, context: Any) -> Any:
        return await cases_api.set_legal_hold(self.ctx, current_principal(), request)

    async def CreateItem(self, request: Any, context: Any) -> Any:
        return await items_api.create_item(self.ctx, current_principal(), request, context)

    async def GetItem(self, request: Any, context: Any) -> Any:
        return await items_api.get_item(self.ctx, current_principal(), request)

    async def ListItems(self, request: Any, context: Any) -> Any:
        return await items_api.list_items(self.ctx, current_principal(), request)

    async def UpdateItem(self, request: Any, context: Any) -> Any:
        return await items_api.update_item(self.ctx, current_principal(), request)

    async def DeleteItem(self, request: Any, context: Any) -> Any:
        return await items_api.delete_item(self.ctx, current_principal(), request)

    async def UploadFile(self, request_iterator: Any, context: Any) -> Any:
        return await items_api.upload_file(self.ctx, current_principal(), request_iterator)

    async def DownloadItem(self, request: Any, context: Any) -> AsyncIterator[Any]:
        async for message in items_api.download_item(self.ctx, current_principal(), request):
            yield message

    async def ExportClip(self, request: Any, context: Any) -> Any:
        return await exports_api.export_clip(self.ctx, current_principal(), request)

    async def GetExportJob(self, request: Any, context: Any) -> Any:
        return await exports_api.get_job(self.ctx, current_principal(), request)

    async def ListExportJobs(self, request: Any, context: Any) -> Any:
        return await exports_api.list_jobs(self.ctx, current_principal(), request)

    async def CancelExportJob(self, request: Any, context: Any) -> Any:
        return await exports_api.cancel_job(self.ctx, current_principal(), request)

    async def ListCustodyEntries(self, request: Any, context: Any) -> Any:
        return await cases_api.list_custody(self.ctx, current_principal(), request)

    async def VerifyCustodyChain(self, request: Any, context: Any) -> Any:
        return await cases_api.verify_chain(self.ctx, current_principal(), request)

    async def GetCustodyProof(self, request: Any, context: Any) -> Any:
        return await cases_api.custody_proof(self.ctx, current_principal(), request)

    async def ExportPackage(self, request: Any, context: Any) -> Any:
        return await exports_api.export_package(self.ctx, current_principal(), request)

    async def DownloadPackage(self, request: Any, context: Any) -> AsyncIterator[Any]:
        async for message in exports_api.download_package(self.ctx, current_principal(), request):
            yield message

    async def RunEvidenceRetention(self, request: Any, context: Any) -> Any:
        current_principal().require_any_role("platform-admin", "partner-admin", "service")
        outcome = await run_retention(self.ctx.cases, self.ctx.content, dt.datetime.now(dt.UTC))
        return pb.RunEvidenceRetentionResponse(
            items_deleted=outcome.deleted, items_held=outcome.held
        )

    async def CreateShareLink(self, request: Any, context: Any) -> Any:
        return await sharing.create(self.ctx, current_principal(), request)

    async def GetShareLink(self, request: Any, context: Any) -> Any:
        return await sharing.get(self.ctx, current_principal(), request)

    async def ListShareLinks(self, request: Any, context: Any) -> Any:
        return await sharing.list_links(self.ctx, current_principal(), request)

    async def RevokeShareLink(self, request: Any, context: Any) -> Any:
        return await sharing.revoke(self.ctx, current_principal(), request)

    async def CreateEvidenceRequest(self, request: Any, context: Any) -> Any:
        return await partners.create(self.ctx, current_principal(), request)

    async def GetEvidenceRequest(self, request: Any, context: Any) -> Any:
        return await partners.get(self.ctx, current_principal(), request)

    async def ListEvidenceRequests(self, request: Any, context: Any) -> Any:
        return await partners.list_requests(self.ctx, current_principal(), request)

    async def RespondToEvidenceRequest(self, request: Any, context: Any) -> Any:
        return await partners.respond(self.ctx, current_principal(), request)

    async def CancelEvidenceRequest(self, request: Any, context: Any) -> Any:
        return await partners.cancel(self.ctx, current_principal(), request)


def build_context(runtime: Runtime) -> EvidenceContext:
    settings = runtime.settings
    key = load_or_create_key(key_path(settings))
    evidence = settings.evidence
    return EvidenceContext(
        settings=evidence,
        cases=CaseStore(runtime.db),
        jobs=JobStore(runtime.db, dt.timedelta(seconds=evidence.export_lease_s)),
        content=Content(runtime.objects),
        custody=CustodyLog(runtime.db, key),
        key=key,
        mailer=Mailer(evidence.smtp_url, evidence.mail_from),
        clients=for_service(runtime, "evidence"),
        runtime_shared=runtime.shared,
        configured_url=settings.public_url
        or ("" if settings.http_listen.endswith(":0") else settings.resolved_public_url()),
        work_dir=settings.data_dir / "evidence-work",
        wake_exports=asyncio.Event(),
    )


async def setup(runtime: Runtime, server: grpc.aio.Server) -> list[str]:
    """Serve EvidenceService and its HTTP routes; start the export and retention loops."""
    ctx = build_context(runtime)
    evidence_pb2_grpc.add_EvidenceServiceServicer_to_server(EvidenceServicer(ctx), server)
    runtime.http_routes.extend(sharing.ShareHttp(ctx).routes())
    runtime.http_routes.extend(partners.PartnerHttp(ctx).routes())
    runtime.http_routes.extend(EvidenceHttp(ctx, runtime.authority).routes())
    worker = ExportWorker(
        ctx.jobs, ctx.cases, ctx.content, runtime.objects, ctx.clients.ingest, ctx.work_dir,
        workers=ctx.settings.export_workers,
    )  # fmt: skip
    assert isinstance(ctx.wake_exports, asyncio.Event)
    worker.wake = ctx.wake_exports
    stop = asyncio.Event()  # runtime.close() cancels the loops
    runtime.spawn(worker.run(stop), name="evidence-export-worker")
    runtime.spawn(
        retention_loop(ctx.cases, ctx.content, stop, ctx.settings.retention_every_s),
        name="evidence-retention",
    )
    return [SERVICE_NAME]
