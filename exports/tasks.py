"""django-q2 entry points: each takes ids and calls one service."""

from __future__ import annotations

from . import services


def run_export(job_id: str) -> str:
    return services.export_job_run(job_id)


def delete_expired_exports() -> int:
    return services.expired_exports_delete()


def reap_jobs() -> dict[str, int]:
    from .reaper import jobs_reap

    return jobs_reap()
