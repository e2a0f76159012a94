from django.urls import path, register_converter

from returns_console.console import api, insights_api, page


class ThreadId:
    """What a conversation or return id can be (``thr_``/``RET-`` and hex); anything else is not found before any
    query runs, so a NUL byte or a 10 KB path never reaches the database (PostgreSQL refuses NUL in text: a 500)."""

    regex = r"[A-Za-z0-9_-]{1,100}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ThreadId, "thread")

urlpatterns = [
    path("", page.dashboard, name="console"),
    path("api/insights", insights_api.insights_json, name="console-insights"),
    path("api/insights/<slug:table>.csv", insights_api.insights_csv, name="console-insights-csv"),
    path("api/insights/<slug:table>/drill", insights_api.insights_drill, name="console-insights-drill"),
    path("insights/", page.insights, name="console-insights-page"),
    path("api/proposals", api.list_proposals, name="console-proposals"),
    path("api/proposals/<int:proposal_id>", api.get_proposal, name="console-proposal"),
    path("api/proposals/<int:proposal_id>/approve", api.approve, name="console-approve"),
    path("api/proposals/<int:proposal_id>/edit", api.edit, name="console-edit"),
    path("api/proposals/<int:proposal_id>/preview", api.preview_edit, name="console-preview"),
    path("api/proposals/<int:proposal_id>/reject", api.reject, name="console-reject"),
    path("api/proposals/<int:proposal_id>/escalate", api.escalate, name="console-escalate"),
    path("api/proposals/<int:proposal_id>/retry", api.retry, name="console-retry"),
    path("api/proposals/<int:proposal_id>/close", api.close, name="console-close"),
    path("api/returns/<thread:return_id>", api.get_return, name="console-return"),
    path("api/returns/<thread:return_id>/advance", api.advance, name="console-advance"),
    path("api/conversations", api.list_conversations, name="console-conversations"),
    path("api/conversations/<thread:thread_id>", api.get_conversation, name="console-conversation"),
    path("api/conversations/<thread:thread_id>/items", api.conversation_items, name="console-conversation-items"),
    path("api/conversations/<thread:thread_id>/take-over", api.take_over, name="console-take-over"),
    path("api/conversations/<thread:thread_id>/hand-back", api.hand_back, name="console-hand-back"),
    path("api/conversations/<thread:thread_id>/mode", api.set_mode, name="console-mode"),
    path("api/conversations/<thread:thread_id>/messages", api.send_message, name="console-messages"),
    path("api/conversations/<thread:thread_id>/notes", api.add_note, name="console-notes"),
    path("api/conversations/<thread:thread_id>/read", api.mark_read, name="console-read"),
    path("api/conversations/<thread:thread_id>/resolve", api.resolve, name="console-resolve"),
    path("api/conversations/<thread:thread_id>/reopen", api.reopen, name="console-reopen"),
    path("api/conversations/<thread:thread_id>/assign", api.assign, name="console-assign"),
    path("api/conversations/<thread:thread_id>/saved-replies", api.saved_replies, name="console-saved-replies"),
    path("api/conversations/<thread:thread_id>/copilot", api.copilot, name="console-copilot"),
]
