"""The scheduled tasks, created idempotently after every migrate."""

from __future__ import annotations

SCHEDULES = {
    "nexus: delete expired exports": {"func": "exports.tasks.delete_expired_exports",
                                      "minutes": 5},
    "nexus: reap stalled export jobs": {"func": "exports.tasks.reap_jobs", "minutes": 1},
}


def ensure_schedules(**kwargs) -> None:
    from django_q.models import Schedule

    for name, spec in SCHEDULES.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={"func": spec["func"], "schedule_type": Schedule.MINUTES,
                      "minutes": spec["minutes"], "repeats": -1},
        )
