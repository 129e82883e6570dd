"""Putting a job's message on the broker: one path for exports and imports.

Each job model names its worker task (`TASK`, a dotted path), the prefix of its broker task
names (`TASK_PREFIX`, so the reaper can tell whether a job's message is pending) and its group.
The job row records each enqueue, so a job queued with no message (deferred by the per-user
limit) is told apart from one whose message is on its way."""

from __future__ import annotations

from django.db.models import F
from django.utils import timezone

from .models import BackgroundJob


def task_name(model: type[BackgroundJob], job_id: object) -> str:
    return f"{model.TASK_PREFIX}-{job_id}"


def enqueue(model: type[BackgroundJob], job_id: object) -> None:
    from django_q.tasks import async_task  # django-q2 loads its broker on import: only when used

    model.objects.filter(pk=job_id).update(enqueued_at=timezone.now(),
                                           enqueues=F("enqueues") + 1)
    async_task(model.TASK, str(job_id), task_name=task_name(model, job_id),
               group=model.TASK_GROUP)
