"""Create or update django-q2 schedules by name, so running migrate again changes nothing."""

from __future__ import annotations


def ensure_minute_schedules(schedules: dict[str, dict]) -> None:
    """`{"name": {"func": "app.tasks.f", "minutes": 5}}` -> repeating schedules. The cluster's
    catch_up=False means no storm of missed runs after downtime."""
    from django_q.models import Schedule

    for name, spec in schedules.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={"func": spec["func"], "schedule_type": Schedule.MINUTES,
                      "minutes": spec["minutes"], "repeats": -1},
        )
