"""WSGI entry point: `.venv/bin/gunicorn -c deploy/gunicorn.conf.py sinatra.wsgi` (docs/deploy.md)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sinatra.settings")

application = get_wsgi_application()
