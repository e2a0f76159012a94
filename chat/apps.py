from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "Customer chat"

    def ready(self) -> None:
        from chat import receivers

        receivers.connect()
