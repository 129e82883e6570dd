"""Test settings: an isolated var folder, plain static storage (no collectstatic needed)."""

import os
import tempfile

os.environ.setdefault("NEXUS_VAR_DIR", tempfile.mkdtemp(prefix="nexus-test-"))

from .base import *  # noqa: E402,F401,F403
from .base import STORAGES, VAR_DIR  # noqa: E402

STORAGES = {**STORAGES, "staticfiles": {
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
NEXUS_PROGRESS_INTERVAL = float(os.environ.get("NEXUS_PROGRESS_INTERVAL", "0"))

# A file, not ":memory:", so that real worker processes started by tests see the same database.
DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}  # noqa: F405
