"""A throwaway Nexus for the load and chaos scripts: its own NEXUS_VAR_DIR (database, media,
exports), `manage.py` commands run in it, and servers started in their own process group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")


class Site:
    def __init__(self, **env: str) -> None:
        self.var = Path(tempfile.mkdtemp(prefix="nexus-bench-"))
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
        self.env.update(DJANGO_SETTINGS_MODULE="nexus.settings.dev", NEXUS_VAR_DIR=str(self.var),
                        NEXUS_LOG_LEVEL="WARNING", TF_CPP_MIN_LOG_LEVEL="3",
                        TF_ENABLE_ONEDNN_OPTS="0", **env)
        self.groups: list[subprocess.Popen] = []

    def manage(self, *args: str, code: str | None = None) -> str:
        command = [PYTHON, "manage.py", *args] + (["-c", code] if code else [])
        return subprocess.run(command, cwd=ROOT, env=self.env, check=True, capture_output=True,
                              text=True).stdout

    def shell(self, code: str) -> str:
        return self.manage("shell", code=code)

    def start(self, *command: str, log: str, **env: str) -> subprocess.Popen:
        """A server in its own process group, so stop() reaches what it forks."""
        out = open(self.var / log, "ab")
        process = subprocess.Popen(list(command), cwd=ROOT, env={**self.env, **env}, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        self.groups.append(process)
        return process

    def qcluster(self, **env: str) -> subprocess.Popen:
        return self.start(PYTHON, "manage.py", "qcluster", log="qcluster.log", **env)

    def kill(self, process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)

    def stop_all(self) -> None:
        for process in self.groups:
            self.kill(process, signal.SIGTERM)


SETUP = """
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from tests.factories import dataset_with_boxes, stored_sample_image
user = get_user_model().objects.create_user("bench", password="bench-password-1")
dataset = dataset_with_boxes(user, {images}, file=stored_sample_image(), boxes_per_image=3)
session = SessionStore()
session["_auth_user_id"] = str(user.pk)
session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
session["_auth_user_hash"] = user.get_session_auth_hash()
session.create()
print(dataset.pk, session.session_key)
"""

EXPORTS = """
from annotations.formats.options import ExportOptions
from datasets.models import Dataset
from exports import services
dataset = Dataset.objects.get(pk={dataset})
for seed in range({count}):
    options = ExportOptions(normalized=False, shuffle=True, seed=seed + {first}, split_ratio=0.2,
                            include_images=True)
    services.export_job_create(owner=dataset.owner, dataset=dataset, format_id="{format}",
                               options=options, reuse_active=False)
"""


def set_up(site: Site, images: int) -> tuple[int, str]:
    site.manage("migrate", "--noinput", "-v0")
    dataset, session = site.shell(SETUP.format(images=images)).split()[-2:]
    return int(dataset), session


def queue_exports(site: Site, dataset: int, count: int, first: int = 0,
                  format_id: str = "coco") -> None:
    site.shell(EXPORTS.format(dataset=dataset, count=count, first=first, format=format_id))


def wait_for(predicate, timeout: float, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return None


def python_path() -> None:
    sys.path.insert(0, str(ROOT))
