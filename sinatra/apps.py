from django.apps import AppConfig

from . import checks  # noqa: F401 - importing it registers the project's system checks


class SinatraConfig(AppConfig):
    """The project package as an app, so that its system checks are registered at start-up."""

    name = "sinatra"
    verbose_name = "Sinatra"
