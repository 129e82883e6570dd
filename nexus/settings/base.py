"""Settings shared by every environment. Everything that differs between machines comes from
environment variables (see README "Configuration")."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("NEXUS_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in ("1", "true", "yes", "on")


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


SECRET_KEY = os.environ.get("NEXUS_SECRET_KEY", "dev-only-insecure-key-change-me")
DEBUG = env_bool("NEXUS_DEBUG", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
ALLOWED_HOSTS = [h for h in os.environ.get("NEXUS_ALLOWED_HOSTS", "localhost,127.0.0.1").split(",")
                 if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("NEXUS_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "jobs",  # before django_q: its `qcluster` command also runs the reapers
    "django_q",
    "datasets",
    "annotations",
    "exports",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "nexus.busy.BusyDatabaseMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
]

ROOT_URLCONF = "nexus.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
WSGI_APPLICATION = "nexus.wsgi.application"

# SQLite by default, tuned for a web server plus workers (STACK.md: IMMEDIATE transactions stop
# "database is locked"; WAL adds throughput). DATABASE_URL switches to PostgreSQL.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'nexus.sqlite3'}", conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "datasets:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
MEDIA_ROOT = Path(os.environ.get("NEXUS_MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "media/"
NEXUS_EXPORT_DIR = Path(os.environ.get("NEXUS_EXPORT_DIR", VAR_DIR / "exports"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Published export zips. Work in progress always stays on the worker's local disk.
    "exports": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": NEXUS_EXPORT_DIR}},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Images and export zips on S3-compatible object storage: NEXUS_S3_BUCKET switches it on.
if os.environ.get("NEXUS_S3_BUCKET"):
    _s3 = {
        "bucket_name": os.environ["NEXUS_S3_BUCKET"],
        "endpoint_url": os.environ.get("NEXUS_S3_ENDPOINT_URL") or None,
        "region_name": os.environ.get("NEXUS_S3_REGION", "us-east-1"),
        "access_key": os.environ.get("NEXUS_S3_ACCESS_KEY_ID") or None,
        "secret_key": os.environ.get("NEXUS_S3_SECRET_ACCESS_KEY") or None,
        "default_acl": None,
        "querystring_auth": True,
        "file_overwrite": False,
        "signature_version": "s3v4",
    }
    STORAGES["default"] = {"BACKEND": "storages.backends.s3.S3Storage",
                           "OPTIONS": {**_s3, "location": "media"}}
    STORAGES["exports"] = {"BACKEND": "storages.backends.s3.S3Storage",
                           "OPTIONS": {**_s3, "location": "exports"}}
# How long a presigned download URL handed to a browser or a script stays valid (capped by the
# job's own expiry).
NEXUS_PRESIGNED_SECONDS = env_int("NEXUS_PRESIGNED_SECONDS", 600)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Exports
NEXUS_EXPORT_LINK_HOURS = env_int("NEXUS_EXPORT_LINK_HOURS", 24)
NEXUS_EXPORT_CHUNK = env_int("NEXUS_EXPORT_CHUNK", 2000)
NEXUS_PROGRESS_INTERVAL = float(os.environ.get("NEXUS_PROGRESS_INTERVAL", "1.0"))
NEXUS_JOB_TIMEOUT = env_int("NEXUS_JOB_TIMEOUT", 3600)

Q_CLUSTER = {
    "name": "nexus",
    "workers": env_int("NEXUS_WORKERS", 2),
    "orm": "default",
    "poll": 0.2,
    "timeout": NEXUS_JOB_TIMEOUT,
    # retry must exceed timeout, or a long export runs twice in parallel (STACK.md).
    "retry": NEXUS_JOB_TIMEOUT + 60,
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 250,
    "label": "Tasks",
}
if os.environ.get("NEXUS_REDIS_URL"):
    Q_CLUSTER.pop("orm")
    Q_CLUSTER["redis"] = os.environ["NEXUS_REDIS_URL"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("NEXUS_LOG_LEVEL", "INFO")},
}

# Job reliability: a running job whose heartbeat is older than this is taken over by the reaper.
NEXUS_HEARTBEAT_STALE_SECONDS = env_int("NEXUS_HEARTBEAT_STALE_SECONDS", 120)
NEXUS_MAX_ATTEMPTS = env_int("NEXUS_MAX_ATTEMPTS", 3)
NEXUS_MAX_RUNNING_EXPORTS_PER_USER = env_int("NEXUS_MAX_RUNNING_EXPORTS_PER_USER", 2)
# Run by each cluster's parent every quarter of the staleness window (and by the minute schedule).
NEXUS_REAPERS = ["exports.tasks.reap_jobs", "annotations.tasks.reap_imports"]

# Uploads (images and annotation files). Every upload streams into its own folder below
# NEXUS_UPLOAD_DIR and is refused early, with the limit named, once it passes the byte limit.
NEXUS_VAR_DIR = VAR_DIR
NEXUS_UPLOAD_DIR = Path(os.environ.get("NEXUS_UPLOAD_DIR", VAR_DIR / "uploads"))
NEXUS_MAX_UPLOAD_BYTES = env_int("NEXUS_MAX_UPLOAD_BYTES", 2 << 30)
NEXUS_MAX_UNZIPPED_BYTES = env_int("NEXUS_MAX_UNZIPPED_BYTES", 20 << 30)
NEXUS_MAX_ZIP_MEMBERS = env_int("NEXUS_MAX_ZIP_MEMBERS", 200_000)
NEXUS_MAX_IMAGE_BYTES = env_int("NEXUS_MAX_IMAGE_BYTES", 200 << 20)
NEXUS_MAX_IMAGE_PIXELS = env_int("NEXUS_MAX_IMAGE_PIXELS", 100_000_000)
NEXUS_MAX_NEW_LABELS = env_int("NEXUS_MAX_NEW_LABELS", 1000)
# Annotation uploads up to this size (and not TFRecord) are analysed in the web request, so the
# preview (or the error) comes back at once; larger ones are analysed by the worker.
NEXUS_INLINE_ANALYSIS_BYTES = env_int("NEXUS_INLINE_ANALYSIS_BYTES", 8 << 20)
# COCO JSON uploads larger than this are parsed as a stream, an annotation at a time: memory
# stays flat (parsed whole, a 150 MB file takes over 1 GB) and it is no slower.
NEXUS_STREAM_JSON_BYTES = env_int("NEXUS_STREAM_JSON_BYTES", 4 << 20)
NEXUS_IMPORT_REVIEW_HOURS = env_int("NEXUS_IMPORT_REVIEW_HOURS", 24)
NEXUS_UPLOAD_ABANDONED_SECONDS = env_int("NEXUS_UPLOAD_ABANDONED_SECONDS", 6 * 3600)
# Browsers send many images per request; the script batches by 50, a plain form may send more.
DATA_UPLOAD_MAX_NUMBER_FILES = env_int("NEXUS_MAX_FILES_PER_REQUEST", 500)
if os.environ.get("NEXUS_S3_BUCKET"):  # uploads analysed by a worker on another machine
    STORAGES["uploads"] = {"BACKEND": "storages.backends.s3.S3Storage",
                           "OPTIONS": {**_s3, "location": "uploads"}}
