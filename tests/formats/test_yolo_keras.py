"""YOLO Keras PyTorch: one line per image, whole pixels, renamed file names, and the reader."""

from __future__ import annotations

import pytest

from annotations.formats.builtin import yolo_keras_pytorch as keras
from annotations.formats.errors import FormatError
from annotations.formats.io.source import ZipSource
from annotations.formats.records import Label
from annotations.formats.spec import ReadContext

from .canonical import export_canonical, image_sizes
from .helpers import detect_own_export, export, image, memory, text

LABELS = [Label("car"), Label("dog")]


def test_lines_hold_whole_pixel_corners_and_zero_based_classes(tmp_path):
    images = [image("a.jpg", 1, ("dog", (10, 20, 110.5, 220.25)), ("car", (0.4, 0.6, 2.5, 3.5))),
              image("b.jpg", 2)]
    members, _ = export("yolo_keras_pytorch", tmp_path, images=images, dataset_labels=LABELS)
    # Python round: 110.5 -> 110 and 2.5 -> 2 (half to even), 0.6 -> 1, 3.5 -> 4
    assert text(members, "train/_annotations.txt") == "a.jpg 10,20,110,220,1 0,1,2,4,0\nb.jpg\n"
    assert text(members, "train/_classes.txt") == "car\ndog\n"


def test_normalized_lines_hold_fractions(tmp_path):
    images = [image("a.jpg", 1, ("dog", (64, 48, 640, 240)))]
    members, _ = export("yolo_keras_pytorch", tmp_path, images=images, dataset_labels=LABELS,
                        normalized=True)
    assert text(members, "train/_annotations.txt") == "a.jpg 0.1,0.1,1,0.5,1\n"


def test_file_names_with_whitespace_are_renamed_and_listed_in_the_manifest(tmp_path):
    images = [image("my photo.jpg", 5, ("car", (1, 2, 3, 4))), image("tab\there.png", 6),
              image("plain.jpg", 7)]
    members, manifest = export("yolo_keras_pytorch", tmp_path, images=images, dataset_labels=LABELS,
                               include_images=True)
    assert manifest["renamed"] == [{"from": "my photo.jpg", "to": "my_photo__5.jpg"},
                                   {"from": "tab\there.png", "to": "tab_here__6.png"}]
    lines = text(members, "train/_annotations.txt").splitlines()
    assert lines == ["my_photo__5.jpg 1,2,3,4,0", "tab_here__6.png", "plain.jpg"]
    assert "train/my_photo__5.jpg" in members  # the image itself carries the new name


def test_a_renamed_image_reads_back_through_the_manifest(tmp_path):
    # Bild ü.png is renamed Bild_ü__2.png; with Normalized on its size is needed to read it back.
    target = tmp_path / "out.zip"
    export_canonical("yolo_keras_pytorch", str(target), normalized=True)
    result = keras.read(ZipSource(target), ReadContext(image_sizes=image_sizes()))
    renamed = next(i for i in result.images if i.file_name == "Bild_ü__2.png")
    assert (renamed.width, renamed.height) == (320, 240)
    assert renamed.annotations[1].box == pytest.approx((20, 30, 80, 200), abs=0.01)


# -- reading -----------------------------------------------------------------------------------

def _read(lines: str, classes: str | None = "car\ndog\n", context: ReadContext | None = None):
    files = {"train/_annotations.txt": lines}
    if classes is not None:
        files["train/_classes.txt"] = classes
    return keras.read(memory(files), context or ReadContext(image_sizes={"a b.jpg": (100, 50)}))


def test_a_file_name_is_everything_before_the_box_fields():
    result = _read("a b.jpg 1,2,30,40,1  5,6,7,8,0\nempty one.jpg\n")
    assert [(i.file_name, [(a.label, a.box) for a in i.annotations]) for i in result.images] == [
        ("a b.jpg", [("dog", (1.0, 2.0, 30.0, 40.0)), ("car", (5.0, 6.0, 7.0, 8.0))]),
        ("empty one.jpg", [])]
    assert result.labels == ["car", "dog"]


def test_fractions_are_scaled_by_the_dataset_size():
    box = _read("a b.jpg 0.1,0.2,0.5,1,0\n").images[0].annotations[0].box
    assert box == pytest.approx((10, 10, 50, 50))


@pytest.mark.parametrize("lines, classes, message", [
    ("x.jpg 1,2,3,4\n", "car\n", "line 1: box '1,2,3,4' is not x1,y1,x2,y2,class"),
    ("x.jpg\nx.jpg 1,2,a,4,0\n", "car\n",
     "line 2: box '1,2,a,4,0' has a coordinate that is not a number"),
    ("x.jpg 1,2,3,inf,0\n", "car\n", "line 1: box '1,2,3,inf,0' has a NaN or infinite coordinate"),
    ("x.jpg 1,2,3,4,-1\n", "car\n",
     "line 1: box '1,2,3,4,-1': class '-1' is not a whole number from 0"),
    ("x.jpg 1,2,3,4,2\n", "car\ndog\n", "line 1: class id 2 is not in the class list (2 classes)"),
    ("x.jpg 1,2,3,4,0\n", None,
     "line 1: class id 0 cannot be named: no _classes.txt in the upload"),
    ("z.jpg 0.1,0.1,0.2,0.2,0\n", "car\n",
     "line 1: no image 'z.jpg' in the dataset, so its normalized boxes cannot be placed"),
])
def test_bad_lines_are_refused_with_the_file_line_and_problem(lines, classes, message):
    with pytest.raises(FormatError) as error:
        _read(lines, classes)
    assert str(error.value) == f"train/_annotations.txt {message}"


def test_the_dataset_class_list_names_ids_when_no_classes_file_came():
    result = _read("a b.jpg 1,2,3,4,1\n", None, ReadContext(labels=["x", "y"]))
    assert result.images[0].annotations[0].label == "y"


# -- detection ---------------------------------------------------------------------------------

def test_the_export_is_detected_as_yolo_keras_first(tmp_path):
    found = detect_own_export("yolo_keras_pytorch", tmp_path)
    assert found[0] == ("yolo_keras_pytorch", 90)
    assert all(score < 90 for _, score in found[1:])


@pytest.mark.parametrize("files, score", [
    ({"t/_annotations.txt": "a.jpg 1,2,3,4,0\n", "t/_classes.txt": "car\n"}, 90),
    ({"t/_annotations.txt": "a.jpg 1,2,3,4,0\n"}, 70),  # no class list beside it
    ({"t/_annotations.txt": "0 0.5 0.5 0.1 0.1\n"}, 20),  # the name fits, the content does not
    ({"labels/a.txt": "0 0.5 0.5 0.1 0.1\n", "classes.txt": "car\n"}, 0),  # YOLO Darknet
])
def test_detection_scores(files, score):
    assert keras.detect(memory(files)) == score
