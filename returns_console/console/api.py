"""The console's JSON API: list proposals, approve / edit / reject them, retry failed commits, read returns.

Thin: parse, check the caller is staff, call the customers services, render. Session-authenticated and
CSRF-protected like any Django POST; every refusal is a 4xx with a JSON reason.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, JsonResponse
from redis.exceptions import RedisError

from chat import conversations
from chat.http import error, require_GET, require_POST
from chat.models import Conversation, ConversationMessage, ConversationNote, ConversationRating
from chat.saved_replies import saved_replies_for
from chat.transcripts import TranscriptPage, latest_items
from chat.turns import turns_by_item
from customers.cosmos.runner import loop_repository
from customers.domain import ReturnStatus
from customers.errors import InvalidRequest, InvalidTransition, NotFound, NotReturnable, ReturnsError
from customers.models import Proposal, ProposalState
from customers.selectors.policy import aactive_policy
from customers.services import decisions
from customers.services.authority import OverApprovalLimit, SupervisorsOnly
from customers.services.editing import customer_amount_cents, needs_customer_agreement, reassess_edit
from customers.services.lifecycle import advance_return, allowed_next
from customers.services.overlaps import ensure_still_returnable
from customers.services.quote import MONEY_FIELDS
from returns_console.console import copilot as copilot_drafts
from returns_console.console import events, presence
from returns_console.console.selectors import FILTERS, MAX_QUERY, conversation_rows, customer_conversations, row_for
from returns_console.console.serializers import proposal_json

View = Callable[..., Awaitable[JsonResponse]]
STATES = {state.value for state in ProposalState}
MAX_LIST = 200


def staff_only(view: View) -> View:
    @wraps(view)
    async def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        user = await request.auser()
        if not user.is_authenticated:
            return error(401, "not_signed_in", "Sign in as staff first.")
        if not (user.is_active and user.is_staff):
            return error(403, "not_staff", "Only staff can use the console.")
        request.staff = user  # type: ignore[attr-defined]
        return await view(request, *args, **kwargs)

    return wrapper


def _body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("The body must be JSON.") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object.")
    if "\x00" in json.dumps(body, ensure_ascii=False):  # text columns (PostgreSQL) cannot hold NUL
        raise InvalidRequest("The body must not contain NUL characters.")
    return body


def _text(body: dict[str, Any], key: str, *, required: bool = False) -> str:
    """A text field of a JSON body; an optional one may be absent or null (empty text)."""
    value = body.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise InvalidRequest(f'"{key}" is required.' if required else f'"{key}" must be text.')
    return value


MAX_VERSION = 2**31 - 1  # what the database column holds; anything larger is refused, never a 500


def _version(body: dict[str, Any]) -> int:
    version = body.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= MAX_VERSION:
        raise InvalidRequest('"version" (the version you reviewed, a whole number) is required.')
    return version


def _message(body: dict[str, Any]) -> str:
    message = body.get("message")
    if not isinstance(message, str):
        raise InvalidRequest('"message" for the customer is required.')
    return message


def _refusal(exc: ReturnsError) -> JsonResponse:
    if isinstance(exc, decisions.StaleProposal):
        return error(409, exc.code, exc.message, proposal=proposal_json(exc.proposal))
    if isinstance(exc, (OverApprovalLimit, SupervisorsOnly)):
        return error(403, exc.code, exc.message)
    if isinstance(exc, NotFound):
        return error(404, exc.code, exc.message)
    if isinstance(exc, NotReturnable):
        return error(422, exc.code, exc.message)
    if isinstance(exc, (InvalidTransition, conversations.ConversationDeleted)):
        return error(409, exc.code, exc.message)
    return error(400, exc.code, exc.message)


def decision(view: View) -> View:
    """Staff only, POST only, and every domain refusal mapped to its status code."""

    @require_POST
    @staff_only
    @wraps(view)
    async def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        try:
            return await view(request, *args, **kwargs)
        except ReturnsError as refused:
            return _refusal(refused)

    return wrapper


async def _proposal_or_404(proposal_id: int) -> Proposal:
    return await sync_to_async(decisions.load)(proposal_id)  # NotFound: 404


async def _fresh(proposal: Proposal) -> JsonResponse:
    return JsonResponse(proposal_json(await _proposal_or_404(proposal.pk)))


@require_GET
@staff_only
async def list_proposals(request: HttpRequest) -> JsonResponse:
    state = request.GET.get("state")
    proposals = Proposal.objects.select_related("decided_by", "decided_by_rule", "escalated_by").order_by("created_at")
    if state:
        wanted = set(state.split(","))
        if not wanted <= STATES:
            return error(400, "invalid_state", f"state must be among: {', '.join(sorted(STATES))}.")
        proposals = proposals.filter(state__in=wanted)
    if request.GET.get("thread_id"):
        proposals = proposals.filter(thread_id=request.GET["thread_id"])
    rows = [proposal_json(proposal) async for proposal in proposals[:MAX_LIST]]
    return JsonResponse({"proposals": rows})


@require_GET
@staff_only
async def get_proposal(request: HttpRequest, proposal_id: int) -> JsonResponse:
    try:
        return JsonResponse(proposal_json(await _proposal_or_404(proposal_id)))
    except NotFound as missing:
        return error(404, missing.code, missing.message)


@decision
async def approve(request: HttpRequest, proposal_id: int) -> JsonResponse:
    version = _version(_body(request))
    proposal = await _proposal_or_404(proposal_id)
    await sync_to_async(decisions.ensure_current)(proposal, version)  # a stale view hears who acted first
    await ensure_still_returnable(await loop_repository(), proposal)  # before anything is queued
    proposal = await sync_to_async(decisions.approve)(proposal_id=proposal_id, user=request.staff, version=version)  # type: ignore[attr-defined]
    return await _fresh(proposal)


@decision
async def edit(request: HttpRequest, proposal_id: int) -> JsonResponse:
    body = _body(request)
    version = _version(body)
    proposal = await _proposal_or_404(proposal_id)
    await sync_to_async(decisions.ensure_current)(proposal, version)  # before re-reading Cosmos
    edited = await reassess_edit(await loop_repository(), proposal, body, await aactive_policy())
    quote = await sync_to_async(decisions.edited_quote)(edited, request.staff)  # type: ignore[attr-defined]
    if why := needs_customer_agreement(proposal, edited, quote):  # offered to the customer, not approved
        proposal = await sync_to_async(decisions.offer_edit)(
            proposal_id=proposal_id,
            user=request.staff,  # type: ignore[attr-defined]
            version=version,
            edit=edited,
            why=why,
        )
        return await _fresh(proposal)
    proposal = await sync_to_async(decisions.edit_and_approve)(
        proposal_id=proposal_id,
        user=request.staff,  # type: ignore[attr-defined]
        version=version,
        edit=edited,
    )
    return await _fresh(proposal)


@require_POST
@staff_only
async def preview_edit(request: HttpRequest, proposal_id: int) -> JsonResponse:
    """What an edit would come to, as the agent types it (the edit form's live total): the amounts by the rules
    (and any override), and whether the change needs the customer's agreement. Changes nothing."""
    try:
        body = _body(request)
        proposal = await _proposal_or_404(proposal_id)
        edited = await reassess_edit(await loop_repository(), proposal, body, await aactive_policy())
        quote = await sync_to_async(decisions.edited_quote)(edited, request.staff)  # type: ignore[attr-defined]
    except ReturnsError as refused:
        return _refusal(refused)
    amounts = {key.removesuffix("_cents"): int(quote.get(key, 0)) for key in MONEY_FIELDS}
    return JsonResponse(
        {
            "amounts_cents": amounts,
            "customer_gets_cents": customer_amount_cents(quote),
            "confirmed_cents": customer_amount_cents(proposal.quote),
            "needs_customer": needs_customer_agreement(proposal, edited, quote),
        }
    )


@decision
async def reject(request: HttpRequest, proposal_id: int) -> JsonResponse:
    body = _body(request)
    version = _version(body)
    proposal = await sync_to_async(decisions.reject)(
        proposal_id=proposal_id,
        user=request.staff,  # type: ignore[attr-defined]
        version=version,
        message=_message(body),
    )
    return await _fresh(proposal)


@decision
async def escalate(request: HttpRequest, proposal_id: int) -> JsonResponse:
    """``{"version", "note"}``: ask a supervisor to decide."""
    body = _body(request)
    note = _text(body, "note")
    proposal = await sync_to_async(decisions.escalate)(
        proposal_id=proposal_id,
        user=request.staff,  # type: ignore[attr-defined]
        version=_version(body),
        note=note,
    )
    return await _fresh(proposal)


@decision
async def retry(request: HttpRequest, proposal_id: int) -> JsonResponse:
    proposal = await sync_to_async(decisions.retry_commit)(proposal_id=proposal_id, user=request.staff)  # type: ignore[attr-defined]
    return await _fresh(proposal)


@decision
async def close(request: HttpRequest, proposal_id: int) -> JsonResponse:
    """A failed commit no retry can fix leaves the queue, with a message to the customer."""
    body = _body(request)
    proposal = await sync_to_async(decisions.close_failure)(
        proposal_id=proposal_id,
        user=request.staff,  # type: ignore[attr-defined]
        version=_version(body),
        message=_message(body),
    )
    return await _fresh(proposal)


@require_GET
@staff_only
async def get_return(request: HttpRequest, return_id: str) -> JsonResponse:
    """The committed return as stored in Cosmos (the system of record), found through its proposal."""
    proposal = await Proposal.objects.filter(return_id=return_id).afirst()
    if proposal is None:
        return error(404, "not_found", f"Return {return_id} does not exist.")
    try:
        document = await (await loop_repository()).get_return_document(proposal.customer_id, return_id)
    except NotFound as missing:
        return error(404, missing.code, missing.message)
    return JsonResponse(document)


# --- conversations ----------------------------------------------------------------------------------
@require_GET
@staff_only
async def list_conversations(request: HttpRequest) -> JsonResponse:
    which = request.GET.get("filter", "all")
    if which not in FILTERS:
        return error(400, "invalid_filter", f"filter must be one of: {', '.join(FILTERS)}.")
    query = request.GET.get("q", "")
    if len(query) > MAX_QUERY or "\x00" in query:
        return error(400, "invalid_query", f"q must be text of at most {MAX_QUERY} characters.")
    rows = await sync_to_async(conversation_rows)(request.staff, which, query=query)  # type: ignore[attr-defined]
    ids = [row["thread_id"] for row in rows]
    try:
        epoch, seqs, viewers = await asyncio.gather(events.epoch(), events.last_seqs(ids), presence.viewers(ids))
    except (RedisError, OSError):  # the live feed is down: the list still comes from the database
        epoch, seqs, viewers = None, dict.fromkeys(ids, 0), {thread_id: [] for thread_id in ids}
    rows = [{**row, "last_seq": seqs[row["thread_id"]], "viewers": viewers[row["thread_id"]]} for row in rows]
    return JsonResponse({"conversations": rows, "epoch": epoch})


async def _customer_context(customer_id: str) -> dict[str, Any]:
    repo = await loop_repository()
    customer = await repo.get_customer(customer_id)
    orders = await repo.list_orders(customer_id)
    returns = await repo.list_returns(customer_id)
    return {
        "id": customer.customer_id,
        "name": customer.name,
        "email": customer.email,
        "tier": str(customer.tier),
        "store_credit_cents": await repo.credit_balance_cents(customer_id),
        "orders": [
            {
                "order_id": order.order_id,
                "ordered_at": order.ordered_at.isoformat(),
                "lines": [
                    {"sku": line.sku, "name": line.name, "quantity": line.quantity, "returned": line.returned_quantity}
                    for line in order.lines
                ],
            }
            for order in sorted(orders, key=lambda order: order.ordered_at, reverse=True)
        ],
        "returns": [
            {
                "return_id": record.return_id,
                "order_id": record.order_id,
                "status": str(record.status),
                "resolution": str(record.resolution),
                "refund_cents": record.refund_cents,
                "store_credit_cents": record.store_credit_cents,
                "tracking_number": record.tracking_number,
                # In lifecycle order, so the usual next step comes first and cancelling last.
                "next": [str(status) for status in ReturnStatus if status in allowed_next(record)],
            }
            for record in sorted(returns, key=lambda record: record.created_at, reverse=True)
        ],
    }


async def _rating(thread_id: str) -> ConversationRating | None:
    return await ConversationRating.objects.filter(thread_id=thread_id).afirst()


def _page_json(page: TranscriptPage) -> dict[str, Any]:
    return {"items": [item.model_dump(mode="json", exclude_none=True) for item in page.items], "earlier": page.earlier}


@require_GET
@staff_only
async def get_conversation(request: HttpRequest, thread_id: str) -> JsonResponse:
    """The conversation as it stands, and the feed position it stands at: apply live events after last_seq."""
    row = await sync_to_async(row_for)(thread_id)
    if row is None:
        return error(404, "not_found", f"Conversation {thread_id} does not exist.")
    try:  # read first: an event racing the reads below is applied twice, harmlessly
        epoch, last = await asyncio.gather(events.epoch(), events.last_seq(thread_id))
    except (RedisError, OSError):
        epoch, last = None, 0
    customer_id = row["customer"]["id"]
    proposals = [
        proposal_json(p)
        async for p in Proposal.objects.select_related("decided_by", "decided_by_rule", "escalated_by")
        .filter(thread_id=thread_id)
        .order_by("created_at")
    ]
    try:
        customer = await _customer_context(customer_id)
    except NotFound:
        customer = None
    body = {
        **row,
        "last_seq": last,
        "epoch": epoch,
        **_page_json(await latest_items(customer_id, thread_id)),  # the newest page; "earlier" pages back
        "turns": await sync_to_async(turns_by_item)(thread_id),  # item id -> engine and the model's tool calls
        "proposals": proposals,
        "notes": [
            note.as_json()
            async for note in ConversationNote.objects.select_related("author").filter(thread_id=thread_id)
        ],
        "clicks": [  # what the customer's clicks meant, placed by time among the items
            click.as_event()
            async for click in ConversationMessage.objects.filter(thread_id=thread_id, author=ConversationMessage.CLICK)
        ],
        "customer_context": customer,
        "customer_conversations": await sync_to_async(customer_conversations)(customer_id),
        "rating": rating.as_json() if (rating := await _rating(thread_id)) else None,
    }
    return JsonResponse(body)


@require_GET
@staff_only
async def conversation_items(request: HttpRequest, thread_id: str) -> JsonResponse:
    """An earlier page of the transcript: ``?before=<cursor from "earlier">``, oldest first."""
    row = await sync_to_async(row_for)(thread_id)
    if row is None:
        return error(404, "not_found", f"Conversation {thread_id} does not exist.")
    before = request.GET.get("before", "")
    if not before or len(before) > 200:
        return error(400, "invalid_request", 'Give ?before= with the "earlier" cursor of the page you have.')
    return JsonResponse(_page_json(await latest_items(row["customer"]["id"], thread_id, before=before)))


def _conversation_json(conversation: Conversation) -> dict[str, Any]:
    return row_for(conversation.thread_id) or {}


@decision
async def take_over(request: HttpRequest, thread_id: str) -> JsonResponse:
    conversation = await sync_to_async(conversations.take_over)(thread_id, request.staff)  # type: ignore[attr-defined]
    await conversations.post_staff_note(thread_id, conversations.joined_line(request.staff))  # type: ignore[attr-defined]
    return JsonResponse(await sync_to_async(_conversation_json)(conversation))


@decision
async def hand_back(request: HttpRequest, thread_id: str) -> JsonResponse:
    conversation = await sync_to_async(conversations.hand_back)(thread_id, request.staff)  # type: ignore[attr-defined]
    await conversations.post_staff_note(thread_id, "Our assistant is back to help you. Just type what you need.")
    return JsonResponse(await sync_to_async(_conversation_json)(conversation))


@decision
async def set_mode(request: HttpRequest, thread_id: str) -> JsonResponse:
    mode = _body(request).get("mode")
    if not isinstance(mode, str):
        raise InvalidRequest('"mode" is required: assistant, copilot or human.')
    conversation = await sync_to_async(conversations.set_mode)(thread_id, request.staff, mode)  # type: ignore[attr-defined]
    return JsonResponse(await sync_to_async(_conversation_json)(conversation))


@decision
async def add_note(request: HttpRequest, thread_id: str) -> JsonResponse:
    """``{"text"}``: an internal note, for staff only."""
    text = _text(_body(request), "text", required=True)
    note = await sync_to_async(conversations.add_note)(thread_id, request.staff, text)  # type: ignore[attr-defined]
    return JsonResponse({"note": note.as_json()})


@decision
async def mark_read(request: HttpRequest, thread_id: str) -> JsonResponse:
    """The agent has read the conversation up to now (its unread count for them goes to 0)."""
    read = await sync_to_async(conversations.mark_read)(thread_id, request.staff)  # type: ignore[attr-defined]
    return JsonResponse({"thread_id": thread_id, "read_messages": read, "unread": 0})


@decision
async def resolve(request: HttpRequest, thread_id: str) -> JsonResponse:
    """``{"note": optional text}``: done for now; the customer's next message reopens it."""
    note = _text(_body(request), "note")
    conversation = await sync_to_async(conversations.resolve)(thread_id, request.staff, note)  # type: ignore[attr-defined]
    return JsonResponse(await sync_to_async(_conversation_json)(conversation))


@decision
async def reopen(request: HttpRequest, thread_id: str) -> JsonResponse:
    conversation = await sync_to_async(conversations.reopen)(thread_id, request.staff)  # type: ignore[attr-defined]
    return JsonResponse(await sync_to_async(_conversation_json)(conversation))


@decision
async def assign(request: HttpRequest, thread_id: str) -> JsonResponse:
    """``{"user": username or null}``."""
    body = _body(request)
    if "user" not in body or not (body["user"] is None or isinstance(body["user"], str)):
        raise InvalidRequest('"user" is required: a staff username, or null for nobody.')
    conversation = await sync_to_async(conversations.assign)(thread_id, request.staff, body["user"])  # type: ignore[attr-defined]
    return JsonResponse(await sync_to_async(_conversation_json)(conversation))


@decision
async def send_message(request: HttpRequest, thread_id: str) -> JsonResponse:
    text = _text(_body(request), "text", required=True)
    item = await conversations.post_staff_message(thread_id, request.staff, text)  # type: ignore[attr-defined]
    return JsonResponse({"item": item.model_dump(mode="json", exclude_none=True)})


@require_GET
@staff_only
async def copilot(request: HttpRequest, thread_id: str) -> JsonResponse:
    """A summary, a reply to edit and the policy that applies; it goes into the reply box, never to the customer."""
    try:
        conversation = await copilot_drafts.conversation_for(thread_id)
    except NotFound as missing:
        return _refusal(missing)
    return JsonResponse(copilot_drafts.draft_json(await copilot_drafts.copilot_draft(conversation)))


@require_GET
@staff_only
async def saved_replies(request: HttpRequest, thread_id: str) -> JsonResponse:
    """The saved replies, filled in for this conversation's customer and the signed-in agent."""
    try:
        replies = await sync_to_async(saved_replies_for)(thread_id, request.staff)  # type: ignore[attr-defined]
    except NotFound as missing:
        return _refusal(missing)
    return JsonResponse({"saved_replies": replies})


@decision
async def advance(request: HttpRequest, return_id: str) -> JsonResponse:
    """Move a committed return one lifecycle step (label issued, in transit, received, refunded/credited)."""
    body = _body(request)
    try:
        to_status = ReturnStatus(body.get("status"))
    except ValueError:
        raise InvalidRequest(f"status must be one of: {', '.join(s.value for s in ReturnStatus)}.") from None
    proposal = await Proposal.objects.filter(return_id=return_id).afirst()
    if proposal is None:
        raise NotFound(f"Return {return_id} does not exist.")
    user = request.staff  # type: ignore[attr-defined]
    if to_status is ReturnStatus.CANCELLED:  # money moves back: the one decision that reverses a commit
        cancelled = await decisions.cancel_return(
            repo=await loop_repository(), proposal_id=proposal.pk, user=user, note=str(body.get("note", ""))[:500]
        )
        record = await (await loop_repository()).get_return(cancelled.customer_id, return_id)
        return JsonResponse({"return_id": return_id, "status": str(record.status), "history": list(record.history)})
    record = await advance_return(
        await loop_repository(),
        proposal.customer_id,
        return_id,
        to_status,
        user.get_username(),
        str(body.get("note", "")),
    )
    await sync_to_async(decisions.record_lifecycle_step)(proposal=proposal, user=user, status=str(record.status))
    return JsonResponse({"return_id": return_id, "status": str(record.status), "history": list(record.history)})
