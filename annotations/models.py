from __future__ import annotations

from django.db import models

from datasets.models import Image, Label


class Annotation(models.Model):
    class Kind(models.TextChoices):
        BOX = "box", "Box"
        POLYGON = "polygon", "Polygon"
        MASK = "mask", "Mask"
        KEYPOINTS = "keypoints", "Keypoints"
        TAG = "tag", "Class tag"

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="annotations")
    label = models.ForeignKey(Label, on_delete=models.CASCADE, related_name="annotations")
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
        indexes = [models.Index(fields=["image", "id"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.label_id} on image {self.image_id}"
