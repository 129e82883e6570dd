"""Writes for datasets: creating datasets, storing images upright, labels in class order."""

from __future__ import annotations

import hashlib
import io
from pathlib import PurePosixPath

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max
from PIL import Image as PILImage
from PIL import ImageOps

from annotations.formats.naming import clean_label, slugify

from .models import Dataset, Image, Label

PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6",
           "#bfef45", "#469990", "#9a6324", "#800000", "#808000", "#000075", "#a9a9a9"]
ORIENTATION_TAG = 0x0112
MAX_PIXELS = 100_000_000


class ImageRejected(ValueError):
    pass


def dataset_create(*, owner, name: str) -> Dataset:
    name = name.strip()
    if not name:
        raise ValueError("A dataset needs a name.")
    return Dataset.objects.create(owner=owner, name=name, slug=slugify(name))


def label_get_or_create(*, dataset: Dataset, name: str, color: str | None = None) -> Label:
    name = clean_label(name)
    label = Label.objects.filter(dataset=dataset, name=name).first()
    if label is not None:
        return label
    position = (dataset.labels.aggregate(m=Max("position"))["m"] or 0) + 1
    color = color or PALETTE[(position - 1) % len(PALETTE)]
    return Label.objects.create(dataset=dataset, name=name, color=color, position=position)


def upright(data: bytes, name: str) -> tuple[bytes, int, int, str]:
    """The image bytes stored upright (EXIF orientation applied, tag dropped), width, height,
    and the Pillow format name. Images already upright are stored byte for byte."""
    PILImage.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with PILImage.open(io.BytesIO(data)) as probe:
            probe.verify()
        with PILImage.open(io.BytesIO(data)) as image:
            fmt = image.format or "PNG"
            orientation = image.getexif().get(ORIENTATION_TAG, 1)
            if orientation in (1, None):
                return data, image.width, image.height, fmt
            rotated = ImageOps.exif_transpose(image)
            exif = rotated.getexif()
            exif.pop(ORIENTATION_TAG, None)
            buffer = io.BytesIO()
            save = {"quality": 95} if fmt == "JPEG" else {}
            rotated.save(buffer, format=fmt, exif=exif.tobytes(), **save)
            return buffer.getvalue(), rotated.width, rotated.height, fmt
    except PILImage.DecompressionBombError:
        raise ImageRejected(f"{name}: the image has more than {MAX_PIXELS:,} pixels") from None
    except Exception as exc:  # Pillow raises many types for broken files
        raise ImageRejected(f"{name}: not a readable image ({exc})") from None


def image_create(*, dataset: Dataset, name: str, data: bytes) -> tuple[Image, bool]:
    """Store an image; returns (image, created). The same content twice is one image."""
    stored, width, height, fmt = upright(data, name)
    checksum = hashlib.sha256(stored).hexdigest()
    existing = Image.objects.filter(dataset=dataset, checksum=checksum).first()
    if existing is not None:
        return existing, False
    suffix = PurePosixPath(name).suffix.lower() or f".{fmt.lower()}"
    path = default_storage.save(f"images/{dataset.pk}/{checksum[:2]}/{checksum}{suffix}",
                                ContentFile(stored))
    with transaction.atomic():
        position = (dataset.images.aggregate(m=Max("position"))["m"] or 0) + 1
        image = Image.objects.create(dataset=dataset, file=path, original_name=name, width=width,
                                     height=height, checksum=checksum, position=position)
    return image, True
