"""The export reaper, run every minute by a django-q2 schedule (see jobs/reaper.py)."""

from __future__ import annotations

import logging

from jobs.reaper import pending_task_names, reap, sweep

from .models import ExportJob
from .services import DOING, enqueue_export, export_dir, release_deferred, task_name

log = logging.getLogger(__name__)

__all__ = ["jobs_reap", "pending_task_names", "sweep_temporary_files"]


def jobs_reap() -> dict[str, int]:
    report = reap(ExportJob, enqueue=enqueue_export, task_name=task_name, doing=DOING,
                  release=release_deferred)
    report["swept"] = sweep_temporary_files()
    if any(report.values()):
        log.info("export reaper: %s", report)
    return report


def sweep_temporary_files() -> int:
    """Remove partial zips and work folders that no live attempt owns."""
    live = {f"{pk}-{token}" for pk, token in ExportJob.objects.filter(
        status=ExportJob.Status.RUNNING).values_list("pk", "worker_token")}
    return sweep(export_dir() / "tmp", live)
