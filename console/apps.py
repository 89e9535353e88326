from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The pages tenants' people use: install flow, console, credentials, members."""

    name = "console"
    default_auto_field = "django.db.models.BigAutoField"
