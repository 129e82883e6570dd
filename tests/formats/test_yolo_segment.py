"""YOLO Segmentation (Ultralytics `task=segment`): what `manage.py export_annotations` writes
(FORMATS.md §4), what the reader refuses, Ultralytics' own layout on upload, and a round trip
through the browser upload."""

from __future__ import annotations

import re

import numpy as np
import pytest

from annotations.formats.builtin import yolo_segment
from annotations.formats.errors import FormatError
from annotations.formats.families import rle
from annotations.formats.records import Annotation as Record
from annotations.formats.spec import ReadContext
from annotations.models import Annotation
from datasets.models import Image

from ..uploads.conftest import image_bytes, upload_dir  # noqa: F401 (upload_dir: autouse)
from ..uploads.test_outside_world import copy_of, import_files
from .helpers import memory
from .ultralytics_reference import merge_multi_segment
from .yolo_exports import add, data_yaml, exported, label_lines, pixel_pairs

BOX = (10.0, 20.0, 110.5, 220.25)
TRIANGLE = [300.0, 100.0, 340.0, 100.0, 320.0, 160.0]
TWO_PARTS = [[400.0, 300.0, 450.0, 300.0, 450.0, 350.0, 400.0, 350.0],
             [500.0, 310.0, 560.0, 310.0, 530.0, 380.0]]
# The mask's two regions as rectangles (x0, y0, x1, y1); the first has a hole.
REGIONS = [(100, 50, 170, 90), (20, 150, 40, 160)]
HOLE = (120, 60, 130, 70)
CLASSES = ["car", "lake", "puddle"]
NUMBER = re.compile(r"^\d\.\d{6}$")


def corners(x0: float, y0: float, x1: float, y1: float) -> list[float]:
    """A rectangle's outline, clockwise on screen from its top-left corner."""
    return [x0, y0, x1, y0, x1, y1, x0, y1]


def puddle_mask() -> np.ndarray:
    grid = np.zeros((240, 320), dtype=np.uint8)
    for x0, y0, x1, y1 in REGIONS:
        grid[y0:y1, x0:x1] = 1
    x0, y0, x1, y1 = HOLE
    grid[y0:y1, x0:x1] = 0
    return grid


@pytest.fixture
def shapes(dataset):
    """street.jpg (640x480): a box, a polygon, a polygon of two parts; plaza.png (320x240): a
    mask of two regions; empty.jpg: nothing."""
    street = Image.objects.get(dataset=dataset, original_name="street.jpg")
    plaza = Image.objects.get(dataset=dataset, original_name="plaza.png")
    add(street, Record("car", "box", box=BOX))
    add(street, Record("lake", "polygon", polygon=[TRIANGLE]))
    add(street, Record("lake", "polygon", polygon=TWO_PARTS))
    add(plaza, Record("puddle", "mask", mask=rle.encode(puddle_mask())))
    return dataset


def fractions(values: list[float], width: int, height: int) -> list[str]:
    return [f"{v / (width if i % 2 == 0 else height):.6f}" for i, v in enumerate(values)]


# --- what the export writes ---------------------------------------------------------------------

def test_each_shape_is_one_line_of_six_decimal_fractions(shapes, tmp_path):
    members = exported(shapes, tmp_path, "yolo_segment")
    street = label_lines(members, "train/labels/street.txt")
    assert len(street) == 3
    for fields in street + label_lines(members, "train/labels/plaza.txt"):
        assert fields[0].isdigit() and int(fields[0]) < len(CLASSES)
        assert len(fields) >= 7 and len(fields) % 2 == 1  # a class and at least 3 x y pairs
        assert all(NUMBER.match(v) and 0.0 <= float(v) <= 1.0 for v in fields[1:])
    assert members["train/labels/empty.txt"] == b""
    assert members["train/classes.txt"].decode() == "".join(f"{n}\n" for n in CLASSES)


