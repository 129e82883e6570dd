"""YOLO Darknet / Ultralytics: one text file of `class cx cy w h` lines per image.

    <top>/data.yaml                 names, nc, train: train/images, val: valid/ or test/images,
                                    test: test/images (with a valid/ set)
    <top>/train/classes.txt         one class name a line, line index = class id
    <top>/train/labels/<stem>.txt   `0 0.500000 0.500000 0.250000 0.250000`
    <top>/train/images/<file>

Import also reads `obj.names`, `_darknet.labels` and `data.yaml` class lists (CVAT, Roboflow).
"""

from __future__ import annotations

import posixpath

from annotations.formats.errors import FormatError
from annotations.formats.families import yolo_files
from annotations.formats.families.boxes import BoxImage
from annotations.formats.io.source import Source
from annotations.formats.records import Annotation, ImageRecord, ReadResult
from annotations.formats.spec import ExportRoot, ExportSet, ReadContext, ZipSink, box_format

SPEC = box_format(
    "yolo_darknet", "YOLO Darknet",
    "One .txt of normalized centre boxes per image, classes.txt and data.yaml; "
    "Ultralytics and Darknet train on it.",
    normalized=True, writes_root=True,
    normalized_warning="YOLO readers expect normalized coordinates; absolute pixels will "
    "not train.",
)


def write_boxes(export_set: ExportSet, out: ZipSink) -> None:
    """The set from BoxImages (boxes.py): one `%.6f` line per box, `-0.000000` written as 0."""
    index = export_set.class_index

    def label_text(image: BoxImage) -> str:
        text = "".join(["%d %.6f %.6f %.6f %.6f\n" % (index[label], (x0 + x1) / 2,
                                                       (y0 + y1) / 2, x1 - x0, y1 - y0)
                        for label, x0, y0, x1, y1, _ in image.boxes])
        if "-0.000000" in text:  # "%.6f" of a negative zero is written 0.000000
            text = text.replace("-0.000000", "0.000000")
        return text

    yolo_files.write_label_files(export_set, out, label_text)


def write_root(root: ExportRoot, out: ZipSink) -> None:
    yolo_files.write_data_yaml(root, out)


def detect(source: Source) -> int:
    files = source.files()
    columns = yolo_files.column_counts(source, files) if yolo_files.has_layout(files) else None
    if columns is not None:
        # Segmentation and pose lines have more than five fields (yolo_segment, yolo_pose).
        return 90 if max(columns, default=5) <= 5 else 0
    if yolo_files.has_class_list(files) or yolo_files.data_yaml_path(files):
        if any(p.endswith(".txt") and posixpath.basename(p) not in yolo_files.CLASS_FILES
               for p in files):
            return 60
    return 0


def read(source: Source, context: ReadContext) -> ReadResult:
    files = source.files()
    names = yolo_files.class_names(source, files) or list(context.labels)
    parsed = yolo_files.read_label_files(source, context, names, _check_line, "4 numbers")
    result = ReadResult(images=[], labels=names)
    images = yolo_files.filled_images(parsed, context, result, "box(es)", _fill)
    result.images = images if context.stream else list(images)
    return result


def _fill(path: str, lines: list, image: ImageRecord, scale: tuple[float, float]) -> None:
    image.annotations = [Annotation(label=label, kind="box",
                                    box=yolo_files.centre_box(*values, scale))
                         for _, label, values in lines]


def _check_line(path: str, number: int, fields: list[str]) -> None:
    if len(fields) != 5:
        raise FormatError(path, f"expected 5 numbers, got {len(fields)}", line=number)
