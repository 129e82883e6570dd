"""YOLO Pose (Ultralytics `task=pose`): one `class cx cy w h x1 y1 v1 … xk yk vk` line per
keypoint instance.

    <top>/data.yaml                 as YOLO Darknet, plus `kpt_shape: [k, 3]` and `flip_idx`
    <top>/skeletons.json            the classes' skeletons (point names, connections)
    <top>/train/classes.txt
    <top>/train/labels/<stem>.txt   `0 0.5 0.5 0.2 0.4 0.5 0.3 2 0.000000 0.000000 0 …`
    <top>/train/images/<file>

Every class has a skeleton of the same k points (refused before the export starts otherwise:
labels.check_skeleton_sizes); `flip_idx` comes from the first class's skeleton's flip pairs.
Import reads `kpt_shape` (k, and 2 or 3 numbers a point) and `flip_idx` from data.yaml and makes
each class a skeleton of points kp0…kp(k-1) unless a skeletons.json or the dataset has one.
"""

from __future__ import annotations

from collections.abc import Iterator

from annotations.formats.errors import FormatError
from annotations.formats.families import yolo_files
from annotations.formats.io.source import Source
from annotations.formats.records import Annotation, ImageRecord, Keypoint, ReadResult, Skeleton
from annotations.formats.spec import ExportRoot, ExportSet, FormatSpec, ReadContext, ZipSink

SPEC = FormatSpec(
    id="yolo_pose",
    name="YOLO Pose (Ultralytics)",
    family="keypoints",
    writes_root=True,
    ships_skeletons=True,
    one_skeleton_size=True,
    normalized=True,
    description="One .txt of normalized box + keypoint lines per image, data.yaml with "
    "kpt_shape and flip_idx; Ultralytics trains pose models on it as-is.",
    normalized_warning=yolo_files.NORMALIZED_WARNING,
)


def point_count(skeletons: list[Skeleton]) -> int:
    """k of `kpt_shape`: every class's skeleton has it (checked before the export starts)."""
    return len(skeletons[0].keypoints) if skeletons else 0


def write_set(export_set: ExportSet, out: ZipSink) -> None:
    index, k = export_set.class_index, point_count(export_set.skeletons)

    def label_text(image: ImageRecord) -> str:
        return "".join([_line(index[a.label], a, k, image) for a in image.annotations])

    yolo_files.write_label_files(export_set, out, label_text)


def _line(class_id: int, a: Annotation, k: int, image: ImageRecord) -> str:
    points = a.keypoints or []
    if len(points) > k:
        raise FormatError(image.file_name, f"a keypoint instance of {a.label!r} has "
                          f"{len(points)} points, its skeleton {k}")
    x0, y0, x1, y1 = a.box or (0.0, 0.0, 0.0, 0.0)
    values: list[float | int] = [class_id, (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0]
    for p in points:  # a point not labelled was prepared as 0, 0, 0
        values += (p.x, p.y, p.visibility)
    text = (_LINE_FORMATS.get(len(points)) or _line_format(len(points))) % tuple(values)
    if "-0.000000" in text:  # "%.6f" of a negative zero
        text = text.replace("-0.000000", "0.000000")
    return text + " 0.000000 0.000000 0" * (k - len(points)) + "\n"  # points it lacks


_LINE_FORMATS: dict[int, str] = {}


def _line_format(points: int) -> str:
    """`class cx cy w h` then `x y v` per point, as one %-format (one call per line)."""
    _LINE_FORMATS[points] = "%d %.6f %.6f %.6f %.6f" + " %.6f %.6f %d" * points
    return _LINE_FORMATS[points]


def write_root(root: ExportRoot, out: ZipSink) -> None:
    k = point_count(root.skeletons)
    flip = list(range(k))
    if root.skeletons:
        for a, b in root.skeletons[0].flip_pairs:
            if a < k and b < k:
                flip[a], flip[b] = b, a
    yolo_files.write_data_yaml(root, out, f"kpt_shape: [{k}, 3]\n"
                                          f"flip_idx: [{', '.join(map(str, flip))}]\n")


def detect(source: Source) -> int:
    files = source.files()
    if not yolo_files.has_layout(files):
        return 0
    return 95 if _shape(source, files) is not None else 0


def _shape(source: Source, files: list[str]) -> tuple[int, int, list[int] | None] | None:
    """(k, numbers per point, flip_idx) from data.yaml's kpt_shape, or None without one."""
    path = yolo_files.data_yaml_path(files)
    if path is None:
        return None
    text = source.text(path)
    shape = yolo_files.int_list_from_data_yaml(text, "kpt_shape", path)
    if shape is None:
        return None
    if len(shape) != 2 or shape[0] < 1 or shape[1] not in (2, 3):
        raise FormatError(path, f"kpt_shape must be [points, 2 or 3], got {shape}")
    flip = yolo_files.int_list_from_data_yaml(text, "flip_idx", path)
    if flip is not None and sorted(flip) != list(range(shape[0])):
        raise FormatError(path, f"flip_idx must list each of the {shape[0]} points once, "
                                f"got {flip}")
    return shape[0], shape[1], flip


def read(source: Source, context: ReadContext) -> ReadResult:
    files = source.files()
    names = yolo_files.class_names(source, files) or list(context.labels)
    found = _shape(source, files)
    if found is None:
        raise FormatError(yolo_files.data_yaml_path(files) or "data.yaml",
                          "YOLO pose needs kpt_shape: [points, 3] in data.yaml")
    k, ndim, flip = found
    columns = 5 + k * ndim

    def check(path: str, number: int, fields: list[str]) -> None:
        if len(fields) != columns:
            raise FormatError(path, f"expected {columns} fields (class, box, {k} points of "
                              f"{ndim} numbers: kpt_shape [{k}, {ndim}]), got {len(fields)}",
                              line=number)

    parsed = yolo_files.read_label_files(source, context, names, check, "numbers")
    result = ReadResult(images=[], labels=names)
    used: dict[str, None] = {}

    def coordinates(values: list[float]) -> Iterator[float]:  # the box, each point's x and y
        return (v for i, v in enumerate(values) if i < 4 or (i - 4) % ndim < 2)

    def fill(path: str, lines: list, image: ImageRecord, scale: tuple[float, float]) -> None:
        sx, sy = scale
        for number, label, values in lines:
            points = [_point(values[4 + i * ndim:4 + (i + 1) * ndim], sx, sy, path, number)
                      for i in range(k)]
            image.annotations.append(Annotation(
                label=label, kind="keypoints", keypoints=points,
                box=yolo_files.centre_box(*values[:4], scale)))
            used[label] = None

    # Read whole: the skeletons (the classes used) are known only once every image is.
    result.images = list(yolo_files.filled_images(parsed, context, result,
                                                  "keypoint instance(s)", fill, coordinates))
    pairs = [(i, j) for i, j in enumerate(flip or []) if i < j]
    result.skeletons = [Skeleton(label=name, keypoints=[f"kp{i}" for i in range(k)],
                                 flip_pairs=pairs, inferred=True) for name in used]
    return result


def _point(values: list[float], sx: float, sy: float, path: str, line: int) -> Keypoint:
    visibility = 2
    if len(values) == 3:
        if values[2] not in (0.0, 1.0, 2.0):
            raise FormatError(path, f"keypoint visibility must be 0, 1 or 2, got {values[2]:g}",
                              line=line)
        visibility = int(values[2])
    if visibility == 0:
        return Keypoint(0.0, 0.0, 0)
    return Keypoint(values[0] * sx, values[1] * sy, visibility)
