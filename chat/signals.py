"""What the chat app announces; the console connects receivers in its AppConfig.ready()."""

from django.dispatch import Signal

# sender=None, thread_id: str, customer_id: str, event: dict (a ChatKit thread event as JSON) -- sent with
# asend from the request or task that produced it, in order, after the item is stored
conversation_event = Signal()
# sender=Conversation, conversation: Conversation, action: str -- mode, assignment or activity changed
conversation_changed = Signal()
