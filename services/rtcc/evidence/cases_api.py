"""Cases, holds and the custody log: the RPCs' logic below the servicer."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rtcc.common import paging
from rtcc.core.auth import Principal
from rtcc.core.errors import FailedPrecondition, InvalidArgument
from rtcc.evidence import convert, custody, policy, store
from rtcc.evidence.context import EvidenceContext
from rtcc.evidence.v1 import evidence_pb2 as pb

_CASE_FIELDS = (
    "case_number", "title", "description", "state", "members", "case_type",
    "linked_alert_ids", "linked_incident_ids",
)  # fmt: skip


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _case_values(message: pb.Case, fields: tuple[str, ...]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in fields:
        value = getattr(message, name)
        values[name] = list(value) if not isinstance(value, str | int) else value
    if "title" in values and not 1 <= len(values["title"].strip()) <= 200:
        raise InvalidArgument("a case needs a title of 1 to 200 characters", field="case.title")
    if "case_number" in values:
        values["case_number"] = values["case_number"].strip() or None
        if values["case_number"] and len(values["case_number"]) > 100:
            raise InvalidArgument("case_number is at most 100 characters", field="case.case_number")
    if "state" in values and values["state"] not in (0, store.OPEN, store.CLOSED):
        raise InvalidArgument(
            "state must be CASE_STATE_OPEN or CASE_STATE_CLOSED", field="case.state"
        )
    if "description" in values and len(values["description"]) > 10000:
        raise InvalidArgument("description is at most 10000 characters", field="case.description")
    for name in ("members", "linked_alert_ids", "linked_incident_ids"):
        if name in values:
            values[name] = sorted({v.strip() for v in values[name] if v.strip()})
            if len(values[name]) > 200:
                raise InvalidArgument(f"{name} holds at most 200 values", field=f"case.{name}")
    return values


async def create_case(ctx: EvidenceContext, who: Principal, request: Any) -> pb.CreateCaseResponse:
    policy.require_writer(who)
    values = _case_values(request.case, _CASE_FIELDS)
    values["state"] = values["state"] or store.OPEN
    values["organization_id"] = who.org_id
    values["retention_category"] = ctx.category(
        request.case.retention_category, values["case_type"]
    )
    row = await ctx.cases.create_case(values, ctx.actor(who), _now())
    return pb.CreateCaseResponse(case=convert.case(row))


async def get_case(ctx: EvidenceContext, who: Principal, request: Any) -> pb.GetCaseResponse:
    row = await ctx.visible_case(who, request.case_id)
    counts = await ctx.cases.count_items([row.id])
    return pb.GetCaseResponse(case=convert.case(row, counts.get(row.id, 0)))


async def list_cases(ctx: EvidenceContext, who: Principal, request: Any) -> pb.ListCasesResponse:
    size = paging.page_size(request.page_size)
    before = None
    if request.page_token:
        when, case_id = paging.decode_token(request.page_token, "cases", 2)
        before = (dt.datetime.fromisoformat(when), case_id)
    org = None if who.is_service() else who.org_id
    visible: list[Any] = []
    while len(visible) <= size:
        rows = await ctx.cases.list_cases(
            org, states=list(request.states), text=request.text.strip(), limit=200, before=before
        )
        for row in rows:
            members = list(row.members)
            if not policy.can_see(who, row.organization_id, row.creator_subject, members):
                continue
            if request.member_only and who.subject not in (*members, row.creator_subject):
                continue
            visible.append(row)
        if len(rows) < 200:
            break
        before = (rows[-1].update_time, rows[-1].id)
    token = ""
    if len(visible) > size:
        last = visible[size - 1]
        token = paging.encode_token("cases", last.update_time.isoformat(), last.id)
    counts = await ctx.cases.count_items([r.id for r in visible[:size]])
    return pb.ListCasesResponse(
        cases=[convert.case(r, counts.get(r.id, 0)) for r in visible[:size]],
        next_page_token=token,
    )


async def update_case(ctx: EvidenceContext, who: Principal, request: Any) -> pb.UpdateCaseResponse:
    policy.require_writer(who)
    row = await ctx.visible_case(who, request.case.id)
    paths = tuple(request.update_mask.paths) or _CASE_FIELDS
    unknown = sorted(set(paths) - set(_CASE_FIELDS))
    if unknown:
        raise InvalidArgument(
            f"update_mask names fields that cannot be changed: {', '.join(unknown)}",
            field="update_mask",
        )
    values = _case_values(request.case, paths)
    if "state" in values and not values["state"]:
        values["state"] = store.OPEN
    updated = await ctx.cases.update_case(row.id, values, request.case.etag, ctx.actor(who), _now())
    return pb.UpdateCaseResponse(case=convert.case(updated))


async def delete_case(ctx: EvidenceContext, who: Principal, request: Any) -> pb.DeleteCaseResponse:
    policy.require_writer(who)
    row = await ctx.visible_case(who, request.case_id)
    items = await ctx.cases.delete_case(row.id, request.etag, "", ctx.actor(who), _now())
    for item in items:  # content under retention stays until retention removes it
        if item.object_key:
            await ctx.content.remove(item.object_key)
    return pb.DeleteCaseResponse()


async def set_legal_hold(
    ctx: EvidenceContext, who: Principal, request: Any
) -> pb.SetLegalHoldResponse:
    policy.require_writer(who)
    if not request.reason.strip():
        raise InvalidArgument("say why the hold is put on or lifted (reason)", field="reason")
    row = await ctx.visible_case(who, request.case_id)
    actor, now = ctx.actor(who), _now()
    if request.item_id:
        item = await ctx.cases.get_item(request.item_id)
        if item.case_id != row.id:
            raise InvalidArgument(f"item {item.id} is not in case {row.id}", field="item_id")
        _, after = await ctx.cases.set_item_hold(
            item.id, request.active, request.reason, actor, now
        )
        if after.object_key:
            await ctx.content.hold(after.object_key, request.active or row.hold_active)
        return pb.SetLegalHoldResponse(case=convert.case(await ctx.cases.get_case(row.id)))
    _, case = await ctx.cases.set_case_hold(
        row.id, request.active, request.reason, request.etag, actor, now
    )
    await apply_case_hold(ctx, row.id, request.active)
    return pb.SetLegalHoldResponse(case=convert.case(case))


async def apply_case_hold(ctx: EvidenceContext, case_id: str, on: bool) -> None:
    """Put the object store's legal hold on (or off) every stored item of the case."""
    for item in await ctx.cases.list_items(case_id, (), 100_000, None):
        if item.object_key and item.state == store.READY:
            await ctx.content.hold(item.object_key, on or item.hold_active)


