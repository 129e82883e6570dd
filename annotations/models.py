from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from datasets.models import Dataset, Image, Label
from jobs.models import BackgroundJob, JobStatus


class Annotation(models.Model):
    class Kind(models.TextChoices):
        BOX = "box", "Box"
        POLYGON = "polygon", "Polygon"
        MASK = "mask", "Mask"
        KEYPOINTS = "keypoints", "Keypoints"
        TAG = "tag", "Class tag"

    # No single-column indexes: the (image, id) and (label, kind) ones below serve those lookups
    # too, and every index is paid for on each of an import's million inserts.
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="annotations",
                              db_index=False)
    label = models.ForeignKey(Label, on_delete=models.CASCADE, related_name="annotations",
                              db_index=False)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # The tight box in absolute pixels, kept for every geometric kind (null for class tags).
    # Columns are prefixed: PostgreSQL reserves xmin and xmax as system columns.
    xmin = models.FloatField(null=True, db_column="box_xmin")
    ymin = models.FloatField(null=True, db_column="box_ymin")
    xmax = models.FloatField(null=True, db_column="box_xmax")
    ymax = models.FloatField(null=True, db_column="box_ymax")
    # polygon: {"rings": [[x1, y1, ...], ...]}; mask: {"size": [h, w], "counts": "<RLE>"};
    # keypoints: {"points": [[x, y, v], ...]}; box and tag: null.
    geometry = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["image_id", "id"]
        # (label, kind) serves the per-label counts of the Annotations tab and the export popup.
        indexes = [models.Index(fields=["image", "id"]), models.Index(fields=["label", "kind"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.label_id} on image {self.image_id}"


class ImportJob(BackgroundJob):
    """An annotation upload: analysed (in the web request when small, else by the worker), then
    waiting for the user to review the preview, then imported by the worker in one transaction.

    The phase says which step the job's status is about: `analyse` (queued/running/errored),
    `review` (status finished: the preview is ready and waits for Confirm or Discard), `import`
    (queued/running, then finished with counts, or errored: nothing written)."""

    TASK, TASK_PREFIX, TASK_GROUP = "annotations.tasks.run_import", "import", "imports"

    class Phase(models.TextChoices):
        ANALYSE = "analyse", "Analysing"
        REVIEW = "review", "Awaiting confirmation"
        IMPORT = "import", "Importing"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="import_jobs")
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="import_jobs")
    phase = models.CharField(max_length=10, choices=Phase.choices, default=Phase.ANALYSE)
    upload_id = models.CharField(max_length=64, help_text="The upload's folder (datasets.uploads)")
    original_name = models.CharField(max_length=255)
    upload_size = models.PositiveBigIntegerField(default=0)
    format = models.CharField(max_length=40, blank=True, help_text="Chosen; blank: detect")
    detected_format = models.CharField(max_length=40, blank=True)
    report = models.JSONField(default=dict, blank=True)  # the preview (importing.analyse_source)
    counts = models.JSONField(default=dict, blank=True)  # what the import wrote
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["dataset", "-created_at"])]

    def __str__(self) -> str:
        return f"import of {self.original_name} into {self.dataset_id} ({self.phase})"

    @property
    def awaiting_review(self) -> bool:
        return self.phase == self.Phase.REVIEW and self.status == JobStatus.FINISHED

    @property
    def state(self) -> str:
        """One word for the jobs list: the status as the user should read it."""
        if self.status in (JobStatus.ERRORED, JobStatus.CANCELLED, JobStatus.QUEUED):
            return self.get_status_display()
        if self.phase == self.Phase.ANALYSE:
            return "Analysing"
        if self.phase == self.Phase.REVIEW:
            return "Ready to review"
        return "Importing" if self.status == JobStatus.RUNNING else "Imported"
