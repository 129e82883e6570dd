"""Small pure helpers of the import, as tables."""

from __future__ import annotations

import pytest

from annotations.cleaning import Fixes, clean_annotation
from annotations.formats.families import rle
from annotations.formats.naming import split_folder
from annotations.formats.records import Annotation, Keypoint
from annotations.matching import ImportRefused, LabelPlan
from datasets.uploads import safe_name, size_text


@pytest.mark.parametrize("box,expected,fixes", [
    ((10, 20, 110, 220), (10, 20, 110, 220), {}),                       # inside: untouched
    ((110, 220, 10, 20), (10, 20, 110, 220), {"swapped": 1}),           # inverted corners
    ((-5, -5, 50, 50), (0, 0, 50, 50), {"clamped": 1}),                 # over the top-left
    ((600, 400, 700, 500), (600, 400, 640, 480), {"clamped": 1}),       # over the bottom-right
    ((10, 10, 10, 50), None, {"zero_area": 1}),                         # no width
    ((700, 10, 800, 50), None, {"clamped": 1, "zero_area": 1}),         # wholly outside
    ((0, 0, 640, 480), (0, 0, 640, 480), {}),                           # the whole image
    ((188, 176, 235, 480.0000001), (188, 176, 235, 480), {}),           # float noise: silent
])
def test_boxes_are_swapped_clamped_or_dropped(box, expected, fixes):
    found = Fixes()
    cleaned = clean_annotation(Annotation("car", "box", box=box), 640, 480, "a.jpg", found)
    assert (cleaned.box if cleaned else None) == expected
    assert dict(found.counts) == fixes


@pytest.mark.parametrize("ring,kept,fixes", [
    ([0, 0, 10, 0, 0, 10], [0, 0, 10, 0, 0, 10], {}),                   # a triangle
    ([0, 0, 10, 10, 20, 20], None, {"degenerate_polygon": 1}),          # collinear: no area
    ([0, 0, 0, 0, 10, 10], None, {"degenerate_polygon": 1}),            # 2 distinct points
    ([0, 0, 10, 0], None, {"degenerate_polygon": 1}),                   # 2 points
    ([-10, 0, 700, 0, 700, 500], [0, 0, 640, 0, 640, 480], {"polygon_clamped": 1}),
    ([0, 0, 640.0000001, 0, 0, 10], [0, 0, 640, 0, 0, 10], {}),          # float noise: silent
])
def test_polygons_are_clamped_or_dropped(ring, kept, fixes):
    found = Fixes()
    cleaned = clean_annotation(Annotation("road", "polygon", polygon=[ring]), 640, 480, "a.jpg",
                               found)
    assert (cleaned.polygon[0] if cleaned else None) == kept
    assert dict(found.counts) == fixes


def test_masks_must_be_the_image_size_and_not_empty():
    import numpy as np

    found = Fixes()
    grid = np.zeros((4, 6), dtype=np.uint8)
    assert clean_annotation(Annotation("m", "mask", mask=rle.encode(grid)), 6, 4, "a", found) \
        is None
    grid[1:3, 2:4] = 1
    kept = clean_annotation(Annotation("m", "mask", mask=rle.encode(grid)), 6, 4, "a", found)
    assert kept.box == (2, 1, 4, 3)
    assert clean_annotation(Annotation("m", "mask", mask=rle.encode(grid)), 8, 4, "a", found) \
        is None
    assert dict(found.counts) == {"empty_mask": 1, "mask_size": 1}


def test_keypoints_are_clamped_and_unlabelled_points_zeroed():
    found = Fixes()
    points = [Keypoint(700, 10, 2), Keypoint(5, 5, 0), Keypoint(10, 20, 1)]
    cleaned = clean_annotation(Annotation("p", "keypoints", keypoints=points), 640, 480, "a",
                               found)
    assert [(p.x, p.y, p.visibility) for p in cleaned.keypoints] == [
        (640, 10, 2), (0, 0, 0), (10, 20, 1)]
    assert cleaned.box == (10, 10, 640, 20)
    nothing = [Keypoint(0, 0, 0)]
    assert clean_annotation(Annotation("p", "keypoints", keypoints=nothing), 9, 9, "a",
                            found) is None
    assert dict(found.counts) == {"keypoints_clamped": 1, "no_keypoints": 1}


def test_fixes_keep_the_first_five_examples():
    found = Fixes()
    for i in range(7):
        found.add("clamped", f"example {i}")
    (report,) = found.report()
    assert report["count"] == 7 and report["examples"] == [f"example {i}" for i in range(5)]


@pytest.mark.parametrize("path,folder,name", [
    ("street.jpg", "", "street.jpg"),
    ("train2017/street.jpg", "train2017", "street.jpg"),
    ("..hidden.jpg", "", "..hidden.jpg"),           # two dots in a name are not a parent folder
    ("a/../../etc/passwd", "a/../../etc", "passwd"),
    ("\\\\server\\share\\a.jpg", "//server/share", "a.jpg"),
    ("C:\\Users\\a.jpg", "C:/Users", "a.jpg"),
    ("file:///etc/a.jpg", "file:///etc", "a.jpg"),
])
def test_folders_come_off_a_name(path, folder, name):
    assert split_folder(path) == (folder, name)


def test_labels_are_cleaned_merged_and_refused():
    plan = LabelPlan(existing=["car"])
    plan.declare(["car", " truck ", "#comment", "caf\u00e9"])
    assert plan.use("cafe\u0301") == "caf\u00e9"
    assert plan.order == ["car", "truck", "caf\u00e9"] and plan.new() == ["truck", "caf\u00e9"]
    assert plan.report()["skipped"] == [
        {"name": "#comment", "reason": "Label '#comment' starts with '#', which class files "
                                       "read as a comment."}]
    with pytest.raises(ImportRefused, match=r"Label 'a:b' contains ':', which class files "
                                            r"cannot carry\."):
        plan.use("a:b")
    with pytest.raises(ImportRefused, match="is longer than 100 characters"):
        plan.use("x" * 101)


@pytest.mark.parametrize("size,text", [(0, "0 bytes"), (1000, "1,000 bytes"),
                                       (1536, "1.5 KB"), (2 << 30, "2 GB"), (5 << 20, "5 MB")])
def test_sizes_are_written_for_people(size, text):
    assert size_text(size) == text


@pytest.mark.parametrize("name,safe", [("a.jpg", "a.jpg"), ("..", "upload"),
                                       ("dir\\x.xml", "x.xml"), ("a\x07b.csv", "ab.csv"),
                                       ("x" * 300 + ".json", "x" * 190 + ".json")])
def test_browser_file_names_become_plain_names(name, safe):
    assert safe_name(name) == safe
