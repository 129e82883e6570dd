"""The scheduled tasks, created idempotently after every migrate."""

from __future__ import annotations

from jobs.schedules import ensure_minute_schedules

SCHEDULES = {
    "nexus: delete expired exports": {"func": "exports.tasks.delete_expired_exports",
                                      "minutes": 5},
    "nexus: reap stalled export jobs": {"func": "exports.tasks.reap_jobs", "minutes": 1},
}


def ensure_schedules(**kwargs) -> None:
    ensure_minute_schedules(SCHEDULES)
