"""Building ChatKit requests and reading SSE replies with the library's own types, for tests."""

from __future__ import annotations

import json
from typing import Any

from chatkit.actions import Action
from chatkit.types import (
    InferenceOptions,
    ItemFeedbackParams,
    ItemsFeedbackReq,
    ItemsListParams,
    ItemsListReq,
    ThreadAddUserMessageParams,
    ThreadCreateParams,
    ThreadCustomActionParams,
    ThreadDeleteParams,
    ThreadGetByIdParams,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsCustomActionReq,
    ThreadsDeleteReq,
    ThreadsGetByIdReq,
    ThreadStreamEvent,
    ThreadsUpdateReq,
    ThreadUpdateParams,
    UserMessageInput,
    UserMessageTextContent,
)
from pydantic import BaseModel, TypeAdapter

EVENTS: TypeAdapter[Any] = TypeAdapter(ThreadStreamEvent)


def user_input(text: str) -> UserMessageInput:
    return UserMessageInput(
        content=[UserMessageTextContent(text=text)], attachments=[], inference_options=InferenceOptions()
    )


def create(text: str) -> ThreadsCreateReq:
    return ThreadsCreateReq(params=ThreadCreateParams(input=user_input(text)))


def add_message(thread_id: str, text: str) -> ThreadsAddUserMessageReq:
    return ThreadsAddUserMessageReq(params=ThreadAddUserMessageParams(thread_id=thread_id, input=user_input(text)))


def custom_action(thread_id: str, item_id: str, action_type: str, payload: dict[str, Any]) -> ThreadsCustomActionReq:
    return ThreadsCustomActionReq(
        params=ThreadCustomActionParams(
            thread_id=thread_id, item_id=item_id, action=Action(type=action_type, payload=payload)
        )
    )


def get_thread(thread_id: str) -> ThreadsGetByIdReq:
    return ThreadsGetByIdReq(params=ThreadGetByIdParams(thread_id=thread_id))


def delete_thread(thread_id: str) -> ThreadsDeleteReq:
    return ThreadsDeleteReq(params=ThreadDeleteParams(thread_id=thread_id))


def list_items(thread_id: str, limit: int = 50) -> ItemsListReq:
    return ItemsListReq(params=ItemsListParams(thread_id=thread_id, limit=limit, order="asc"))


def update_thread(thread_id: str, title: str) -> ThreadsUpdateReq:
    return ThreadsUpdateReq(params=ThreadUpdateParams(thread_id=thread_id, title=title))


def feedback(thread_id: str, item_ids: list[str], kind: str) -> ItemsFeedbackReq:
    return ItemsFeedbackReq(params=ItemFeedbackParams(thread_id=thread_id, item_ids=item_ids, kind=kind))


def body(request: BaseModel) -> str:
    return request.model_dump_json(exclude_none=True)


def parse_sse(raw: bytes) -> list[Any]:
    """Each SSE event is 'data: <json>' followed by a blank line."""
    events = []
    for block in raw.decode().split("\n\n"):
        data = "\n".join(line[5:].lstrip() for line in block.split("\n") if line.startswith("data:"))
        if data:
            events.append(EVENTS.validate_python(json.loads(data)))
    return events
