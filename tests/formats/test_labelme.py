"""LabelMe (`polygon_single`): the file structure of FORMATS.md §4, byte for byte where it matters,
and what labelme itself decodes from it (a mask shape's base64 PNG is the mask's box crop).
"""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

from annotations.formats.builtin import labelme
from annotations.formats.errors import FormatError
from annotations.formats.families import rle
from annotations.formats.io.source import MemorySource, ZipSource
from annotations.formats.records import Annotation, ImageRecord
from annotations.formats.spec import ReadContext

from .canonical import canonical_images, export_canonical, zip_members

TOP = "canonical-set-polygon_single-20261125-123005/"
SHAPE_KEYS = ["label", "points", "group_id", "description", "shape_type", "flags"]


@pytest.fixture(scope="module")
def members(tmp_path_factory) -> dict[str, bytes]:
    target = tmp_path_factory.mktemp("labelme") / "out.zip"
    export_canonical("polygon_single", str(target), split_ratio=0.34, include_images=True)
    return {name.removeprefix(TOP): data for name, data in zip_members(str(target)).items()}


def test_each_image_gets_a_json_beside_it_with_the_labelme_keys_in_order(members):
    assert sorted(members) == ["manifest.json", "test/empty.jpg", "test/empty.json",
                               "train/Bild ü.json", "train/Bild ü.png", "train/street.jpg",
                               "train/street.json"]
    empty = members["test/empty.json"].decode()
    assert empty == ('{\n  "version": "5.5.0",\n  "flags": {},\n  "shapes": [],\n'
                     '  "imagePath": "empty.jpg",\n  "imageData": null,\n'
                     '  "imageHeight": 80,\n  "imageWidth": 100\n}\n')


@pytest.mark.parametrize("stem, file_name", [("train/street", "street.jpg"),
                                              ("train/Bild ü", "Bild ü.png"),
                                              ("test/empty", "empty.jpg")])
def test_image_size_fields_equal_the_real_image(members, stem, file_name):
    document = json.loads(members[f"{stem}.json"])
    real = Image.open(io.BytesIO(members[f"{stem.rsplit('/', 1)[0]}/{file_name}"]))
    assert document["imagePath"] == file_name
    assert (document["imageWidth"], document["imageHeight"]) == real.size


def test_boxes_become_rectangles_and_polygons_polygon_shapes(members):
    shapes = json.loads(members["train/street.json"])["shapes"]
    assert [list(shape) for shape in shapes] == [SHAPE_KEYS] * 4
    assert [(s["label"], s["shape_type"], s["points"]) for s in shapes] == [
        ("car", "rectangle", [[10, 20], [110.5, 220.25]]),
        ("car", "rectangle", [[0, 0], [50, 40]]),
        ("traffic light", "rectangle", [[600, 440], [640, 480]]),
        ("traffic light", "polygon", [[300, 100], [340, 100], [320, 160]]),
    ]  # the keypoint instance belongs to another family
    assert all(s["group_id"] is None and s["description"] == "" and s["flags"] == {}
               for s in shapes)


def test_a_mask_shape_holds_the_png_of_the_mask_box_between_its_inclusive_corners(members):
    (shape,) = json.loads(members["train/Bild ü.json"])["shapes"]
    assert list(shape) == [*SHAPE_KEYS, "mask"]
    assert shape["shape_type"] == "mask" and shape["label"] == "café"
    assert shape["points"] == [[100, 50], [169, 89]]  # first and last pixel, inclusive
    png = Image.open(io.BytesIO(base64.b64decode(shape["mask"])))
    assert png.format == "PNG" and png.mode == "L" and png.size == (70, 40)
    plaza = next(i for i in canonical_images() if i.file_name == "Bild ü.png")
    expected = rle.decode(plaza.annotations[0].mask)[50:90, 100:170]
    np.testing.assert_array_equal(np.asarray(png), expected)  # 0/1 values, hole included


def test_normalized_points_are_fractions_never_in_exponent_form(tmp_path):
    image = ImageRecord("tiny.jpg", 640, 480, id=9, ref="tiny.jpg", annotations=[
        Annotation("car", "box", box=(0.05, 0.01, 320.0, 240.0))])
    target = tmp_path / "out.zip"
    export_canonical("polygon_single", str(target), normalized=True, images=[image])
    text = zip_members(str(target))[
        "canonical-set-polygon_single-20261125-123005/train/tiny.json"].decode()
    assert "e-" not in text
    points = json.loads(text)["shapes"][0]["points"]
    assert points == [[0.000078, 0.000021], [0.5, 0.5]]


