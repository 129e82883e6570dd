"""What the three CSV formats share (FORMATS.md §4 "CSV", §6): writing, header matching, cells.

Written: UTF-8, comma separated, `\\n` line ends, header row first, streamed through
`out.open_text` so a large set never sits in memory. The `class`/`label` column is text: a cell
starting with `= + - @`, tab or carriage return gets a `'` prefix (spreadsheet formula injection);
numeric columns are never altered, and file names never need it (the pipeline renames them).

Read: columns are found by name (any order, case-insensitive, surrounding spaces ignored), with the
aliases Datature's tools and the TF `generate_tfrecord.py` family use; unknown extra columns are
ignored. One `'` is stripped from a label or file name cell only when a formula character follows
it, which is exactly what the writer adds (a label that really starts with `'=` cannot be told
apart). Coordinates are fractions when every one in the upload is within [0, 1] (`sizes.py`); they
are then scaled by the row's width/height columns, else by the dataset's size of that image, and a
row for an image of unknown size is refused with its line number.
"""

from __future__ import annotations

import csv
import io
import math
import posixpath
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from annotations.formats.errors import FormatError
from annotations.formats.families.boxes import BoxImage
from annotations.formats.io.sizes import SizeLookup, all_fractions, scale_box
from annotations.formats.io.source import Source
from annotations.formats.numbers import formatter
from annotations.formats.records import Annotation, ImageRecord, ReadResult
from annotations.formats.spec import ExportSet, ReadContext, ZipSink, put_image

FORMULA_CELL_STARTS = ("=", "+", "-", "@", "\t", "\r")
ANNOTATIONS_CSV = "_annotations.csv"
ALIASES: dict[str, tuple[str, ...]] = {
    "filename": ("filename", "image_name", "file_name", "image"),
    "xmin": ("xmin", "x_min"),
    "ymin": ("ymin", "y_min"),
    "xmax": ("xmax", "x_max"),
    "ymax": ("ymax", "y_max"),
    "width": ("width",),
    "height": ("height",),
    "label": ("label", "class"),
}
BOX_COLUMNS = ("xmin", "ymin", "xmax", "ymax")


def text_cell(value: str) -> str:
    """A class/label cell, made safe to open in a spreadsheet."""
    return "'" + value if value.startswith(FORMULA_CELL_STARTS) else value


# Characters for which csv.writer (excel dialect, "\n" line ends) may quote a cell; a text without
# any is written as it is.
_MAY_QUOTE = re.compile('[,"\x00-\x1f]')


def csv_text(text: str) -> str:
    """One text cell exactly as csv.writer writes it inside a row (quoted only when needed)."""
    if not _MAY_QUOTE.search(text):
        return text
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([text, ""])
    return buffer.getvalue()[:-2]  # the cell, without ",\n"


class LabelCells(dict):
    """label -> its class/label cell (formula prefix, quoting), computed once per label."""

    def __missing__(self, label: str) -> str:
        cell = self[label] = csv_text(text_cell(label))
        return cell


def read_text_cell(value: str) -> str:
    if value.startswith("'") and value[1:2] and value[1:].startswith(FORMULA_CELL_STARTS):
        return value[1:]
    return value


# One image's rows of a box CSV, "\n"-terminated: (the image, the number formatter, the label
# cells) -> the text.
BoxRows = Callable[[BoxImage, Callable[[float], str], LabelCells], str]


def write_box_csv(export_set: ExportSet, out: ZipSink, header: list[str],
                  rows: BoxRows) -> None:
    """Both box formats: the set from BoxImages (boxes.py), rows as csv.writer writes them; an
    image without boxes has no row (its file is still added)."""
    number = formatter(export_set.normalized)
    labels = LabelCells()
    with out.open_text(export_set.folder + ANNOTATIONS_CSV) as handle:
        handle.write(",".join(header) + "\n")
        for image in export_set.images:
            if image.boxes:
                handle.write(rows(image, number, labels))
            put_image(export_set, out, image)


@contextmanager
def csv_writer(out, path: str, header: list[str]) -> Iterator:
    """A csv.writer on a spooled zip member, header already written."""
    handle = out.open_text(path)
    try:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        yield writer
    finally:
        handle.close()


def csv_files(source: Source) -> list[str]:
    """Every CSV of the upload, `_annotations.csv` files (one per set) first."""
    found = [p for p in source.files() if p.lower().endswith(".csv")]
    return sorted(found, key=lambda p: (posixpath.basename(p) != ANNOTATIONS_CSV, p))


def columns_of(header: list[str]) -> dict[str, int]:
    """Canonical column name -> index, for the header names this library knows."""
    names = [cell.strip().lower() for cell in header]
    found: dict[str, int] = {}
    for canonical, aliases in ALIASES.items():
        for alias in aliases:
            if alias in names:
                found[canonical] = names.index(alias)
                break
    return found


