"""The demo dataset: Pillow-drawn street scenes with every annotation kind, built idempotently.

Several sizes, one EXIF-rotated JPEG (stored upright at upload), one image with nothing on it, one
non-ASCII file name; boxes, polygons, one mask, keypoints on a skeleton and image-level tags.
"""

from __future__ import annotations

import io
import random

import numpy as np
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from PIL import Image as PILImage
from PIL import ImageDraw

from annotations.formats.families import rle
from annotations.formats.records import Annotation as Record
from annotations.formats.records import Keypoint
from annotations.mapping import annotation_fields
from annotations.models import Annotation
from datasets.models import Dataset, Skeleton
from datasets.services import dataset_create, image_create, label_get_or_create

DEMO_USER = "demo"
DEMO_PASSWORD = "nexus-demo"
DEMO_DATASET = "Street Scenes Demo"
SIZES = [(640, 480), (800, 600), (480, 640), (1024, 768), (320, 240), (640, 360)]
LABELS = [("car", "#e6194b"), ("traffic light", "#3cb44b"), ("person", "#4363d8"),
          ("puddle", "#42d4f4"), ("day", "#f58231"), ("night", "#911eb4")]
SKELETON_POINTS = ["head", "left_hand", "right_hand", "left_foot", "right_foot"]
SKELETON_LINKS = [[0, 1], [0, 2], [0, 3], [0, 4]]
SKELETON_FLIPS = [[1, 2], [3, 4]]
EMPTY_INDEX, ROTATED_INDEX, MASK_INDEX, NON_ASCII_INDEX = 4, 6, 2, 9
IMAGE_COUNT = 12


def ensure_demo() -> tuple[bool, Dataset]:
    """Create the demo user and dataset unless they exist; returns (created, dataset)."""
    user_model = get_user_model()
    user = user_model.objects.filter(username=DEMO_USER).first()
    if user is None:
        user = user_model.objects.create_user(DEMO_USER, password=DEMO_PASSWORD)
    existing = Dataset.objects.filter(owner=user, name=DEMO_DATASET).first()
    if existing is not None:
        return False, existing
    with transaction.atomic():
        dataset = build_demo_dataset(user)
    return True, dataset


def build_demo_dataset(owner) -> Dataset:
    dataset = dataset_create(owner=owner, name=DEMO_DATASET)
    labels = {name: label_get_or_create(dataset=dataset, name=name, color=color)
              for name, color in LABELS}
    Skeleton.objects.create(dataset=dataset, label=labels["person"], name="person",
                            keypoints=SKELETON_POINTS, connections=SKELETON_LINKS,
                            flip_pairs=SKELETON_FLIPS)
    rng = random.Random(42)
    rows = []
    for index in range(IMAGE_COUNT):
        width, height = SIZES[index % len(SIZES)]
        records = [] if index == EMPTY_INDEX else _scene_records(rng, index, width, height)
        name, data = _draw(index, width, height, records)
        image, _ = image_create(dataset=dataset, name=name, data=data)
        rows += [Annotation(image=image, label=labels[r.label], **annotation_fields(r))
                 for r in records]
    Annotation.objects.bulk_create(rows)
    Dataset.objects.filter(pk=dataset.pk).update(annotations_version=F("annotations_version") + 1)
    return dataset


def _scene_records(rng: random.Random, index: int, width: int, height: int) -> list[Record]:
    records = []
    for _ in range(rng.randint(1, 3)):
        w, h = rng.randint(width // 8, width // 4), rng.randint(height // 10, height // 6)
        x, y = rng.randint(0, width - w), rng.randint(height // 2, height - h)
        records.append(Record("car", "box", box=(float(x), float(y), float(x + w), float(y + h))))
    if index == 0:  # a car cut by the image edge: clamped boxes touch the border
        records.append(Record("car", "box", box=(float(width - 60), float(height - 40),
                                                 float(width), float(height))))
    px, py = rng.randint(20, width - 60), rng.randint(20, height // 3)
    ring = [px, py, px + 24, py, px + 24, py + 60, px + 12, py + 70, px, py + 60]
    records.append(Record("traffic light", "polygon", polygon=[[float(v) for v in ring]]))
    records.append(_person(rng, width, height))
    if index == MASK_INDEX:
        records.append(_puddle(width, height))
    records.append(Record("day" if index % 3 else "night", "tag"))
    return records


def _person(rng: random.Random, width: int, height: int) -> Record:
    cx, top = rng.randint(60, width - 60), rng.randint(20, height // 3)
    points = [Keypoint(cx, top, 2), Keypoint(cx - 30, top + 50, 2), Keypoint(cx + 30, top + 50, 1),
              Keypoint(cx - 15, top + 110, 2), Keypoint(cx + 15, top + 110, 0)]
    points = [Keypoint(float(p.x), float(p.y), p.visibility) for p in points]
    return Record("person", "keypoints", keypoints=points)


def _puddle(width: int, height: int) -> Record:
    yy, xx = np.mgrid[0:height, 0:width]
    cx, cy, rx, ry = width * 0.3, height * 0.8, width * 0.12, height * 0.06
    grid = (((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1).astype(np.uint8)
    return Record("puddle", "mask", mask=rle.encode(grid))


def _draw(index: int, width: int, height: int, records: list[Record]) -> tuple[str, bytes]:
    night = any(r.kind == "tag" and r.label == "night" for r in records)
    canvas = PILImage.new("RGB", (width, height), (25, 30, 60) if night else (135, 190, 235))
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((0, height // 2, width, height), fill=(70, 70, 75))
    colours = {"car": (200, 40, 40), "traffic light": (40, 160, 60), "person": (250, 220, 180)}
    for record in records:
        if record.kind == "box":
            draw.rectangle(record.box, fill=colours["car"])
        elif record.kind == "polygon":
            draw.polygon(record.polygon[0], fill=colours["traffic light"])
        elif record.kind == "mask":
            mask = PILImage.fromarray(rle.decode(record.mask) * 255)
            canvas.paste((60, 120, 200), mask=mask)
        elif record.kind == "keypoints":
            pts = [(p.x, p.y) for p in record.keypoints]
            for a, b in SKELETON_LINKS:
                draw.line((pts[a], pts[b]), fill=colours["person"], width=4)
    name = f"scene_{index:02d}.jpg"
    if index == NON_ASCII_INDEX:
        name = "straße_café.jpg"
    if index % 5 == 3:
        name = f"scene_{index:02d}.png"
    return name, _encode(canvas, name, rotated=index == ROTATED_INDEX)


def _encode(canvas: PILImage.Image, name: str, rotated: bool) -> bytes:
    buffer = io.BytesIO()
    if name.endswith(".png"):
        canvas.save(buffer, format="PNG")
        return buffer.getvalue()
    if rotated:
        # Stored sideways with EXIF orientation 6 ("rotate 90° clockwise to display"), as phones
        # write them; upload turns the pixels upright, so the annotations above stay right.
        exif = PILImage.Exif()
        exif[0x0112] = 6
        canvas.transpose(PILImage.Transpose.ROTATE_90).save(buffer, format="JPEG", quality=90,
                                                             exif=exif.tobytes())
        return buffer.getvalue()
    canvas.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()
