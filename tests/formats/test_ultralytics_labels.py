"""Ultralytics as the consumer: every label file of YOLO Darknet, YOLO Segmentation and YOLO
Pose exports passes the checks of its `verify_image_label` (ultralytics_reference.py, a port;
and Ultralytics' own function where it is installed), found the way Ultralytics finds them:
data.yaml's set folders, then each image's `/images/` replaced by `/labels/`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from annotations.demo import EMPTY_INDEX
from annotations.formats.families import rle
from annotations.formats.records import Annotation as Record
from datasets.models import Image

from .ultralytics_reference import IMG_FORMATS, Verified, img2label_path, verify_image_label
from .yolo_exports import add, exported

FORMATS = ["yolo_darknet", "yolo_segment", "yolo_pose"]


@pytest.fixture
def everything(demo):
    """The demo (boxes, polygons, a mask, keypoints with v = 0 points, tags, an image without
    annotations) and a mask of two regions."""
    image = demo.images.order_by("position")[0]
    grid = np.zeros((image.height, image.width), dtype=np.uint8)
    grid[10:40, 10:60] = 1
    grid[100:130, 200:260] = 1
    add(image, Record("puddle", "mask", mask=rle.encode(grid)))
    return demo


def unpacked(dataset, tmp_path: Path, format_id: str) -> Path:
    """The export written to a folder, as a user unzips it before `yolo train`."""
    root = tmp_path / format_id
    for name, data in exported(dataset, tmp_path, format_id, "--split", "0.25",
                               "--valid", "0.25").items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def dataset_settings(root: Path) -> dict:
    """data.yaml as Ultralytics' check_det_dataset reads it: no `path`, so set folders are
    relative to the file."""
    return yaml.safe_load((root / "data.yaml").read_text())


def image_files(root: Path, settings: dict) -> list[Path]:
    folders = {settings[key] for key in ("train", "val", "test") if key in settings}
    return sorted(p for folder in folders for p in (root / folder).iterdir()
                  if p.suffix[1:].lower() in IMG_FORMATS)


def pose_shape(settings: dict) -> tuple[bool, int, int]:
    if "kpt_shape" not in settings:
        return False, 0, 0
    nkpt, ndim = settings["kpt_shape"]
    return True, nkpt, ndim


@pytest.mark.parametrize("format_id", FORMATS)
def test_every_label_file_passes_ultralytics_label_check(everything, tmp_path, format_id):
    root = unpacked(everything, tmp_path, format_id)
    settings = dataset_settings(root)
    assert settings["nc"] == len(settings["names"])
    keypoint, nkpt, ndim = pose_shape(settings)
    images = image_files(root, settings)
    assert len(images) == everything.images.count()  # every image in one of the sets
    results: dict[str, Verified] = {}
    for image in images:
        result = verify_image_label(image, img2label_path(image), keypoint, settings["nc"],
                                    nkpt, ndim)
        assert (result.corrupt, result.missing, result.found) == (0, 0, 1), result.message
        assert result.message == ""  # no duplicate row removed, no damaged JPEG
        results[image.name] = result
    empty = Image.objects.filter(dataset=everything).order_by("position")[EMPTY_INDEX]
    assert results[empty.original_name].empty == 1


@pytest.mark.parametrize("format_id", FORMATS)
def test_every_number_is_within_zero_and_one_and_every_class_in_the_list(everything, tmp_path,
                                                                        format_id):
    # Ultralytics allows 1 % over the edges; FORMATS.md §1 promises exactly [0, 1].
    root = unpacked(everything, tmp_path, format_id)
    settings = dataset_settings(root)
    keypoint, _, ndim = pose_shape(settings)
    lines = [line.split() for path in root.glob("*/labels/*.txt")
             for line in path.read_text().splitlines()]
    assert lines
    for fields in lines:
        assert 0 <= int(fields[0]) < settings["nc"]
        numbers = fields[1:5] + [v for i, v in enumerate(fields[5:]) if i % ndim < 2] \
            if keypoint else fields[1:]
        assert all(0.0 <= float(v) <= 1.0 for v in numbers), fields


def test_the_mask_of_two_regions_is_one_segment_line(everything, tmp_path):
    root = unpacked(everything, tmp_path, "yolo_segment")
    settings = dataset_settings(root)
    image = everything.images.order_by("position")[0]
    (label_file,) = root.glob(f"*/labels/{image.original_name.rsplit('.', 1)[0]}.txt")
    puddle = settings["names"].index("puddle")
    lines = [line.split() for line in label_file.read_text().splitlines()]
    shapes = image.annotations.filter(kind__in=["box", "polygon", "mask"]).count()
    assert len(lines) == shapes
    # one line: two regions of four corners each, each closed where the bridge leaves it
    assert [len(f) for f in lines if f[0] == str(puddle)] == [1 + 2 * (5 + 5)]


@pytest.mark.parametrize("format_id", FORMATS)
def test_ultralytics_own_check_finds_nothing_corrupt(everything, tmp_path, format_id):
    utils = pytest.importorskip("ultralytics.data.utils")
    root = unpacked(everything, tmp_path, format_id)
    settings = dataset_settings(root)
    keypoint, nkpt, ndim = pose_shape(settings)
    for image in image_files(root, settings):
        found = utils.verify_image_label((str(image), str(img2label_path(image)), "", keypoint,
                                          settings["nc"], nkpt, ndim, False))
        *_, missing, _, _, corrupt, message = found
        assert (missing, corrupt, message) == (0, 0, "")
