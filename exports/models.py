from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from annotations.formats.options import ExportOptions
from datasets.models import Dataset
from jobs.models import BackgroundJob


def default_options() -> dict:
    """A job made without options (in the shell, in tests) exports with the defaults, seed 0."""
    return ExportOptions(seed=0).as_json()


class ExportJob(BackgroundJob):
    TASK, TASK_PREFIX, TASK_GROUP = "exports.tasks.run_export", "export", "exports"
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="export_jobs")
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="export_jobs")
    format = models.CharField(max_length=40)
    # ExportOptions.as_json(), with the seed recorded: {"normalized", "shuffle", "seed", ...}
    options = models.JSONField(default=default_options)
    seed_given = models.BooleanField(default=False, help_text="The user chose the seed.")

    counts = models.JSONField(default=dict, blank=True)  # {"train": {"images", "annotations"}, ...}
    file_path = models.CharField(max_length=500, blank=True)
    file_name = models.CharField(max_length=255, blank=True)
    file_size = models.PositiveBigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    file_deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["dataset", "-created_at"])]

    @property
    def export_options(self) -> ExportOptions:
        return ExportOptions.from_json(self.options)

    def __str__(self) -> str:
        return f"{self.format} export of {self.dataset_id} ({self.status})"
