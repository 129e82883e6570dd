"""Start and stop real `manage.py qcluster` processes against the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
# Crash tests: workers that report progress often and take over a job stalled for STALE seconds.
STALE = 2
QUICK_WORKER_ENV = {"NEXUS_HEARTBEAT_STALE_SECONDS": str(STALE), "NEXUS_PROGRESS_INTERVAL": "0.05",
                    "NEXUS_WORKERS": "1"}


def worker_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "nexus.settings.test",
        "NEXUS_VAR_DIR": str(settings.VAR_DIR),
        "DATABASE_URL": database_url(),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "TF_ENABLE_ONEDNN_OPTS": "0",
    })
    env.update(extra)
    return env


def database_url() -> str:
    """The URL of the database this test process uses (the test database, not the main one)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def start_qcluster(log_path: Path, **extra: str) -> subprocess.Popen:
    log = open(log_path, "ab")
    return subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=ROOT,
                            env=worker_env(**extra), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 5) -> None:
    """Signal the whole process group (the cluster forks workers) and wait for it."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def wait_for(predicate, timeout: float = 60, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"condition not met within {timeout} s")
