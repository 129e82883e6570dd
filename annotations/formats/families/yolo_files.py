"""What the three Ultralytics layouts share (YOLO Darknet, YOLO Segmentation, YOLO Pose).

    <top>/data.yaml                 names, nc, train/val/test image folders (+ pose keys)
    <top>/<set>/classes.txt         one class name a line, line index = class id
    <top>/<set>/labels/<stem>.txt   one line per object, 6-decimal fractions
    <top>/<set>/images/<file>

Readers also take Ultralytics' own layout (`images/<set>/` beside `labels/<set>/`): sets are
found by `io/reading.read_by_set`, files here are matched by stem.
"""

from __future__ import annotations

import posixpath
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from annotations.formats.errors import FormatError
from annotations.formats.io.source import Source
from annotations.formats.naming import IMAGE_EXTENSIONS, split_name
from annotations.formats.records import BoxTuple, ImageRecord, ReadResult
from annotations.formats.spec import ExportRoot, ExportSet, ReadContext, ZipSink, put_image

CLASS_FILES = ("classes.txt", "obj.names", "_darknet.labels")
LIST_FILES = ("train.txt", "test.txt", "valid.txt", "val.txt")
DETECT_PEEK = 20  # label files looked into by detect(): an export's files are all alike


# --- writing ------------------------------------------------------------------------------------

def write_class_list(export_set: ExportSet, out: ZipSink) -> None:
    out.add_bytes(export_set.folder + "classes.txt",
                  "".join(f"{name}\n" for name in export_set.label_names))


def label_path(export_set: ExportSet, file_name: str) -> str:
    return f"{export_set.folder}labels/{split_name(file_name)[0]}.txt"


def write_label_files(export_set: ExportSet, out: ZipSink, label_text: Callable[[Any], str]
                      ) -> None:
    """classes.txt, then per image its `labels/<stem>.txt` (`label_text(image)`, the image an
    ImageRecord or, on the box fast path, a BoxImage) and its file under `images/`."""
    write_class_list(export_set, out)
    for image in export_set.images:
        out.add_bytes(label_path(export_set, image.file_name), label_text(image))
        put_image(export_set, out, image, "images/")


# What the popup says when Normalized is turned off for the Ultralytics layouts (fractions only:
# values above 1 make a label "corrupt").
NORMALIZED_WARNING = "Ultralytics expects normalized coordinates; absolute pixels will not train."


def fractions(values: list[float]) -> str:
    """`%.6f` of each value, space separated; `-0.000000` written 0.000000."""
    text = " ".join(["%.6f" % v for v in values])
    return text.replace("-0.000000", "0.000000") if "-0.000000" in text else text


def data_yaml(root: ExportRoot, extra: str = "") -> str:
    """Ultralytics' data.yaml: names, nc, the set folders (no `path`, so `yolo train
    data=<root>/data.yaml` finds them beside the file), then `extra` lines."""
    sets = root.set_names or ["train"]
    train = "train" if "train" in sets else sets[0]
    # val: valid/ when there is one, else test/; a missing set: both name the one that exists.
    val = "valid" if "valid" in sets else "test" if "test" in sets else train
    names = "".join(f"  - {yaml_string(label.name)}\n" for label in root.labels)
    text = f"names:\n{names}" if names else "names: []\n"
    text += f"nc: {len(root.labels)}\ntrain: {train}/images\nval: {val}/images\n"
    if val == "valid" and "test" in sets:
        text += "test: test/images\n"
    return text + extra


def write_data_yaml(root: ExportRoot, out: ZipSink, extra: str = "") -> None:
    out.add_bytes(root.folder + "data.yaml", data_yaml(root, extra))


def yaml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


# --- reading ------------------------------------------------------------------------------------

def is_label_file(path: str) -> bool:
    base = posixpath.basename(path)
    return path.endswith(".txt") and base not in CLASS_FILES and base not in LIST_FILES


def has_layout(files: list[str]) -> bool:
    """labels/*.txt beside a class list or a data.yaml."""
    has_labels = any("/labels/" in f"/{p}" and p.endswith(".txt") for p in files)
    return has_labels and (has_class_list(files) or data_yaml_path(files) is not None)


