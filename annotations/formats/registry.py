"""The one registry of formats: id -> module, imported lazily (TensorFlow must not load early).

Adding a format is one module exposing SPEC, write_set (write_boxes for a box format), read and
detect, plus one line here.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from annotations.formats.errors import UnknownFormat
from annotations.formats.spec import FormatSpec

BUILTIN_FORMATS: dict[str, str] = {
    "coco": "annotations.formats.builtin.coco",
    "csv_fourcorner": "annotations.formats.builtin.csv_fourcorner",
    "csv_widthheight": "annotations.formats.builtin.csv_widthheight",
    "pascal_voc": "annotations.formats.builtin.pascal_voc",
    "yolo_darknet": "annotations.formats.builtin.yolo_darknet",
    "yolo_keras_pytorch": "annotations.formats.builtin.yolo_keras_pytorch",
    "createml": "annotations.formats.builtin.createml",
    "tfrecord": "annotations.formats.builtin.tfrecord",
    "polygon_coco": "annotations.formats.builtin.polygon_coco",
    "polygon_single": "annotations.formats.builtin.labelme",
    "polygon_tfrecord": "annotations.formats.builtin.polygon_tfrecord",
    "csv_classification": "annotations.formats.builtin.csv_classification",
    "classification_tfrecord": "annotations.formats.builtin.classification_tfrecord",
    "keypoints_coco": "annotations.formats.builtin.keypoints_coco",
    "keypoints_tfrecord": "annotations.formats.builtin.keypoints_tfrecord",
    "yolo_segment": "annotations.formats.builtin.yolo_segment",
    "yolo_pose": "annotations.formats.builtin.yolo_pose",
    "folder_classification": "annotations.formats.builtin.folder_classification",
}

_loaded: dict[str, ModuleType] = {}


def format_ids() -> list[str]:
    return list(BUILTIN_FORMATS)


def get_format(format_id: str) -> ModuleType:
    if format_id not in BUILTIN_FORMATS:
        raise UnknownFormat(format_id)
    if format_id not in _loaded:
        _loaded[format_id] = importlib.import_module(BUILTIN_FORMATS[format_id])
    return _loaded[format_id]


def get_spec(format_id: str) -> FormatSpec:
    return get_format(format_id).SPEC


def available_formats() -> list[FormatSpec]:
    """Every registered format's spec, in registry order (families group them in the popup)."""
    return [get_spec(format_id) for format_id in BUILTIN_FORMATS]
