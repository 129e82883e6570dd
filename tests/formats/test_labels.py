"""The export's class list (FORMATS.md §1, §3 "Labels") and conversions never silent (§2)."""

from __future__ import annotations

import json

import pytest

from annotations.formats.options import OptionError
from annotations.formats.records import Annotation, ImageRecord

from .canonical import canonical_images, export_canonical, zip_members


def export(tmp_path, format_id, **options) -> tuple[dict, dict[str, bytes]]:
    target = tmp_path / f"{format_id}.zip"
    export_canonical(format_id, str(target), **options)
    members = {name.split("/", 1)[1]: data for name, data in zip_members(str(target)).items()}
    return json.loads(members["manifest.json"]), members


def yolo_lines(members: dict[str, bytes], stem: str) -> list[str]:
    return members[f"train/labels/{stem}.txt"].decode().splitlines()


def test_tag_only_labels_are_not_classes_of_a_box_format_and_box_only_not_of_classes(
        tmp_path):
    manifest, _ = export(tmp_path, "csv_classification")
    assert manifest["labels"] == ["car", "café", "person"]  # traffic light has no tag
    manifest, _ = export(tmp_path, "yolo_darknet")
    assert manifest["labels"] == ["car", "traffic light", "café", "person"]  # café has a mask
    manifest, _ = export(tmp_path, "yolo_darknet", images=[*canonical_images()[:1], tagged()])
    assert manifest["labels"] == ["car", "traffic light", "person"]  # café: only a tag


def tagged():
    """An image whose only café annotation is a tag."""
    return ImageRecord(file_name="cafe.jpg", width=50, height=50, id=9, ref="cafe.jpg",
                       annotations=[Annotation("café", "tag")])


def test_renaming_two_labels_to_one_name_merges_them_into_one_class(tmp_path):
    manifest, members = export(tmp_path, "yolo_darknet", rename={"traffic light": "car"})
    assert members["train/classes.txt"].decode().splitlines() == ["car", "café", "person"]
    assert manifest["labels"] == ["car", "café", "person"]
    assert manifest["options"]["rename"] == {"traffic light": "car"}
    classes = [line.split()[0] for line in yolo_lines(members, "street")]
    assert classes == ["0", "0", "0", "0", "2"]  # 2 cars and 2 traffic lights, then person


def test_unselected_labels_are_not_written_and_counted_as_dropped(tmp_path):
    manifest, members = export(tmp_path, "yolo_darknet", labels=("car",))
    assert members["train/classes.txt"].decode() == "car\n"
    assert [line.split()[0] for line in yolo_lines(members, "street")] == ["0", "0"]
    assert yolo_lines(members, "Bild ü") == []
    assert manifest["options"]["labels"] == ["car"]
    # traffic light 2, café 2 (mask, tag), person 3 (2 keypoints, a tag); car's own tag
    assert manifest["dropped"] == {"label": 7, "tag": 1}
    assert manifest["converted"] == {}


def test_annotated_only_leaves_out_images_with_nothing_written(tmp_path):
    manifest, members = export(tmp_path, "yolo_darknet", labels=("café",), annotated_only=True)
    assert manifest["sets"] == {"train": {"images": 1, "annotations": 1}}
    assert manifest["left_out"] == [{"file": "street.jpg", "reason": "no annotations"},
                                    {"file": "empty.jpg", "reason": "no annotations"}]
    assert sorted(n for n in members if n.startswith("train/labels/")) == \
        ["train/labels/Bild ü.txt"]


def test_every_conversion_and_drop_is_counted_in_the_manifest(tmp_path):
    manifest, _ = export(tmp_path, "pascal_voc")
    assert manifest["converted"] == {"keypoints_as_box": 2, "mask_as_box": 1,
                                     "polygon_as_box": 1}
    assert manifest["dropped"] == {"tag": 3}
    manifest, _ = export(tmp_path, "polygon_tfrecord")
    assert manifest["converted"] == {"box_as_mask": 3, "polygon_as_mask": 1}
    assert manifest["dropped"] == {"label": 3, "tag": 2}  # person; car's and café's tags
    manifest, _ = export(tmp_path, "polygon_single")
    assert manifest["converted"] == {}


def test_unknown_labels_are_refused_with_the_dataset_labels_named(tmp_path):
    with pytest.raises(OptionError) as refused:
        export(tmp_path, "coco", labels=("car", "bus"))
    assert refused.value.field == "labels"
    assert refused.value.message == ("No label 'bus' in this dataset (its labels: 'car', "
                                     "'traffic light', 'café', 'person').")