@dataclass
class CsvTable:
    """One CSV file: its header, where each known column is, and its rows with line numbers."""

    path: str
    header: list[str]
    columns: dict[str, int]
    rows: list[tuple[int, list[str]]]

    def require(self, *names: str) -> None:
        missing = [n for n in names if n not in self.columns]
        if missing:
            plural = "s" if len(missing) > 1 else ""
            raise FormatError(self.path, f"missing column{plural} {', '.join(missing)} "
                              f"(the header is: {','.join(self.header)})", line=1)

    def name(self, column: str) -> str:
        """The column's name as the file spells it, for messages."""
        return self.header[self.columns[column]].strip()

    def text(self, row: list[str], line: int, column: str) -> str:
        value = read_text_cell(row[self.columns[column]].strip())
        if not value:
            raise FormatError(self.path, f"column {self.name(column)} is empty", line=line)
        return value

    def number(self, row: list[str], line: int, column: str) -> float:
        cell = row[self.columns[column]].strip()
        try:
            value = float(cell)
        except ValueError:
            raise FormatError(self.path, f"column {self.name(column)} is not a number: "
                              f"{cell!r}", line=line) from None
        if not math.isfinite(value):
            raise FormatError(self.path, f"column {self.name(column)} is not a finite number: "
                              f"{cell!r}", line=line)
        return value


def read_table(source: Source, path: str) -> CsvTable:
    text = source.text(path)
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # blank lines (a trailing newline, spreadsheet padding)
            if header is None:
                header = row
                continue
            if len(row) != len(header):
                raise FormatError(path, f"expected {len(header)} columns, got {len(row)}",
                                  line=reader.line_num)
            rows.append((reader.line_num, row))
    except csv.Error as exc:
        raise FormatError(path, f"invalid CSV: {exc}", line=reader.line_num) from None
    if header is None:
        raise FormatError(path, "the file is empty (no header row)")
    return CsvTable(path, header, columns_of(header), rows)


def header_of(source: Source, path: str) -> list[str]:
    """The first row only, for detection (a broken file just yields no header)."""
    try:
        first = source.read(path)[:4096].decode("utf-8-sig", errors="replace")
    except (OSError, KeyError):
        return []
    line = first.splitlines()[0] if first.strip() else ""
    return next(csv.reader([line]), [])


def detect_csv(source: Source, exact: list[str], required: tuple[str, ...],
               forbidden: tuple[str, ...] = ()) -> int:
    """95 for this format's own header, 80 for a known variant (FORMATS.md §6), else 0."""
    best = 0
    for path in csv_files(source):
        header = header_of(source, path)
        names = [cell.strip().lower() for cell in header]
        columns = columns_of(header)
        if names == exact:
            best = max(best, 95)
        elif all(c in columns for c in required) and not any(c in columns for c in forbidden):
            best = max(best, 80)
    return best


# One row of a box CSV: file name, label, (xmin, ymin, xmax, ymax), image size if the row has it.
BoxRow = tuple[str, str, tuple[float, float, float, float], tuple[int, int] | None]


@dataclass
class _Image:
    path: str
    line: int  # the image's first row, for messages
    file_name: str
    size: tuple[int, int] | None  # from the file's own width/height columns
    boxes: list[tuple[str, tuple[float, float, float, float]]]


def read_box_tables(source: Source, context: ReadContext, required: tuple[str, ...],
                    parse_row: Callable[[CsvTable, int, list[str]], BoxRow]) -> ReadResult:
    """Both box formats: rows -> images (one record per file name per CSV, in first-row order)."""
    pending: dict[tuple[str, str], _Image] = {}
    labels: dict[str, None] = {}
    for path in csv_files(source):
        table = read_table(source, path)
        table.require(*required)
        for line, row in table.rows:
            file_name, label, box, size = parse_row(table, line, row)
            image = pending.setdefault((path, file_name), _Image(path, line, file_name, size, []))
            image.boxes.append((label, box))
            labels.setdefault(label, None)
    normalized = all_fractions([v for i in pending.values() for _, box in i.boxes for v in box])
    lookup = SizeLookup(source, context)
    images = []
    for image in pending.values():
        if normalized and image.size is None and lookup.size(image.file_name) is None:
            raise FormatError(image.path, f"no image {image.file_name!r} in the dataset, so its "
                              "normalized boxes cannot be placed", line=image.line)
        width, height = image.size or lookup.size_or_unknown(image.file_name)
        annotations = [Annotation(label=label, kind="box",
                                  box=scale_box(box, width, height, normalized))
                       for label, box in image.boxes]
        images.append(ImageRecord(file_name=image.file_name, width=width, height=height,
                                  annotations=annotations))
    return ReadResult(images=images, labels=list(labels), notes=lookup.notes())
