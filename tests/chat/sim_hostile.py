"""A language model that does whatever the customer's message asks, for the injection tests.

Why: the LLM engine's defences must hold even when the model is fooled. For each hostile message it is given a
plan (the tool calls a fully compliant model would make); it makes them one per model call, then relays every tool
output verbatim to the customer (so anything a tool leaked would reach them). Messages without a plan get the
simulations' ordinary policy (``chat.simulation.decide``), so a test can set the scene first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from agents.items import TResponseOutputItem
from agents.testing.model import ModelCall, assistant_message, function_call

from chat.simulation import RespondingModel, decide


@dataclass(frozen=True)
class Plan:
    """The tool calls a compliant model makes for one message: (name, arguments); a str is sent as raw JSON text."""

    calls: tuple[tuple[str, dict[str, Any] | str], ...] = ()
    reveal_instructions: bool = False  # answer with the system prompt, as asked


def _plain(item: Any) -> dict[str, Any]:
    return item if isinstance(item, dict) else item.model_dump(exclude_none=True)


def _user_text(item: dict[str, Any]) -> str | None:
    if item.get("role") != "user":
        return None
    content = item.get("content")
    text = content if isinstance(content, str) else "".join(part.get("text", "") for part in content or [])
    return None if text.startswith("The following graphical UI widget") else text


class HostileModel(RespondingModel):
    def __init__(self) -> None:
        super().__init__()
        self.plans: dict[str, Plan] = {}

    def respond(self, call: ModelCall) -> list[TResponseOutputItem]:
        items = [_plain(item) for item in call.input]
        users = [index for index, item in enumerate(items) if _user_text(item) is not None]
        latest = _user_text(items[users[-1]]) if users else None
        plan = self.plans.get(latest or "")
        if plan is None:
            return decide(call)
        this_turn = items[users[-1] + 1 :]
        made = sum(item.get("type") == "function_call" for item in this_turn)
        if made < len(plan.calls):
            name, arguments = plan.calls[made]
            return [function_call(name, arguments, call_id=f"hostile-{made}-{len(items)}")]
        if plan.reveal_instructions:
            return [assistant_message(call.system_instructions or "")]
        outputs = [str(item.get("output")) for item in this_turn if item.get("type") == "function_call_output"]
        return [assistant_message("Done, as you asked. " + " ".join(outputs))]


def arguments(**fields: Any) -> str:
    """Raw JSON text for a function call, for plans that send it exactly as written."""
    return json.dumps(fields)
