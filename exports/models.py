from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from datasets.models import Dataset


class ExportJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        CANCELLED = "cancelled", "Cancelled"
        ERRORED = "errored", "Errored"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="export_jobs")
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="export_jobs")
    format = models.CharField(max_length=40)
    normalized = models.BooleanField(default=False)
    shuffle = models.BooleanField(default=False)
    seed = models.BigIntegerField(default=0)
    seed_given = models.BooleanField(default=False, help_text="The user chose the seed.")
    split_ratio = models.FloatField(default=0.0)
    include_images = models.BooleanField(default=True)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED,
                              db_index=True)
    progress_done = models.PositiveBigIntegerField(default=0)
    progress_total = models.PositiveBigIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)  # {"train": {"images", "annotations"}, ...}
    file_path = models.CharField(max_length=500, blank=True)
    file_name = models.CharField(max_length=255, blank=True)
    file_size = models.PositiveBigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    file_deleted_at = models.DateTimeField(null=True, blank=True)

    # The job row, not the broker, is the source of truth: a worker claims the job with a token,
    # every progress write is its heartbeat, and attempts count the workers that took it.
    attempts = models.PositiveSmallIntegerField(default=0)
    worker_token = models.CharField(max_length=40, blank=True)
    worker = models.CharField(max_length=200, blank=True, help_text="host:pid of the attempt")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    enqueues = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["dataset", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.format} export of {self.dataset_id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def percent(self) -> int:
        if self.status == self.Status.FINISHED:
            return 100
        if not self.progress_total:
            return 0
        return min(100, int(100 * self.progress_done / self.progress_total))
