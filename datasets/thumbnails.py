"""Thumbnails, made once per image and size and kept beside the media files."""

from __future__ import annotations

import io

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from .models import Image

THUMB_SIZE = 320


def thumbnail_name(image: Image) -> str:
    return f"thumbs/{image.dataset_id}/{image.checksum}-{THUMB_SIZE}.jpg"


def ensure_thumbnail(image: Image) -> str:
    name = thumbnail_name(image)
    if default_storage.exists(name):
        return name
    from PIL import Image as PILImage  # only when a thumbnail is made, not at every start-up

    with default_storage.open(image.file.name, "rb") as source, PILImage.open(source) as picture:
        picture.thumbnail((THUMB_SIZE, THUMB_SIZE))
        buffer = io.BytesIO()
        picture.convert("RGB").save(buffer, format="JPEG", quality=82)
    return default_storage.save(name, ContentFile(buffer.getvalue()))
