"""CreateML: centre coordinates, kept empty images, and a reader that says what is wrong where."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotations.formats.builtin import createml
from annotations.formats.errors import FormatError
from annotations.formats.io.source import MemorySource
from annotations.formats.spec import ReadContext

from .canonical import export_canonical, zip_members

FILE = "_annotations.createml.json"


def _entries(tmp_path: Path, set_name: str = "train", **options) -> list[dict]:
    target = tmp_path / "createml.zip"
    export_canonical("createml", str(target), **options)
    members = {name.split("/", 1)[1]: data for name, data in zip_members(str(target)).items()}
    return json.loads(members[f"{set_name}/{FILE}"])


def _boxes(entries: list[dict], image: str) -> list[dict]:
    return next(e["annotations"] for e in entries if e["image"] == image)


def test_coordinates_are_the_box_centre_and_size(tmp_path):
    boxes = _boxes(_entries(tmp_path), "street.jpg")
    # canonical (10, 20, 110.5, 220.25): centre (60.25, 120.125), shown to 2 decimals
    assert boxes[0] == {"label": "car", "coordinates": {"x": 60.25, "y": 120.12,
                                                        "width": 100.5, "height": 200.25}}
    # the box touching the right and bottom edges: (600, 440, 640, 480)
    assert boxes[2]["coordinates"] == {"x": 620, "y": 460, "width": 40, "height": 40}


def test_every_image_keeps_an_entry_in_set_order(tmp_path):
    entries = _entries(tmp_path)
    assert [e["image"] for e in entries] == ["street.jpg", "Bild ü.png", "empty.jpg"]
    assert entries[2]["annotations"] == []
    # polygons, masks and keypoint instances arrive as their tight boxes
    assert [b["label"] for b in _boxes(entries, "Bild ü.png")] == ["café", "person"]


def test_normalized_export_divides_by_the_image_size(tmp_path):
    boxes = _boxes(_entries(tmp_path, normalized=True), "street.jpg")
    assert boxes[2]["coordinates"] == {"x": 0.96875, "y": 0.958333, "width": 0.0625,
                                       "height": 0.083333}


def _read(text: str | bytes, sizes: dict | None = None, name: str = "x.json"):
    data = text.encode() if isinstance(text, str) else text
    return createml.read(MemorySource({name: data}), ReadContext(image_sizes=sizes or {}))


def test_reader_reads_centres_and_keeps_images_without_boxes():
    result = _read(json.dumps([
        {"image": "sub/a.jpg", "annotations": [
            {"label": "dog", "coordinates": {"x": 50, "y": 50, "width": 20, "height": 10}}]},
        {"image": "b.jpg", "annotations": []},
    ]), sizes={"a.jpg": (200, 100)})
    a, b = result.images
    assert (a.file_name, a.width, a.height) == ("a.jpg", 200, 100)
    assert a.annotations[0].box == (40, 45, 60, 55)
    assert (b.file_name, b.annotations) == ("b.jpg", [])
    assert result.labels == ["dog"]


def test_reader_scales_a_normalized_file_by_the_dataset_image_size():
    [image] = _read(json.dumps([{"image": "a.jpg", "annotations": [
        {"label": "dog", "coordinates": {"x": 0.5, "y": 0.5, "width": 0.2, "height": 0.1}}]}]),
        sizes={"a.jpg": (200, 100)}).images
    assert image.annotations[0].box == pytest.approx((80, 45, 120, 55))


@pytest.mark.parametrize("text, message", [
    ('[{"image": "a.jpg", "annotations": [{"label": "dog", "coordinates": {"x": NaN}}]}]',
     "x.json line 1: NaN is not a number JSON allows"),
    ('[{"image": "a.jpg", "annotations": []}, {"image": 7, "annotations": []}]',
     "x.json: record 2: image must be a non-empty string, got 7"),
    ('[{"image": "a.jpg", "annotations": [{"label": "dog", "coordinates": '
     '{"x": 1, "y": 1, "width": 2}}]}]',
     "x.json: record 1 annotation 1 coordinates: missing key 'height'"),
    ('[{"image": "a.jpg", "annotations": [{"label": "dog", "coordinates": '
     '{"x": "1", "y": 1, "width": 2, "height": 2}}]}]',
     'x.json: record 1 annotation 1 coordinates: x must be a number, got "1"'),
    ('[{"image": "a.jpg", "annotations": [{"coordinates": {}}]}]',
     "x.json: record 1 annotation 1: missing key 'label'"),
    ('[{"image": "a.jpg", "annotations": {"label": "dog"}}]',
     'x.json: record 1: annotations must be a list, got {"label": "dog"}'),
    ('[{"image": "a.jpg", "annotations": [{"label": "dog", "coordinates": '
     '{"x": 1, "y": 1, "width": -2, "height": 2}}]}]',
     "x.json: record 1 annotation 1: width and height must not be negative, got -2, 2"),
    ('[{"image": "a.jpg", "annotations": [{"label": "dog", "coordinates": '
     '{"x": 0.5, "y": 0.5, "width": 0.2, "height": 0.2}}]}]',
     "x.json: record 1: no image 'a.jpg' in the dataset, so its normalized boxes cannot be "
     "placed"),
])
def test_reader_errors_name_the_file_the_record_and_the_problem(text, message):
    with pytest.raises(FormatError) as caught:
        _read(text)
    assert str(caught.value) == message


def test_reader_refuses_an_upload_without_a_createml_file():
    with pytest.raises(FormatError, match="^upload: no CreateML file found"):
        _read('{"images": [], "annotations": [], "categories": []}')


@pytest.mark.parametrize("name, text, score", [
    ("train/_annotations.createml.json", '[{"image": "a.jpg", "annotations": []}]', 90),
    ("labels.json", '[{"image": "a.jpg", "annotations": []}]', 70),
    ("coco.json", '{"images": [], "annotations": [], "categories": []}', 0),
    ("labelme.json", '{"shapes": [], "imagePath": "a.jpg"}', 0),
])
def test_detect_recognises_createml_arrays_by_content(name, text, score):
    assert createml.detect(MemorySource({name: text.encode()})) == score
