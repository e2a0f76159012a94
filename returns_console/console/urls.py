from django.urls import path

from returns_console.console import api, page

urlpatterns = [
    path("", page.dashboard, name="console"),
    path("api/proposals", api.list_proposals, name="console-proposals"),
    path("api/proposals/<int:proposal_id>", api.get_proposal, name="console-proposal"),
    path("api/proposals/<int:proposal_id>/approve", api.approve, name="console-approve"),
    path("api/proposals/<int:proposal_id>/edit", api.edit, name="console-edit"),
    path("api/proposals/<int:proposal_id>/reject", api.reject, name="console-reject"),
    path("api/proposals/<int:proposal_id>/retry", api.retry, name="console-retry"),
    path("api/proposals/<int:proposal_id>/close", api.close, name="console-close"),
    path("api/returns/<str:return_id>", api.get_return, name="console-return"),
    path("api/returns/<str:return_id>/advance", api.advance, name="console-advance"),
    path("api/conversations", api.list_conversations, name="console-conversations"),
    path("api/conversations/<str:thread_id>", api.get_conversation, name="console-conversation"),
    path("api/conversations/<str:thread_id>/items", api.conversation_items, name="console-conversation-items"),
    path("api/conversations/<str:thread_id>/take-over", api.take_over, name="console-take-over"),
    path("api/conversations/<str:thread_id>/hand-back", api.hand_back, name="console-hand-back"),
    path("api/conversations/<str:thread_id>/mode", api.set_mode, name="console-mode"),
    path("api/conversations/<str:thread_id>/messages", api.send_message, name="console-messages"),
    path("api/conversations/<str:thread_id>/saved-replies", api.saved_replies, name="console-saved-replies"),
    path("api/conversations/<str:thread_id>/copilot", api.copilot, name="console-copilot"),
]
