from django.urls import path
from django.views.i18n import JavaScriptCatalog

from chat import labels, views

urlpatterns = [
    path("chat/", views.chat_page, name="chat"),
    path("chat/i18n.js", JavaScriptCatalog.as_view(), name="chat-i18n"),  # the page's words in the browser's language
    path("chat/session", views.start_session, name="chat-session"),
    path("chat/signout", views.end_session, name="chat-signout"),
    path("chat/returns/<str:return_id>/label", labels.label_page, name="chat-return-label"),
    path("chat/returns/<str:return_id>/label.pdf", labels.label_pdf_file, name="chat-return-label-pdf"),
    path("chatkit", views.chatkit_endpoint, name="chatkit"),
]
