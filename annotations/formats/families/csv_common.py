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
from array import array
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
    """One CSV file: its header, where each known column is, and its rows with line numbers
    (read as they are iterated, once: a million rows never sit in memory as lists)."""

    path: str
    header: list[str]
    columns: dict[str, int]
    rows: Iterator[tuple[int, list[str]]]

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

    def numbers(self, row: list[str], line: int, columns: tuple[str, ...]) -> tuple[float, ...]:
        """`number` of each column: one conversion of the row when every cell is a finite number
        (float() ignores the surrounding spaces `number` strips), else `number`'s message."""
        try:
            values = tuple([float(row[self.columns[column]]) for column in columns])
        except ValueError:
            values = ()
        if not values or not math.isfinite(sum(values)):  # a sum may overflow: checked again
            return tuple([self.number(row, line, column) for column in columns])
        return values


def read_table(source: Source, path: str) -> CsvTable:
    """The file read as a stream: its text never sits in memory whole."""
    rows = _rows(source, path)
    header = next(rows, None)
    if header is None:
        raise FormatError(path, "the file is empty (no header row)")
    return CsvTable(path, header[1], columns_of(header[1]), rows)


def _rows(source: Source, path: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of every row that is not blank (a trailing newline, spreadsheet
    padding); every row after the first (the header) has as many cells as the first."""
    with io.TextIOWrapper(source.open(path), encoding="utf-8-sig", newline="") as text:
        reader = csv.reader(text)
        width = None
        try:
            for row in reader:
                if not row or not (row[0].strip() or any(cell.strip() for cell in row)):
                    continue
                if width is None:
                    width = len(row)
                elif len(row) != width:
                    raise FormatError(path, f"expected {width} columns, got {len(row)}",
                                      line=reader.line_num)
                yield reader.line_num, row
        except csv.Error as exc:
            raise FormatError(path, f"invalid CSV: {exc}", line=reader.line_num) from None
        except UnicodeDecodeError:
            source.text(path)  # read whole, it says at which byte
            raise


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


def read_box_tables(source: Source, context: ReadContext, required: tuple[str, ...],
                    parse_row: Callable[[CsvTable, int, list[str]], BoxRow]) -> ReadResult:
    """Both box formats: rows -> images (one record per file name per CSV, in first-row order).
    Every row is read and checked before any image is handed over; the images then come one at
    a time when the import streams (`context.stream`)."""
    table = _BoxTable()
    for path in csv_files(source):
        csv_table = read_table(source, path)
        csv_table.require(*required)
        for line, row in csv_table.rows:
            table.add(path, line, *parse_row(csv_table, line, row))
    result = ReadResult(images=[], labels=list(table.labels), notes=[])
    images = table.images(SizeLookup(source, context), result.notes)
    result.images = images if context.stream else list(images)
    return result


class _BoxTable:
    """Every row of the box CSVs in flat arrays (about 40 bytes a box, against about a kilobyte
    as Python objects), grouped into images only when they are handed over. Numbers that count
    rows, lines or labels are 32-bit ("i"): no CSV holds 2**31 rows."""

    def __init__(self) -> None:
        self.index: dict[tuple[str, str], int] = {}  # (csv, file name) -> image number
        self.keys: list[tuple[str, str]] = []
        self.first_lines = array("i")  # each image's first row, for messages
        self.sizes: list[tuple[int, int] | None] = []  # from the file's width/height columns
        self._distinct_sizes: dict[tuple[int, int], tuple[int, int]] = {}  # one tuple per size
        self.labels: dict[str, int] = {}
        self.row_image, self.row_label = array("i"), array("i")
        self.coordinates = array("d")  # xmin, ymin, xmax, ymax of each row

    def add(self, path: str, line: int, file_name: str, label: str,
            box: tuple[float, float, float, float], size: tuple[int, int] | None) -> None:
        number = self.index.get((path, file_name))
        if number is None:
            number = self.index[path, file_name] = len(self.keys)
            self.keys.append((path, file_name))
            self.first_lines.append(line)
            self.sizes.append(size and self._distinct_sizes.setdefault(size, size))
        self.row_image.append(number)
        self.row_label.append(self.labels.setdefault(label, len(self.labels)))
        self.coordinates.extend(box)

    def images(self, lookup: SizeLookup, notes: list[str]) -> Iterator[ImageRecord]:
        normalized = all_fractions(self.coordinates)
        names, coordinates = list(self.labels), self.coordinates
        for number, rows in enumerate(self._rows_by_image()):
            (path, file_name), size = self.keys[number], self.sizes[number]
            if normalized and size is None and lookup.size(file_name) is None:
                raise FormatError(path, f"no image {file_name!r} in the dataset, so its "
                                  "normalized boxes cannot be placed",
                                  line=self.first_lines[number])
            width, height = size or lookup.size_or_unknown(file_name)
            labels = self.row_label
            annotations = [Annotation(label=names[labels[row]], kind="box",
                                      box=scale_box(tuple(coordinates[4 * row:4 * row + 4]),
                                                    width, height, normalized))
                           for row in rows]
            yield ImageRecord(file_name=file_name, width=width, height=height,
                              annotations=annotations)
        notes.extend(lookup.notes())

    def _rows_by_image(self) -> Iterator[array]:
        """Each image's row numbers, in file order (a counting sort over the row arrays)."""
        starts = array("i", [0]) * (len(self.keys) + 1)
        for number in self.row_image:
            starts[number + 1] += 1
        for number in range(len(self.keys)):
            starts[number + 1] += starts[number]
        order, filled = array("i", [0]) * len(self.row_image), array("i", starts)
        for row, number in enumerate(self.row_image):
            order[filled[number]] = row
            filled[number] += 1
        for number in range(len(self.keys)):
            yield order[starts[number]:starts[number + 1]]
