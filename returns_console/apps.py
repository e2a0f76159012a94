from django.apps import AppConfig


class ReturnsConsoleConfig(AppConfig):
    name = "returns_console"
    verbose_name = "Returns Console"

    def ready(self) -> None:
        from returns_console.console import receivers

        receivers.connect()
