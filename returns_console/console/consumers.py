"""The staff dashboard's websocket: every conversation's list events and the open conversation's chat events,
numbered per conversation, with resync; and who has which conversation open."""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any

from django.contrib.auth import get_user_model
from redis.exceptions import RedisError

from chat.sockets import LiveEventsConsumer, session_group, user_group
from returns_console.console import events, fanout, presence

NOT_STAFF = 4403
MAX_RESYNC_CONVERSATIONS = 500
MAX_CONVERSATION_ID = 200
USAGE = 'Send {"type": "resync", "since": {id: last_seq}} or {"type": "viewing", "conversation": id or null}.'

logger = logging.getLogger(__name__)


class ConsoleConsumer(LiveEventsConsumer):
    """Feed events reach the socket through its process's ``fanout`` (one subscription for all dashboards there),
    not through a channel-layer membership of its own; the socket's own channel carries its session's end."""

    viewing: str | None = None
    outbox: fanout.Outbox | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not (user.is_active and user.is_staff):
            await self.close(code=NOT_STAFF)  # anonymous visitors and customers alike
            return
        self.username = user.get_username()
        self.user_id = user.pk
        session = self.scope.get("session")
        await self.join_ending_groups(session_group(getattr(session, "session_key", "") or ""), user_group(user.pk))
        await self.accept()
        self.fanout = await fanout.for_this_loop()
        self.outbox = self.fanout.attach(self._send_frame)

    async def disconnect(self, code: int) -> None:
        if self.viewing:
            await self._view(None)
        if self.outbox is not None:
            await self.fanout.detach(self.outbox)
        await self.leave_ending_groups()

    def _held(self) -> contextlib.AbstractAsyncContextManager[None]:
        return self.outbox.exclusive() if self.outbox is not None else contextlib.nullcontext()

    async def _send_frame(self, text: str) -> None:
        await self.send(text_data=text)

    async def _still_staff(self) -> bool:
        """The account as it is now, not as it was when the socket opened: resync is where a dashboard that was
        away catches up, so it is where a deactivated account stops."""
        user = await get_user_model().objects.filter(pk=self.user_id).afirst()
        if user is None or not (user.is_active and user.is_staff):
            await self.close(code=NOT_STAFF)
            return False
        return True

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "viewing":
            await self._viewing(content.get("conversation"))
        elif kind == "resync":
            await self._resync(content.get("since"))
        else:
            await self.send_json({"type": "error", "message": USAGE})

    async def _resync(self, since: Any) -> None:
        """``{"type": "resync", "since": {conversation: last_seq, ...}}``: what each missed, in order."""
        if not isinstance(since, dict) or len(since) > MAX_RESYNC_CONVERSATIONS:
            await self.send_json({"type": "error", "message": USAGE})
            return
        if not await self._still_staff():
            return
        try:
            epoch = await events.epoch()
        except RedisError:
            await self.send_json({"type": "error", "message": "The live feed is unavailable; try again shortly."})
            return
        for conversation, last in since.items():
            if not isinstance(conversation, str) or not isinstance(last, int) or isinstance(last, bool) or last < 0:
                await self.send_json({"type": "error", "message": f"Bad resync entry for {conversation!r}."})
                continue
            async with self._held():  # live frames owed go first, those that come meanwhile after
                missed = await events.replay(conversation, last)
                for event in missed.events:
                    await self.send_json({"type": "event", **event})
                await self.send_json(
                    {
                        "type": "resynced",
                        "conversation": conversation,
                        "last_seq": missed.events[-1]["seq"] if missed.events else last,
                        "epoch": epoch,  # not the dashboard's: the feed restarted, and what it has is stale
                        "complete": missed.complete,  # false: the log no longer reaches back; read the conversation
                    }
                )

    async def _viewing(self, conversation: Any) -> None:
        """``{"type": "viewing", "conversation": id}`` when the agent opens one (and every REFRESH_SECONDS while
        it stays open); ``null`` when they close it."""
        if conversation is not None and not (
            isinstance(conversation, str) and 0 < len(conversation) <= MAX_CONVERSATION_ID
        ):
            await self.send_json({"type": "error", "message": "viewing: conversation must be an id or null."})
            return
        await self._view(conversation)

    async def _view(self, conversation: str | None) -> None:
        """Move this dashboard to ``conversation``: its chat events come here from now on (the dashboard reads
        what came before and resyncs any gap), and every dashboard is told who is where now."""
        previous, self.viewing = self.viewing, conversation
        try:
            if self.outbox is not None:
                await self.fanout.view(self.outbox, conversation)
            viewers = await presence.move(self.channel_name, self.username, previous, conversation)
            if previous != conversation:  # staying (a refresh) changes nothing anyone sees
                await self._announce(viewers)
        except (RedisError, OSError):
            logger.exception("live feed unavailable; %s's view of %s was not shared", self.username, conversation)

    async def _announce(self, viewers: dict[str, list[str]]) -> None:
        """Who has each conversation open now, to every dashboard: one message for a move from one to the next,
        its frames serialised here once rather than by each dashboard's consumer."""
        frames = [
            json.dumps({"type": "presence", "conversation": conversation, "viewers": names})
            for conversation, names in viewers.items()
        ]
        if frames:
            await self.channel_layer.group_send(events.GROUP, {"type": "console.presence", "frames": frames})
