"""The fields every background job (export, import) shares. The job row, not the broker, is the
source of truth: a worker claims the job with a token, every progress write is its heartbeat and
its cancel check, and attempts count the workers that took it."""

from __future__ import annotations

from django.db import models


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    FINISHED = "finished", "Finished"
    CANCELLED = "cancelled", "Cancelled"
    ERRORED = "errored", "Errored"


class BackgroundJob(models.Model):
    Status = JobStatus
    ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
    ENDED = (JobStatus.FINISHED, JobStatus.CANCELLED, JobStatus.ERRORED)
    # The worker task that runs the job, and its broker task names (see jobs/queue.py).
    TASK: str
    TASK_PREFIX: str
    TASK_GROUP: str

    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED,
                              db_index=True)
    progress_done = models.PositiveBigIntegerField(default=0)
    progress_total = models.PositiveBigIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    worker_token = models.CharField(max_length=40, blank=True)
    worker = models.CharField(max_length=200, blank=True, help_text="host:pid of the attempt")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    enqueues = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def percent(self) -> int:
        if self.status == JobStatus.FINISHED:
            return 100
        if not self.progress_total:
            return 0
        return min(100, int(100 * self.progress_done / self.progress_total))
