"""The export reaper, run every minute by a django-q2 schedule (see jobs/reaper.py)."""

from __future__ import annotations

import logging

from jobs.reaper import pending_task_names, reap, sweep

from . import storage
from .models import ExportJob
from .services import DOING, export_dir, release_deferred

log = logging.getLogger(__name__)

__all__ = ["jobs_reap", "pending_task_names", "sweep_temporary_files"]


def jobs_reap() -> dict[str, int]:
    report = reap(ExportJob, doing=DOING, release=release_deferred)
    report["swept"] = sweep_temporary_files() + sweep_orphan_attempts()
    if any(report.values()):
        log.info("export reaper: %s", report)
    return report


def sweep_temporary_files() -> int:
    """Remove partial zips and work folders that no live attempt owns."""
    live = {f"{pk}-{token}" for pk, token in ExportJob.objects.filter(
        status=ExportJob.Status.RUNNING).values_list("pk", "worker_token")}
    return sweep(export_dir() / "tmp", live)


def sweep_orphan_attempts() -> int:
    """Remove published attempts that are not their job's recorded one: the zip of a worker
    killed between publishing and recording it, attempts of jobs that ended without a file, and
    folders of jobs that no longer exist. The folders are listed before the job rows are read: an
    attempt that publishes meanwhile is its job's running attempt in those rows, so it is kept."""
    folders = storage.attempt_folders()
    if not folders:
        return 0
    keep = {}
    for job in ExportJob.objects.filter(pk__in=list(folders)).only(
            "status", "worker_token", "file_path", "file_deleted_at"):
        keep[str(job.pk)] = _recorded_attempt(job)
    swept = 0
    for job_id, tokens in folders.items():
        for token in tokens:
            if token != keep.get(job_id):
                storage.delete_tree(f"{job_id}/{token}")
                swept += 1
    return swept


def _recorded_attempt(job: ExportJob) -> str | None:
    if job.status == ExportJob.Status.RUNNING:
        return job.worker_token
    if job.status == ExportJob.Status.FINISHED and job.file_path and not job.file_deleted_at:
        return job.file_path.split("/")[1]
    return None
