"""The import app's scheduled task, created idempotently after every migrate."""

from __future__ import annotations

from jobs.schedules import ensure_minute_schedules

SCHEDULES = {
    "nexus: reap stalled import jobs": {"func": "annotations.tasks.reap_imports", "minutes": 1},
}


def ensure_schedules(**kwargs) -> None:
    ensure_minute_schedules(SCHEDULES)