def test_a_box_is_a_four_vertex_rectangle_and_a_polygon_keeps_its_vertices(shapes, tmp_path):
    lines = label_lines(exported(shapes, tmp_path, "yolo_segment"), "train/labels/street.txt")
    boxes = [f for f in lines if f[0] == "0"]
    assert len(boxes) == 1 and len(boxes[0]) == 9
    x0, y0, x1, y1 = BOX
    written = sorted(pixel_pairs([float(v) for v in boxes[0][1:]], 640, 480))
    expected = sorted([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
    assert [v for pair in written for v in pair] == pytest.approx(  # 6 decimals: < 0.001 px
        [v for pair in expected for v in pair], abs=1e-3)
    lakes = [f[1:] for f in lines if f[0] == "1"]
    assert fractions(TRIANGLE, 640, 480) in lakes


def test_a_shape_of_two_parts_is_one_line_joined_as_ultralytics_joins_them(shapes, tmp_path):
    lines = label_lines(exported(shapes, tmp_path, "yolo_segment"), "train/labels/street.txt")
    joined = merge_multi_segment(TWO_PARTS)
    assert len(joined) == sum(len(part) + 2 for part in TWO_PARTS)  # each part closed
    assert fractions(joined, 640, 480) in [f[1:] for f in lines if f[0] == "1"]


def test_a_mask_is_the_outer_contour_of_each_region_joined_in_one_line(shapes, tmp_path):
    members = exported(shapes, tmp_path, "yolo_segment")
    (line,) = label_lines(members, "train/labels/plaza.txt")
    # The hole is not written; each region is its rectangle's four pixel corners.
    expected = merge_multi_segment([corners(*region) for region in REGIONS])
    assert line == ["2", *fractions(expected, 320, 240)]


@pytest.mark.parametrize("args, sets", [
    ((), {"train": "train/images", "val": "train/images"}),
    (("--split", "0.5"), {"train": "train/images", "val": "test/images"}),
    (("--split", "0.34", "--valid", "0.33"),
     {"train": "train/images", "val": "valid/images", "test": "test/images"}),
])
def test_data_yaml_names_the_classes_and_the_sets_written(shapes, tmp_path, args, sets):
    members = exported(shapes, tmp_path, "yolo_segment", *args)
    document = data_yaml(members)
    assert document == {"names": CLASSES, "nc": 3, **sets}
    for folder in {path.split("/")[0] for path in sets.values()}:
        assert members[f"{folder}/classes.txt"].decode().splitlines() == CLASSES
        assert any(name.startswith(f"{folder}/images/") for name in members)


# --- what the reader refuses --------------------------------------------------------------------

def read(files: dict[str, str]):
    return yolo_segment.read(memory(files), ReadContext(image_sizes={"a.jpg": (200, 100)}))


@pytest.mark.parametrize("line, message", [
    ("0 0.1 0.1 0.2 0.2 0.3 0.3 0.4",
     "labels/a.txt line 2: expected a class id and at least 3 x y pairs, got 7 numbers"),
    ("0 0.1 0.1 0.2 0.2 0.3",
     "labels/a.txt line 2: expected a class id and at least 3 x y pairs, got 5 numbers"),
    ("0 0.1 0.1 0.2 x 0.3 0.3",
     "labels/a.txt line 2: expected a class id and coordinates"),
    ("1 0.1 0.1 0.2 0.2 0.3 0.3",
     "labels/a.txt line 2: class id 1 is not in the class list (1 classes)"),
    ("0 0.1 0.1 0.2 nan 0.3 0.3", "labels/a.txt line 2: NaN or infinite coordinate"),
    ("0 0.1 inf 0.2 0.2 0.3 0.3", "labels/a.txt line 2: NaN or infinite coordinate"),
    ("0 0.1 0.1 -inf 0.2 0.3 0.3", "labels/a.txt line 2: NaN or infinite coordinate"),
    ("0 inf 0.1 -inf 0.2 0.3 0.3", "labels/a.txt line 2: NaN or infinite coordinate"),
])
def test_bad_lines_are_refused_with_the_file_and_line(line, message):
    with pytest.raises(FormatError) as error:
        read({"classes.txt": "lake\n", "labels/a.txt": f"0 0.1 0.1 0.9 0.1 0.5 0.9\n{line}\n"})
    assert str(error.value) == message


def test_huge_finite_coordinates_are_not_taken_for_infinite_ones():
    # Their sum overflows to infinity; each value is still a number (pixels, clamped on import).
    result = read({"classes.txt": "lake\n", "labels/a.txt": "0 1e308 1e308 1e308 10 80 90\n"})
    assert result.images[0].annotations[0].polygon == [[1e308, 1e308, 1e308, 10, 80, 90]]


def test_coordinates_above_one_are_read_as_pixels_not_refused():
    result = read({"classes.txt": "lake\n", "labels/a.txt": "0 10 10 150 10 80 90\n"})
    assert result.images[0].annotations[0].polygon == [[10, 10, 150, 10, 80, 90]]


def test_fractions_a_float_error_above_one_are_still_fractions():
    # Another tool's 1.0000001 must not turn every shape of the set into pixel coordinates.
    result = read({"classes.txt": "lake\n", "labels/a.txt": "0 0.5 0.5 1.0000001 0.5 0.75 1\n"})
    ring = result.images[0].annotations[0].polygon[0]
    assert ring[:4] == pytest.approx([100, 50, 200, 50], abs=0.001)  # the image is 200 x 100


# --- Ultralytics' own layout, and the round trip ------------------------------------------------

def ultralytics_layout() -> dict[str, str | bytes]:
    """As Ultralytics' docs lay a segmentation dataset out: images/<set> beside labels/<set>, a
    data.yaml with a `path` and numbered names."""
    return {
        "coco-seg/data.yaml": "path: ../datasets/coco-seg\ntrain: images/train\n"
                              "val: images/val\ntest: images/test\nnames:\n  0: lake\n  1: car\n",
        "coco-seg/images/train/street.jpg": image_bytes("street.jpg", 640, 480),
        "coco-seg/labels/train/street.txt": "1 0.1 0.1 0.2 0.1 0.2 0.2 0.1 0.2\n"
                                            "0 0.5 0.5 0.6 0.5 0.55 0.7\n",
        "coco-seg/images/val/plaza.png": image_bytes("plaza.png", 320, 240),
        "coco-seg/labels/val/plaza.txt": "0 0.25 0.25 0.75 0.25 0.5 0.75\n",
        "coco-seg/images/test/empty.jpg": image_bytes("empty.jpg", 100, 80),
        "coco-seg/labels/test/empty.txt": "",
    }


def test_ultralytics_layout_is_detected_and_its_sets_recorded(owner_client, dataset):
    job = import_files(owner_client, dataset, ultralytics_layout())
    assert job.report["format"] == "yolo_segment"
    assert dict(dataset.images.values_list("original_name", "recorded_set")) == {
        "street.jpg": "train", "plaza.png": "valid", "empty.jpg": "test"}
    rings = sorted((name, label, [round(v, 2) for v in geometry["rings"][0]])
                   for name, label, geometry in Annotation.objects.filter(
                       image__dataset=dataset).values_list("image__original_name",
                                                           "label__name", "geometry"))
    assert rings == [("plaza.png", "lake", [80, 60, 240, 60, 160, 180]),
                     ("street.jpg", "car", [64, 48, 128, 48, 128, 96, 64, 96]),
                     ("street.jpg", "lake", [320, 240, 384, 240, 352, 336])]


def stored(dataset) -> list[tuple[str, str, tuple[float, ...]]]:
    return sorted(Annotation.objects.filter(image__dataset=dataset).values_list(
        "image__original_name", "label__name", "xmin", "ymin", "xmax", "ymax"))


def test_an_export_uploaded_into_a_copy_brings_every_shape_back(owner_client, shapes,
                                                                 tmp_path):
    members = exported(shapes, tmp_path, "yolo_segment", "--split", "0.34", "--valid", "0.33")
    copy = copy_of(shapes, "Street copy")
    job = import_files(owner_client, copy, {f"top/{name}": data
                                            for name, data in members.items()})
    assert job.report["format"] == "yolo_segment"
    assert job.report["images"]["unmatched"] == 0
    before, after = stored(shapes), stored(copy)
    assert [(n, lbl) for n, lbl, *_ in after] == [(n, lbl) for n, lbl, *_ in before]
    for (*_, box_before), (*_, box_after) in zip(before, after, strict=True):
        assert box_after == pytest.approx(box_before, abs=0.5)
    rings = [geometry["rings"] for geometry in Annotation.objects.filter(
        image__dataset=copy, label__name="lake").values_list("geometry", flat=True)]
    for ring in ([TRIANGLE], [merge_multi_segment(TWO_PARTS)]):
        assert any(len(r[0]) == len(ring[0]) and r[0] == pytest.approx(ring[0], abs=0.5)
                   for r in rings)
