from __future__ import annotations

from django.conf import settings
from django.db import models


class Dataset(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="datasets")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220)
    created = models.DateTimeField(auto_now_add=True)
    # Bumped whenever annotations are written, so that caches of them know they are stale.
    annotations_version = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return self.name


class Image(models.Model):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="images")
    file = models.FileField(max_length=500)
    original_name = models.CharField(max_length=255)
    # The displayed size: EXIF orientation is applied (and the pixels stored upright) at upload.
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    checksum = models.CharField(max_length=64)
    position = models.PositiveIntegerField(help_text="Upload order within the dataset.")
    # The set (train, valid, test) of the uploaded dataset this image came in, if it had sets:
    # the export's `keep` split mode puts it back there.
    recorded_set = models.CharField(max_length=5, blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "checksum"], name="image_unique_content"),
        ]
        indexes = [models.Index(fields=["dataset", "position"])]

    def __str__(self) -> str:
        return self.original_name


class Label(models.Model):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(max_length=100)
    color = models.CharField(max_length=7, default="#e6194b")
    position = models.PositiveIntegerField(help_text="The dataset's one class order.")

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "name"], name="label_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def rgb(self) -> tuple[int, int, int]:
        value = self.color.lstrip("#")
        return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


class Skeleton(models.Model):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="skeletons")
    label = models.OneToOneField(Label, on_delete=models.CASCADE, related_name="skeleton")
    name = models.CharField(max_length=100, blank=True)
    keypoints = models.JSONField(default=list)  # point names
    connections = models.JSONField(default=list)  # [[i, j], ...] 0-based
    flip_pairs = models.JSONField(default=list)  # [[i, j], ...] 0-based

    def __str__(self) -> str:
        return self.name or self.label.name