async def list_custody(
    ctx: EvidenceContext, who: Principal, request: Any
) -> pb.ListCustodyEntriesResponse:
    await ctx.visible_case(who, request.case_id)
    size = paging.page_size(request.page_size)
    after = 0
    if request.page_token:
        after = int(paging.decode_token(request.page_token, "custody", 1)[0])
    rows = await ctx.custody.entries(
        request.case_id, item_id=request.item_id, after=after, limit=size + 1
    )
    token = paging.encode_token("custody", rows[size - 1].sequence) if len(rows) > size else ""
    return pb.ListCustodyEntriesResponse(
        custody_entries=[
            convert.entry(request.case_id, r.sequence, r.canonical, r.entry_hash)
            for r in rows[:size]
        ],
        next_page_token=token,
    )


def signed(ctx: EvidenceContext, point: custody.Checkpoint) -> pb.SignedCheckpoint:
    return pb.SignedCheckpoint(
        body=point.body().decode(), signature=point.signature,
        key_fingerprint=point.key_fingerprint,
        public_key=custody.public_key_b64(ctx.key.public_key()),
    )  # fmt: skip


async def verify_chain(
    ctx: EvidenceContext, who: Principal, request: Any
) -> pb.VerifyCustodyChainResponse:
    await ctx.visible_case(who, request.case_id)
    point = await ctx.custody.checkpoint(request.case_id, _now())
    rows = await ctx.custody.entries(request.case_id)
    lines = [r.canonical for r in rows if r.sequence <= point.size]
    report = custody.verify_log(lines, point, ctx.key.public_key())
    first_bad = 0
    if not report.valid:
        first_bad = _first_bad(rows)
    return pb.VerifyCustodyChainResponse(
        valid=report.valid, entry_count=len(lines), first_invalid_sequence=first_bad,
        head_hash=point.head_hash, tree_size=point.size, root_hash=point.root.hex(),
        checkpoint=signed(ctx, point),
    )  # fmt: skip


def _first_bad(rows: list[Any]) -> int:
    previous = custody.ZERO_HASH
    for n, row in enumerate(rows, start=1):
        if row.sequence != n or custody.entry_hash(row.canonical) != row.entry_hash:
            return n
        if f'"previousHash":"{previous}"' not in row.canonical.decode():
            return n
        previous = row.entry_hash
    return len(rows) or 1


async def custody_proof(
    ctx: EvidenceContext, who: Principal, request: Any
) -> pb.GetCustodyProofResponse:
    await ctx.visible_case(who, request.case_id)
    point, entry, inclusion, consistency = await ctx.custody.proofs(
        request.case_id, request.sequence, request.old_tree_size, _now()
    )
    return pb.GetCustodyProofResponse(
        checkpoint=signed(ctx, point), entry=entry, inclusion_path=inclusion,
        consistency_path=consistency,
    )  # fmt: skip


def require_open(case: Any) -> None:
    if case.state == store.CLOSED:
        raise FailedPrecondition(f"case {case.id} is closed; reopen it to add items")
