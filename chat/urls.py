from django.urls import path

from chat import views

urlpatterns = [
    path("chat/", views.chat_page, name="chat"),
    path("chat/session", views.start_session, name="chat-session"),
    path("chat/signout", views.end_session, name="chat-signout"),
    path("chatkit", views.chatkit_endpoint, name="chatkit"),
]
