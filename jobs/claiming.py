"""Claim, heartbeat and cancel for any BackgroundJob model, with conditional UPDATEs only.

A task claims its job in one UPDATE (queued, or running with a stale heartbeat) that bumps the
attempt counter and records a fresh token; a task that cannot claim does nothing. Later writes are
conditional on that token, so a worker that lost its job (cancelled, or taken over after it went
quiet) notices at its next progress write and stops.
"""

from __future__ import annotations

import os
import socket
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import BackgroundJob, JobStatus


class Deferred(Exception):
    """The owner already has the maximum number of jobs of this kind running."""


class Cancelled(Exception):
    """The job is no longer this attempt's: cancelled, or taken over by another worker."""


def stale_before() -> timezone.datetime:
    return timezone.now() - timedelta(seconds=settings.NEXUS_HEARTBEAT_STALE_SECONDS)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def claim(model: type[BackgroundJob], pk, token: str, *,
          running_limit: int | None = None) -> BackgroundJob | None:
    """The claimed job, None when it cannot be claimed; raises Deferred at the owner's limit
    (the job stays queued with no broker message until `release_next` or the reaper)."""
    now, stale = timezone.now(), stale_before()
    with transaction.atomic():
        owner_id = model.objects.filter(pk=pk).values_list("owner_id", flat=True).first()
        if owner_id is None:
            return None
        claimable = model.objects.filter(pk=pk).filter(
            Q(status=JobStatus.QUEUED) | Q(status=JobStatus.RUNNING, heartbeat_at__lt=stale))
        if running_limit is not None:
            from django.contrib.auth import get_user_model

            get_user_model().objects.select_for_update().filter(pk=owner_id).first()
            running = (model.objects.filter(owner_id=owner_id, status=JobStatus.RUNNING,
                                            heartbeat_at__gte=stale).exclude(pk=pk).count())
            if running >= running_limit:
                if claimable.filter(status=JobStatus.QUEUED).update(enqueued_at=None):
                    raise Deferred()
                return None
        claimed = claimable.update(status=JobStatus.RUNNING, attempts=F("attempts") + 1,
                                   worker_token=token, worker=worker_name(), heartbeat_at=now,
                                   progress_done=0, started_at=Coalesce("started_at", Value(now)))
    return model.objects.get(pk=pk) if claimed else None


def owned(job: BackgroundJob, token: str) -> QuerySet:
    """The job's row, as long as this attempt still holds it."""
    return type(job).objects.filter(pk=job.pk, worker_token=token, status=JobStatus.RUNNING)


def too_many_attempts_message(attempts: int, doing: str) -> str:
    return f"the worker stopped {attempts} times while {doing}"


class ProgressWriter:
    """Writes progress at most once per interval; each write is the heartbeat and cancel check."""

    def __init__(self, job: BackgroundJob, token: str) -> None:
        self.job, self.token = job, token
        self.interval = settings.NEXUS_PROGRESS_INTERVAL
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.last < self.interval:
            return
        self.last = now
        if not owned(self.job, self.token).update(progress_done=done, progress_total=total,
                                                  heartbeat_at=timezone.now()):
            raise Cancelled()


def cancel(job: BackgroundJob) -> bool:
    """Cancel a queued or running job; a running attempt notices at its next progress write."""
    return bool(type(job).objects.filter(pk=job.pk, status__in=BackgroundJob.ACTIVE).update(
        status=JobStatus.CANCELLED, finished_at=timezone.now(), error=""))
