"""YOLO Segmentation (Ultralytics `task=segment`): one `class x1 y1 … xn yn` line per shape.

    <top>/data.yaml                 as YOLO Darknet
    <top>/train/classes.txt
    <top>/train/labels/<stem>.txt   `0 0.100000 0.200000 0.300000 0.200000 0.200000 0.400000`
    <top>/train/images/<file>

Boxes are written as 4-vertex rectangles, a shape of several parts as one line (its parts joined
like Ultralytics' `merge_multi_segment`), a mask as the outer contour of each of its regions
(pixel corners), joined the same way (families/contours.py). Import reads polygon lines (and
plain box lines) as polygons (boxes).
"""

from __future__ import annotations

from annotations.formats.errors import FormatError
from annotations.formats.families import contours, rle, yolo_files
from annotations.formats.geometry import polygon_box, rectangle_ring
from annotations.formats.io.source import Source
from annotations.formats.records import Annotation, ImageRecord, ReadResult
from annotations.formats.spec import ExportRoot, ExportSet, FormatSpec, ReadContext, ZipSink

SPEC = FormatSpec(
    id="yolo_segment",
    name="YOLO Segmentation (Ultralytics)",
    family="polygons",
    writes={"box": "polygon", "polygon": "polygon", "mask": "polygon"},
    writes_root=True,
    normalized=True,
    description="One .txt of normalized polygon lines per image, classes.txt and data.yaml; "
    "Ultralytics trains segmentation models on it as-is.",
    normalized_warning=yolo_files.NORMALIZED_WARNING,
)


def write_set(export_set: ExportSet, out: ZipSink) -> None:
    index = export_set.class_index

    def label_text(image: ImageRecord) -> str:
        lines = []
        for annotation in image.annotations:
            ring = _ring(annotation, image, export_set.normalized)
            if ring:
                lines.append(f"{index[annotation.label]} {yolo_files.fractions(ring)}\n")
        return "".join(lines)

    yolo_files.write_label_files(export_set, out, label_text)


def write_root(root: ExportRoot, out: ZipSink) -> None:
    yolo_files.write_data_yaml(root, out)


def _ring(a: Annotation, image: ImageRecord, normalized: bool) -> list[float]:
    """The shape as one ring of at least 3 vertices (its box when it has no such part)."""
    scale = (float(image.width), float(image.height)) if normalized else (1.0, 1.0)
    if a.kind == "mask" and a.mask is not None:
        parts = contours.outer_contours(rle.decode(a.mask))
        if normalized:
            sx, sy = 1.0 / image.width, 1.0 / image.height
            parts = [[v * (sx if i % 2 == 0 else sy) for i, v in enumerate(part)]
                     for part in parts]
    else:
        parts = [ring for ring in a.polygon or [] if len(ring) >= 6 and len(ring) % 2 == 0]
    if parts:
        return contours.merge_parts(parts, scale)
    return rectangle_ring(a.box) if a.box is not None else []


def detect(source: Source) -> int:
    files = source.files()
    if not yolo_files.has_layout(files) or _pose_keys(source, files):
        return 0
    columns = yolo_files.column_counts(source, files)
    return 95 if any(n > 5 for n in columns) else 0


def _pose_keys(source: Source, files: list[str]) -> bool:
    path = yolo_files.data_yaml_path(files)
    return path is not None and "kpt_shape:" in source.text(path)


def read(source: Source, context: ReadContext) -> ReadResult:
    files = source.files()
    names = yolo_files.class_names(source, files) or list(context.labels)
    parsed = yolo_files.read_label_files(source, context, names, _check_line, "coordinates")
    result = ReadResult(images=[], labels=names)
    images = yolo_files.filled_images(parsed, context, result, "shape(s)", _fill)
    result.images = images if context.stream else list(images)
    return result


def _fill(path: str, lines: list, image: ImageRecord, scale: tuple[float, float]) -> None:
    sx, sy = scale
    for _, label, values in lines:
        if len(values) == 4:  # a detection line: cx cy w h
            image.annotations.append(Annotation(
                label=label, kind="box", box=yolo_files.centre_box(*values, scale)))
            continue
        ring = [v * (sx if i % 2 == 0 else sy) for i, v in enumerate(values)]
        image.annotations.append(Annotation(label=label, kind="polygon", polygon=[ring],
                                            box=polygon_box([ring])))


def _check_line(path: str, number: int, fields: list[str]) -> None:
    if len(fields) != 5 and (len(fields) < 7 or len(fields) % 2 == 0):
        raise FormatError(path, f"expected a class id and at least 3 x y pairs, got "
                          f"{len(fields) - 1} numbers", line=number)
