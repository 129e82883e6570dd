"""django-q2 entry points: each takes ids and calls one service."""

from __future__ import annotations

from . import services


def run_import(job_id: str) -> str:
    return services.import_job_run(job_id)


def reap_imports() -> dict[str, int]:
    from .reaper import import_jobs_reap

    return import_jobs_reap()
