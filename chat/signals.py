"""What the chat app announces; the console connects receivers in its AppConfig.ready()."""

from django.dispatch import Signal

# sender=None, thread_id: str, customer_id: str, event: dict (a ChatKit thread event as JSON) -- sent with
# asend from the request or task that produced it, in order, after the item is stored
conversation_event = Signal()
# sender=Conversation, conversation: Conversation, action: str -- mode, assignment or activity changed
conversation_changed = Signal()
# sender=None, thread_id: str, customer_id: str, events: list[dict] -- several of a turn's events at once, in order
# (chat.mirror.TurnMirror), sent like conversation_event
conversation_events = Signal()
# sender=ConversationNote, note: ConversationNote -- an internal note was written (staff only)
conversation_note = Signal()
