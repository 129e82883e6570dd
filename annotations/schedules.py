"""The import app's scheduled task, created idempotently after every migrate."""

from __future__ import annotations

SCHEDULES = {
    "nexus: reap stalled import jobs": {"func": "annotations.tasks.reap_imports", "minutes": 1},
}


def ensure_schedules(**kwargs) -> None:
    from django_q.models import Schedule

    for name, spec in SCHEDULES.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={"func": spec["func"], "schedule_type": Schedule.MINUTES,
                      "minutes": spec["minutes"], "repeats": -1},
        )
