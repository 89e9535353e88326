"""WSGI entry point, e.g. `gunicorn sinatra.wsgi`."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sinatra.settings")

application = get_wsgi_application()
