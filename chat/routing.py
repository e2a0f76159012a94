from django.urls import path

from chat.consumers import CustomerConsumer

websocket_urlpatterns = [path("ws/chat/", CustomerConsumer.as_asgi())]
