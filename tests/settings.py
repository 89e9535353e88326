"""Settings for the test suite: the real settings module, read from tests/test.env.

A developer's .env is never read; tests run with the local test KMS key (a subprocess test
may export another), never Cloud KMS, no global provider keys, fast password hashing and an
in-process cache.
"""

import os
from pathlib import Path

os.environ["SINATRA_ENV_FILE"] = str(Path(__file__).with_name("test.env"))

from sinatra.settings import *  # noqa: F403
from sinatra.settings import env

TEST_KMS_KEY = env.str("SINATRA_LOCAL_DEV_KMS_KEY")
# Never Cloud KMS from the shell: the local test key (or one a subprocess test exports), and any
# old keys a rotation test names.
SINATRA_KMS_BACKENDS = [
    {
        "BACKEND": "credentials.kms.local.LocalKmsBackend",
        "OPTIONS": {"key": TEST_KMS_KEY, "old_keys": env.list("SINATRA_LOCAL_DEV_KMS_OLD_KEYS", default=[])},
    },
]
SINATRA_SINGLE_TENANT = False
ANTHROPIC_API_KEY = ""
OPENROUTER_API_KEY = ""
SANDBOX_PROVIDER = ""
ANTHROPIC_DEFAULT_OPUS_MODEL = ANTHROPIC_DEFAULT_SONNET_MODEL = ANTHROPIC_DEFAULT_HAIKU_MODEL = (
    ANTHROPIC_DEFAULT_FABLE_MODEL
) = ""
SINATRA_ANTHROPIC_BASE_URL = "https://api.anthropic.test"
SINATRA_OPENROUTER_BASE_URL = "https://openrouter.test/api/v1"

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Serve static files through the finders: no collectstatic (and no STATIC_ROOT) in tests.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
