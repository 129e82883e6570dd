"""The canonical record set every registered format is round-tripped with.

Every annotation kind, an image with nothing, a label with a space and one non-ASCII label, boxes
touching every image edge, a file name with a space and one non-ASCII, a mask and a skeleton.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import UTC, datetime

import numpy as np
from PIL import Image, ImageDraw

from annotations.formats import registry
from annotations.formats.families import rle
from annotations.formats.labels import class_plan, count_label_kinds, image_classes
from annotations.formats.options import ExportOptions
from annotations.formats.pipeline import ExportRequest, export_zip, order_and_split
from annotations.formats.records import Annotation, ImageRecord, Keypoint, Label, Skeleton

LABELS = [
    Label("car", (230, 25, 75)),
    Label("traffic light", (60, 180, 75)),
    Label("café", (0, 130, 200)),
    Label("person", (245, 130, 48)),
]
SKELETONS = [Skeleton(label="person", keypoints=["head", "left_hand", "right_hand"],
                      connections=[(0, 1), (0, 2)], flip_pairs=[(1, 2)])]
# Each family's default class list (FORMATS.md §1): a label whose annotations are all of kinds
# the family does not take is not one of its classes.
CLASSES = {
    "boxes": ["car", "traffic light", "café", "person"],
    "polygons": ["car", "traffic light", "café"],
    "classification": ["car", "café", "person"],
    "keypoints": ["person"],
}
CREATED_AT = datetime(2026, 11, 25, 12, 30, 5, tzinfo=UTC)


def _mask(width: int, height: int) -> object:
    grid = np.zeros((height, width), dtype=np.uint8)
    grid[50:90, 100:170] = 1
    grid[60:70, 120:130] = 0  # a hole, which polygons cannot hold but masks can
    return rle.encode(grid)


def canonical_images() -> list[ImageRecord]:
    street = ImageRecord(file_name="street.jpg", width=640, height=480, id=1, ref="street.jpg",
                         annotations=[
        Annotation("car", "box", box=(10.0, 20.0, 110.5, 220.25)),
        Annotation("car", "box", box=(0.0, 0.0, 50.0, 40.0)),  # touches left and top
        Annotation("traffic light", "box", box=(600.0, 440.0, 640.0, 480.0)),  # right, bottom
        Annotation("traffic light", "polygon", polygon=[[300.0, 100.0, 340.0, 100.0, 320.0, 160.0]],
                   box=(300.0, 100.0, 340.0, 160.0)),
        Annotation("person", "keypoints", box=(400.0, 200.0, 460.0, 300.0), keypoints=[
            Keypoint(430.0, 200.0, 2), Keypoint(400.0, 300.0, 1), Keypoint(0.0, 0.0, 0)]),
        Annotation("car", "tag"),
    ])
    mask = _mask(320, 240)
    plaza = ImageRecord(file_name="Bild ü.png", width=320, height=240, id=2, ref="Bild ü.png",
                        annotations=[
        Annotation("café", "mask", mask=mask, box=rle.rle_box(mask)),
        Annotation("person", "keypoints", box=(20.0, 30.0, 80.0, 200.0), keypoints=[
            Keypoint(50.0, 30.0, 2), Keypoint(20.0, 120.0, 2), Keypoint(80.0, 200.0, 2)]),
        Annotation("café", "tag"),
        Annotation("person", "tag"),
    ])
    empty = ImageRecord(file_name="empty.jpg", width=100, height=80, id=3, ref="empty.jpg")
    return [street, plaza, empty]


def image_bytes(record: ImageRecord) -> bytes:
    canvas = Image.new("RGB", (record.width, record.height), (90, 120, 150))
    ImageDraw.Draw(canvas).rectangle((5, 5, record.width // 2, record.height // 2),
                                     fill=(200, 180, 40))
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG" if record.file_name.endswith(".png") else "JPEG", quality=90)
    return buffer.getvalue()


def image_store() -> dict[str, bytes]:
    return {image.ref: image_bytes(image) for image in canonical_images()}


def image_sizes() -> dict[str, tuple[int, int]]:
    return {image.file_name: (image.width, image.height) for image in canonical_images()}


def export_canonical(format_id: str, target: str, *, normalized: bool = False,
                     split_ratio: float = 0.0, shuffle: bool = False, seed: int = 0,
                     include_images: bool = False, images: list[ImageRecord] | None = None,
                     dataset_labels: list[Label] | None = None, **more_options):
    """Export the canonical set (or `images`) to `target` through the real pipeline;
    `more_options` are further ExportOptions fields (valid_ratio, split_mode, labels, ...)."""
    images = images if images is not None else canonical_images()
    store = {image.ref: image_bytes(image) for image in images}
    for image in images:
        image.sha256 = hashlib.sha256(store[image.ref]).hexdigest()
    options = ExportOptions(normalized=normalized, shuffle=shuffle, seed=seed,
                            split_ratio=split_ratio, include_images=include_images,
                            **more_options)
    labels = dataset_labels if dataset_labels is not None else LABELS
    spec = registry.get_spec(format_id)
    plan = class_plan(labels, count_label_kinds(images), spec, options)
    by_id = {image.id: image for image in images}
    split = order_and_split([i.id for i in images], options,
                            classes=image_classes(images, plan, spec.family),
                            hashes={image.id: image.sha256 for image in images})
    sets = {name: [by_id[i] for i in ids] for name, ids in split.items()}
    request = ExportRequest(format_id=format_id, dataset_id=1, dataset_name="Canonical Set",
                            created_at=CREATED_AT, options=options, labels=labels,
                            skeletons=SKELETONS, sets=sets, total_images=len(images))
    return export_zip(request, target, image_loader=lambda ref: io.BytesIO(store[ref]))


def zip_members(path: str) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}
