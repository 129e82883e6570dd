"""YOLO Darknet: the Ultralytics layout, and what its reader accepts and refuses."""

from __future__ import annotations

from dataclasses import replace

import pytest

from annotations.formats.builtin import yolo_darknet, yolo_segment
from annotations.formats.errors import FormatError
from annotations.formats.io.source import MemorySource
from annotations.formats.spec import ReadContext

from .canonical import export_canonical, zip_members


def read(files: dict[str, str], sizes=None):
    source = MemorySource({k: v.encode() for k, v in files.items()})
    return yolo_darknet.read(source, ReadContext(image_sizes=sizes or {"a.jpg": (200, 100)}))


def test_boxes_touching_the_edges_stay_inside_zero_one(tmp_path):
    target = tmp_path / "out.zip"
    summary = export_canonical("yolo_darknet", str(target), normalized=True)
    lines = zip_members(str(target))[f"{summary.top_folder}/train/labels/street.txt"]
    for line in lines.decode().splitlines():
        values = [float(v) for v in line.split()[1:]]
        assert all(0.0 <= v <= 1.0 for v in values)
    assert "1 0.968750 0.958333 0.062500 0.083333" in lines.decode()  # the bottom-right box


def test_data_yaml_names_the_one_set_that_exists_for_both_train_and_val(tmp_path):
    target = tmp_path / "out.zip"
    summary = export_canonical("yolo_darknet", str(target), split_ratio=1.0)
    text = zip_members(str(target))[f"{summary.top_folder}/data.yaml"].decode()
    assert text.endswith("nc: 4\ntrain: test/images\nval: test/images\n")
    assert "path:" not in text


@pytest.mark.parametrize("line, message", [
    ("0 0.5 0.5 0.2", "labels/a.txt line 1: expected 5 numbers, got 4"),
    ("0 0.5 x 0.2 0.1", "labels/a.txt line 1: expected a class id and 4 numbers"),
    ("3 0.5 0.5 0.2 0.1", "labels/a.txt line 1: class id 3 is not in the class list (1 classes)"),
])
def test_bad_lines_are_refused_with_the_file_and_line(line, message):
    with pytest.raises(FormatError) as error:
        read({"classes.txt": "boat\n", "labels/a.txt": line + "\n"})
    assert str(error.value) == message


def test_a_label_file_whose_image_is_not_in_the_dataset_is_reported_not_fatal():
    result = read({"obj.names": "boat\n", "labels/a.txt": "0 0.5 0.5 0.2 0.1\n",
                   "labels/missing.txt": "0 0.5 0.5 0.2 0.1\n"})
    by_name = {image.file_name: image for image in result.images}
    assert by_name["a.jpg"].annotations[0].box == pytest.approx((80, 45, 120, 55))
    assert by_name["missing.jpg"].annotations == []
    assert result.notes == ["labels/missing.txt: no image 'missing.jpg' in the dataset; "
                            "its 1 box(es) are skipped"]


@pytest.mark.parametrize("module", [yolo_darknet, yolo_segment])
def test_an_import_gets_the_images_one_at_a_time_with_the_same_records(module):
    files = {"obj.names": "boat\n", "labels/a.txt": "0 0.5 0.5 0.2 0.1\n0 0.1 0.1 0.1 0.1\n",
             "labels/missing.txt": "0 0.5 0.5 0.2 0.1\n"}
    source = MemorySource({k: v.encode() for k, v in files.items()})
    context = ReadContext(image_sizes={"a.jpg": (200, 100)})
    listed = module.read(source, context)
    streamed = module.read(source, replace(context, stream=True))
    assert isinstance(listed.images, list) and not isinstance(streamed.images, list)
    assert streamed.notes == []  # a note is known once its image is read
    assert list(streamed.images) == listed.images
    assert [len(i.annotations) for i in listed.images] == [2, 0]
    assert streamed.notes == listed.notes == [
        "labels/missing.txt: no image 'missing.jpg' in the dataset; its 1 "
        f"{'box(es)' if module is yolo_darknet else 'shape(s)'} are skipped"]


def test_class_names_come_from_data_yaml_when_there_is_no_class_file():
    result = read({"data.yaml": "names: ['boat', \"big ship\"]\nnc: 2\n",
                   "labels/a.txt": "1 0.5 0.5 0.2 0.1\n"})
    assert result.labels == ["boat", "big ship"]
    assert result.images[0].annotations[0].label == "big ship"