def has_class_list(files: list[str]) -> bool:
    return any(posixpath.basename(p) in CLASS_FILES for p in files)


def data_yaml_path(files: list[str]) -> str | None:
    return next((p for p in files if posixpath.basename(p) in ("data.yaml", "data.yml")), None)


def column_counts(source: Source, files: list[str]) -> set[int]:
    """The numbers of fields of the lines of a few label files (what tells the layouts apart)."""
    counts: set[int] = set()
    for path in [p for p in files if "/labels/" in f"/{p}" and is_label_file(p)][:DETECT_PEEK]:
        counts.update(len(line.split()) for line in source.text(path).splitlines()
                      if line.strip())
    return counts


def class_names(source: Source, files: list[str]) -> list[str]:
    for base in CLASS_FILES:
        for path in files:
            if posixpath.basename(path) == base:
                return [line.strip() for line in source.text(path).splitlines() if line.strip()]
    path = data_yaml_path(files)
    return names_from_data_yaml(source.text(path)) if path else []


def names_from_data_yaml(text: str) -> list[str]:
    """The `names:` list of a data.yaml, as a list, an inline [a, b] or `0: a` lines (no YAML
    library needed)."""
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


def int_list_from_data_yaml(text: str, key: str, path: str) -> list[int] | None:
    """`key: [1, 2]` or a `- 1` block list of a data.yaml; None when the key is absent."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith(f"{key}:"):
            continue
        rest = line[len(key) + 1:].split("#", 1)[0].strip()
        items = rest.strip("[]").split(",") if rest else \
            [item.strip()[2:] for item in _block(lines[i + 1:])]
        try:
            return [int(v) for v in items if v.strip()]
        except ValueError:
            raise FormatError(path, f"{key} must be a list of whole numbers, got {rest!r}",
                              line=i + 1) from None
    return None


def _block(lines: list[str]) -> Iterator[str]:
    for line in lines:
        if not line.strip().startswith("- "):
            return
        yield line


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


def image_names(files: list[str]) -> dict[str, str]:
    """Image stem -> file name, for the images in the upload."""
    return {split_name(posixpath.basename(p))[0]: posixpath.basename(p)
            for p in files if p.lower().endswith(IMAGE_EXTENSIONS)}


def label_files(source: Source, context: ReadContext) -> Iterator[tuple[str, str]]:
    """(label file path, the image's file name) for every label file of the upload."""
    files = source.files()
    images = image_names(files)
    for path in files:
        if is_label_file(path):
            stem = split_name(posixpath.basename(path))[0]
            yield path, images.get(stem) or context.name_for_stem(stem) or stem + ".jpg"


_INFINITIES = (float("inf"), float("-inf"))


def numbers_of_line(path: str, number: int, fields: list[str], names: list[str],
                    expected: str = "numbers") -> tuple[str, list[float]]:
    """A label line's class name and numbers; a bad id or value is refused with the line."""
    try:
        class_id = int(fields[0])
        values = [float(v) for v in fields[1:]]
    except ValueError:
        raise FormatError(path, f"expected a class id and {expected}", line=number) from None
    if not 0 <= class_id < len(names):
        raise FormatError(path, f"class id {class_id} is not in the class list "
                          f"({len(names)} classes)", line=number)
    total = sum(values)  # finite when every value is: one test per line, not one per value
    if (total != total or total in _INFINITIES) and any(
            v != v or v in _INFINITIES for v in values):
        raise FormatError(path, "NaN or infinite coordinate", line=number)
    return names[class_id], values


# Fractions written by other tools overshoot 1 by float error (1.0000001, 1.001); a value this far
# above 1 still means the file holds fractions, and import cleaning clamps it to the image.
FRACTION_SLACK = 1.01


def are_fractions(values: Iterable[float]) -> bool:
    """Whether a label file set is normalized (Ultralytics always is); pixels otherwise."""
    return all(v <= FRACTION_SLACK for v in values)


Fill = Callable[[str, list, ImageRecord, tuple[float, float]], None]


def filled_images(parsed: list[LabelFile], context: ReadContext, result: ReadResult, what: str,
                  fill: Fill, coordinates: Callable[[list[float]], Iterable[float]] | None = None
                  ) -> Iterator[ImageRecord]:
    """Every label file's image record, in order; `fill(label file, its lines, the record, the
    coordinates' scale)` gives it its annotations when the image's size is known.
    `coordinates(numbers)` picks a line's coordinates where not all its numbers are (pose lines
    also hold visibilities).

    A file whose image is not in the dataset is not an error: a Roboflow zip may hold a valid/
    set whose images were not uploaded. The image is reported as unmatched (a note in `result`);
    its shapes cannot be placed without its size."""
    # Ultralytics always writes fractions; a set with any coordinate above 1 was written in pixels.
    if coordinates is None:
        stores = {id(f.store): f.store for f in parsed}.values()
        normalized = all(max(store.values, default=0.0) <= FRACTION_SLACK for store in stores)
    else:
        normalized = are_fractions(v for f in parsed for _, _, values in f.lines()
                                   for v in coordinates(values))
    for label_file in parsed:
        file_name, lines = label_file.file_name, label_file.lines()
        size = context.size_of(file_name)
        if size is None:
            result.notes.append(f"{label_file.path}: no image {file_name!r} in the dataset; "
                                f"its {len(lines)} {what} are skipped")
            yield ImageRecord(file_name=file_name, width=0, height=0)
            continue
        image = ImageRecord(file_name=file_name, width=size[0], height=size[1])
        fill(label_file.path, lines, image,
             (float(size[0]), float(size[1])) if normalized else (1.0, 1.0))
        yield image


def centre_box(cx: float, cy: float, w: float, h: float,
               scale: tuple[float, float]) -> BoxTuple:
    """A YOLO centre box (cx cy w h) as corners, scaled (fractions times the image size)."""
    sx, sy = scale
    return ((cx - w / 2) * sx, (cy - h / 2) * sy, (cx + w / 2) * sx, (cy + h / 2) * sy)


Parsed = tuple[int, str, list[float]]  # a line's number, class name and numbers


class LabelLines:
    """Every label file's lines of one read, in flat arrays the files share: about 50 bytes a
    box and 70 a file (arrays of their own cost every file about 400 bytes more). Line numbers
    and positions are 32-bit: a read holds far fewer than 2**31 numbers."""

    __slots__ = ("numbers", "labels", "values", "ends")

    def __init__(self) -> None:
        self.numbers = array("i")  # each line's number in its file
        self.labels: list[str] = []  # each line's class name
        self.values = array("d")  # every line's numbers in turn
        self.ends = array("i")  # where each line's numbers end


@dataclass(slots=True)
class LabelFile:
    """One label file: its lines are `store`'s lines first to last (exclusive)."""

    path: str
    file_name: str  # the image it labels
    store: LabelLines
    first: int
    last: int

    def lines(self) -> list[Parsed]:
        store, lines = self.store, []
        values, ends = store.values, store.ends
        start = ends[self.first - 1] if self.first else 0
        for i in range(self.first, self.last):
            end = ends[i]
            lines.append((store.numbers[i], store.labels[i], values[start:end].tolist()))
            start = end
        return lines


def read_label_files(source: Source, context: ReadContext, names: list[str],
                     check: Callable[[str, int, list[str]], None], what: str) -> list[LabelFile]:
    """Every label file, each line's field count vouched for by `check(path, line number,
    fields)` and its class id and numbers by `numbers_of_line`."""
    store, parsed = LabelLines(), []
    numbers, labels, values, ends = store.numbers, store.labels, store.values, store.ends
    for path, file_name in label_files(source, context):
        first = len(numbers)
        for number, line in enumerate(source.text(path).splitlines(), start=1):
            fields = line.split()
            if fields:
                check(path, number, fields)
                label, line_values = numbers_of_line(path, number, fields, names, what)
                numbers.append(number)
                labels.append(label)
                values.extend(line_values)
                ends.append(len(values))
        parsed.append(LabelFile(path, file_name, store, first, len(numbers)))
    return parsed
