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
from annotations.formats.io.source import Source
from annotations.formats.naming import split_name
from annotations.formats.records import Annotation, ImageRecord, ReadResult
from annotations.formats.spec import (
    ExportRoot,
    ExportSet,
    FormatSpec,
    ReadContext,
    ZipSink,
    put_image,
)

SPEC = FormatSpec(
    id="yolo_darknet",
    name="YOLO Darknet",
    family="boxes",
    box_fast_path=True,
    writes_root=True,
    normalized=True,
    description="One .txt of normalized centre boxes per image, classes.txt and data.yaml; "
    "Ultralytics and Darknet train on it.",
    normalized_warning="YOLO readers expect normalized coordinates; absolute pixels will "
    "not train.",
)
CLASS_FILES = ("classes.txt", "obj.names", "_darknet.labels")
LIST_FILES = ("train.txt", "test.txt", "valid.txt", "val.txt")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif")


def write_boxes(export_set: ExportSet, out: ZipSink) -> None:
    """The set from BoxImages (boxes.py): one `%.6f` line per box, `-0.000000` written as 0."""
    folder = export_set.folder
    out.add_bytes(folder + "classes.txt", "".join(f"{n}\n" for n in export_set.label_names))
    index = export_set.class_index
    for image in export_set.images:
        text = "".join(["%d %.6f %.6f %.6f %.6f\n" % (index[label], (x0 + x1) / 2,
                                                       (y0 + y1) / 2, x1 - x0, y1 - y0)
                        for label, x0, y0, x1, y1, _ in image.boxes])
        if "-0.000000" in text:  # "%.6f" of a negative zero is written 0.000000
            text = text.replace("-0.000000", "0.000000")
        out.add_bytes(f"{folder}labels/{split_name(image.file_name)[0]}.txt", text)
        put_image(export_set, out, image, "images/")


def write_root(root: ExportRoot, out: ZipSink) -> None:
    sets = root.set_names or ["train"]
    train = "train" if "train" in sets else sets[0]
    # val: valid/ when there is one, else test/; a missing set: both name the one that exists.
    val = "valid" if "valid" in sets else "test" if "test" in sets else train
    names = "".join(f"  - {_yaml_string(label.name)}\n" for label in root.labels)
    text = f"names:\n{names}" if names else "names: []\n"
    text += f"nc: {len(root.labels)}\ntrain: {train}/images\nval: {val}/images\n"
    if val == "valid" and "test" in sets:
        text += "test: test/images\n"
    out.add_bytes(root.folder + "data.yaml", text)


def _yaml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def detect(source: Source) -> int:
    files = source.files()
    has_labels = any("/labels/" in f"/{p}" and p.endswith(".txt") for p in files)
    has_classes = any(posixpath.basename(p) in CLASS_FILES or p.endswith("data.yaml")
                      for p in files)
    if has_labels and has_classes:
        return 90
    if has_classes and any(p.endswith(".txt") and posixpath.basename(p) not in CLASS_FILES
                           for p in files):
        return 60
    return 0


def read(source: Source, context: ReadContext) -> ReadResult:
    files = source.files()
    names = _class_names(source, files) or list(context.labels)
    image_files = {split_name(posixpath.basename(p))[0]: posixpath.basename(p)
                   for p in files if p.lower().endswith(IMAGE_EXTENSIONS)}
    parsed = []
    for path in files:
        base = posixpath.basename(path)
        if not path.endswith(".txt") or base in CLASS_FILES or base in LIST_FILES:
            continue
        stem = split_name(base)[0]
        file_name = image_files.get(stem) or context.name_for_stem(stem) or stem + ".jpg"
        parsed.append((path, file_name, _read_label_file(source, path, names)))
    # Ultralytics always writes fractions; a file with any value above 1 was written in pixels.
    normalized = all(v <= 1.0 for _, _, boxes in parsed for box in boxes for v in box[1:])
    result = ReadResult(images=[], labels=names)
    for path, file_name, boxes in parsed:
        size = context.size_of(file_name)
        if size is None:
            # Not an error: a Roboflow zip may hold a valid/ set whose images were not uploaded.
            # The image is reported as unmatched; its boxes cannot be placed without its size.
            result.notes.append(f"{path}: no image {file_name!r} in the dataset; its "
                                f"{len(boxes)} box(es) are skipped")
            result.images.append(ImageRecord(file_name=file_name, width=0, height=0))
            continue
        result.images.append(_image(file_name, boxes, size, normalized))
    return result


def _image(file_name: str, boxes: list, size: tuple[int, int], normalized: bool) -> ImageRecord:
    width, height = size
    sx, sy = (width, height) if normalized else (1, 1)
    annotations = [Annotation(label=label, kind="box",
                              box=((cx - w / 2) * sx, (cy - h / 2) * sy,
                                   (cx + w / 2) * sx, (cy + h / 2) * sy))
                   for label, cx, cy, w, h in boxes]
    return ImageRecord(file_name=file_name, width=width, height=height, annotations=annotations)


def _class_names(source: Source, files: list[str]) -> list[str]:
    for base in CLASS_FILES:
        for path in files:
            if posixpath.basename(path) == base:
                return [line.strip() for line in source.text(path).splitlines() if line.strip()]
    for path in files:
        if posixpath.basename(path) == "data.yaml":
            return _names_from_data_yaml(source.text(path))
    return []


def _names_from_data_yaml(text: str) -> list[str]:
    """The `names:` list of a data.yaml, as a list or an inline [a, b] (no YAML library needed)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("names:"):
            rest = line[len("names:"):].strip()
            if rest.startswith("["):
                return [_unquote(v) for v in rest.strip("[]").split(",") if v.strip()]
            names = []
            for item in lines[i + 1:]:
                stripped = item.strip()
                if stripped.startswith("- "):
                    names.append(_unquote(stripped[2:]))
                elif ":" in stripped and stripped.split(":", 1)[0].strip().isdigit():
                    names.append(_unquote(stripped.split(":", 1)[1]))
                elif stripped:
                    break
            return names
    return []


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


def _read_label_file(source: Source, path: str,
                     names: list[str]) -> list[tuple[str, float, float, float, float]]:
    boxes = []
    for number, line in enumerate(source.text(path).splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 5:
            raise FormatError(path, f"expected 5 numbers, got {len(fields)}", line=number)
        try:
            class_id = int(fields[0])
            cx, cy, w, h = (float(v) for v in fields[1:])
        except ValueError:
            raise FormatError(path, "expected a class id and 4 numbers", line=number) from None
        if not 0 <= class_id < len(names):
            raise FormatError(path, f"class id {class_id} is not in the class list "
                              f"({len(names)} classes)", line=number)
        if any(v != v or v in (float("inf"), float("-inf")) for v in (cx, cy, w, h)):
            raise FormatError(path, "NaN or infinite coordinate", line=number)
        boxes.append((names[class_id], cx, cy, w, h))
    return boxes