def test_a_normalized_export_reads_back_in_pixels(tmp_path):
    target = tmp_path / "out.zip"
    export_canonical("polygon_single", str(target), normalized=True)
    result = labelme.read(ZipSource(target), ReadContext())
    plaza = next(i for i in result.images if i.file_name == "Bild ü.png")
    original = next(i for i in canonical_images() if i.file_name == "Bild ü.png")
    np.testing.assert_array_equal(rle.decode(plaza.annotations[0].mask),
                                  rle.decode(original.annotations[0].mask))


def _upload(shapes: list, image_path: str = "street.jpg") -> MemorySource:
    document = {"version": "5.5.0", "flags": {}, "shapes": shapes, "imagePath": image_path,
                "imageData": None, "imageHeight": 480, "imageWidth": 640}
    return MemorySource({"ann/street.json": json.dumps(document).encode()})


def test_import_matches_image_path_by_file_name_only():
    source = _upload([{"label": "car", "points": [[1, 2], [30, 40]],
                       "shape_type": "rectangle"}], image_path="..\\images\\street.jpg")
    (image,) = labelme.read(source, ReadContext()).images
    assert image.file_name == "street.jpg"
    assert image.annotations[0].box == (1.0, 2.0, 30.0, 40.0)


def test_import_skips_shapes_of_other_families_with_a_note():
    source = _upload([{"label": "dot", "points": [[5, 5]], "shape_type": "point"}])
    result = labelme.read(source, ReadContext())
    assert result.images[0].annotations == []
    assert result.notes == ["ann/street.json: skipped shapes of type point"]


@pytest.mark.parametrize("shape, message", [
    ({"label": "m", "points": [[0, 0], [1, 1]], "shape_type": "mask", "mask": "not base64!"},
     "not a base64 PNG"),
    ({"label": "p", "points": [[0, 0], [1, 1]], "shape_type": "polygon"}, "a polygon with 2"),
    ({"label": "p", "points": "nope", "shape_type": "polygon"}, "points must be"),
], ids=["bad-mask", "two-point-polygon", "points-not-a-list"])
def test_a_bad_shape_is_refused_naming_file_and_shape(shape, message):
    with pytest.raises(FormatError) as caught:
        labelme.read(_upload([{"label": "ok", "points": [[0, 0], [9, 9]],
                               "shape_type": "rectangle"}, shape]), ReadContext())
    assert str(caught.value).startswith("ann/street.json record shape 2: ")
    assert message in str(caught.value)


def test_a_mask_png_larger_than_the_image_is_refused_before_decoding():
    buffer = io.BytesIO()
    Image.new("L", (700, 10)).save(buffer, format="PNG")
    shape = {"label": "m", "points": [[0, 0], [699, 9]], "shape_type": "mask",
             "mask": base64.b64encode(buffer.getvalue()).decode()}
    with pytest.raises(FormatError, match="does not fit the 640x480 image"):
        labelme.read(_upload([shape]), ReadContext())


def test_detect_knows_labelme_files_and_not_other_json():
    assert labelme.detect(_upload([])) == 90
    coco = MemorySource({"_annotations.coco.json": b'{"images": [], "annotations": []}'})
    assert labelme.detect(coco) == 0


def test_detection_never_loads_a_coco_file_whole_even_when_it_names_shapes(monkeypatch):
    # A category called "shapes" and an image path field: the words LabelMe looks for.
    coco = {"images": [{"id": 1, "file_name": "a.jpg", "width": 4, "height": 4,
                        "imagePath": "a.jpg"}],
            "annotations": [], "categories": [{"id": 1, "name": "shapes"}], "shapes": []}
    page = {"version": "5.5.0", "flags": {}, "shapes": [], "imagePath": "b.jpg",
            "imageData": None, "imageHeight": 4, "imageWidth": 4}
    loaded, loads = [], labelme.jsonio.loads_untrusted
    monkeypatch.setattr(labelme.jsonio, "loads_untrusted",
                        lambda data, path: loaded.append(path) or loads(data, path))
    both = MemorySource({"instances.json": json.dumps(coco).encode(),
                         "b.json": json.dumps(page).encode()})
    assert labelme.detect(both) == 90  # b.json is LabelMe
    assert loaded == ["b.json"]
    assert labelme.detect(MemorySource({"instances.json": json.dumps(coco).encode()})) == 0
    assert loaded == ["b.json"]
