from django.apps import AppConfig


class ReturnsConsoleConfig(AppConfig):
    name = "returns_console"
    verbose_name = "Returns Console"
