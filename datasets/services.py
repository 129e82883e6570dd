"""Writes for datasets: creating, renaming and deleting datasets, storing images upright, labels
in class order."""

from __future__ import annotations

import hashlib
import io
import shutil
import unicodedata
import warnings
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import transaction
from django.db.models import Max

from annotations.formats.naming import clean_label, slugify

from .models import Dataset, Image, Label
from .signals import dataset_deleting
from .thumbnails import thumbnail_name

PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6",
           "#bfef45", "#469990", "#9a6324", "#800000", "#808000", "#000075", "#a9a9a9"]
ORIENTATION_TAG = 0x0112
MAX_PIXELS = 100_000_000  # the default of settings.NEXUS_MAX_IMAGE_PIXELS
NAME_LENGTH = Dataset._meta.get_field("name").max_length


class ImageRejected(ValueError):
    pass


# --- datasets -----------------------------------------------------------------------------------

def _clean_name(owner, name: str, exclude: int | None = None) -> str:
    name = unicodedata.normalize("NFC", name.strip())
    if not name:
        raise ValueError("A dataset needs a name.")
    if len(name) > NAME_LENGTH:
        raise ValueError(f"A dataset name can have at most {NAME_LENGTH} characters.")
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise ValueError("A dataset name cannot contain control characters.")
    if Dataset.objects.filter(owner=owner, name=name).exclude(pk=exclude).exists():
        raise ValueError(f"You already have a dataset called {name!r}.")
    return name


def dataset_create(*, owner, name: str) -> Dataset:
    name = _clean_name(owner, name)
    return Dataset.objects.create(owner=owner, name=name, slug=slugify(name))


def dataset_rename(*, dataset: Dataset, name: str) -> Dataset:
    dataset.name = _clean_name(dataset.owner, name, exclude=dataset.pk)
    dataset.slug = slugify(dataset.name)
    dataset.save(update_fields=["name", "slug"])
    return dataset


def dataset_delete(*, dataset: Dataset) -> None:
    """Delete the dataset and, once that is committed, its images, thumbnails, and whatever the
    other apps keep for it (export zips, import uploads) through `dataset_deleting`."""
    pk = dataset.pk
    names = [name for file, checksum in dataset.images.values_list("file", "checksum")
             for name in (file, thumbnail_name(Image(dataset_id=pk, checksum=checksum)))]
    cleanups = [c for _, c in dataset_deleting.send(sender=Dataset, dataset=dataset) if c]
    with transaction.atomic():
        Dataset.objects.filter(pk=pk).delete()
        transaction.on_commit(lambda: _remove_files(pk, names, cleanups))


def _remove_files(pk: int, names: list[str], cleanups: list) -> None:
    if isinstance(default_storage, FileSystemStorage):  # one folder each, on local disk
        for folder in (f"images/{pk}", f"thumbs/{pk}"):
            shutil.rmtree(Path(default_storage.path(folder)), ignore_errors=True)
    else:
        for name in names:
            default_storage.delete(name)
    for cleanup in cleanups:
        cleanup()


# --- labels -------------------------------------------------------------------------------------

def label_get_or_create(*, dataset: Dataset, name: str, color: str | None = None) -> Label:
    name = clean_label(name)
    label = Label.objects.filter(dataset=dataset, name=name).first()
    if label is not None:
        return label
    position = (dataset.labels.aggregate(m=Max("position"))["m"] or 0) + 1
    color = color or PALETTE[(position - 1) % len(PALETTE)]
    return Label.objects.create(dataset=dataset, name=name, color=color, position=position)


def label_ids_get_or_create(*, dataset: Dataset, names: list[str]) -> list[int]:
    """The ids of the labels `names`, as label_get_or_create gives them one by one (missing ones
    created in this order, each at the next position), in three queries whatever their number."""
    ids = dict(dataset.labels.values_list("name", "id"))
    position = dataset.labels.aggregate(m=Max("position"))["m"] or 0
    new: dict[str, Label] = {}
    for name in map(clean_label, names):
        if name not in ids and name not in new:
            position += 1
            new[name] = Label(dataset=dataset, name=name, position=position,
                              color=PALETTE[(position - 1) % len(PALETTE)])
    for label in Label.objects.bulk_create(new.values()):
        ids[label.name] = label.pk
    return [ids[clean_label(name)] for name in names]


# --- images -------------------------------------------------------------------------------------

def max_pixels() -> int:
    return getattr(settings, "NEXUS_MAX_IMAGE_PIXELS", MAX_PIXELS)


def upright(data: bytes, name: str) -> tuple[bytes, int, int, str]:
    """The image bytes stored upright (EXIF orientation applied, tag dropped), width, height,
    and the Pillow format name. Images already upright are stored byte for byte."""
    from PIL import Image as PILImage  # only where images are stored (~40 ms of start-up)
    from PIL import ImageOps

    limit = max_pixels()
    PILImage.MAX_IMAGE_PIXELS = limit
    try:
        with warnings.catch_warnings():
            # Pillow only warns between 1x and 2x its limit: a warning is a refusal here.
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
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
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning):
        raise ImageRejected(f"{name}: the image has more than {limit:,} pixels") from None
    except PILImage.UnidentifiedImageError:
        raise ImageRejected(f"{name}: not an image (JPEG, PNG, WebP, BMP, TIFF or GIF "
                            "expected)") from None
    except Exception as exc:  # Pillow raises many types for broken files
        raise ImageRejected(f"{name}: not a readable image ({exc})") from None


FORMAT_SUFFIXES = {"JPEG": (".jpg", ".jpeg", ".jpe"), "MPO": (".jpg", ".jpeg"),
                   "PNG": (".png",), "GIF": (".gif",), "BMP": (".bmp",), "WEBP": (".webp",),
                   "TIFF": (".tif", ".tiff")}


def _suffix(name: str, fmt: str) -> str:
    """The stored file's extension follows the decoded format, never the uploaded name alone:
    an image called `x.html` must not be served as HTML."""
    allowed = FORMAT_SUFFIXES.get(fmt, (f".{fmt.lower()}",))
    suffix = PurePosixPath(name).suffix.lower()
    return suffix if suffix in allowed else allowed[0]


def image_create(*, dataset: Dataset, name: str, data: bytes,
                 recorded_set: str = "") -> tuple[Image, bool]:
    """Store an image; returns (image, created). The same content twice is one image.
    `recorded_set` is the set folder (train, valid, test) the image was uploaded from."""
    stored, width, height, fmt = upright(data, name)
    checksum = hashlib.sha256(stored).hexdigest()
    existing = Image.objects.filter(dataset=dataset, checksum=checksum).first()
    if existing is not None:
        return existing, False
    suffix = _suffix(name, fmt)
    path = default_storage.save(f"images/{dataset.pk}/{checksum[:2]}/{checksum}{suffix}",
                                ContentFile(stored))
    with transaction.atomic():
        position = (dataset.images.aggregate(m=Max("position"))["m"] or 0) + 1
        image = Image.objects.create(dataset=dataset, file=path, original_name=name, width=width,
                                     height=height, checksum=checksum, position=position,
                                     recorded_set=recorded_set)
    return image, True
