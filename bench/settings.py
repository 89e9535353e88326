"""Settings for `make bench-http` only: the production settings, with /bench/bare added to the URLs.

Never used in production: sinatra/settings.py and sinatra/urls.py know nothing of it.
"""

from sinatra.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
