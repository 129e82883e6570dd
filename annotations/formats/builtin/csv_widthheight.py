"""CSV Width Height: one row per box, top-left corner plus the box's width and height.

    <top>/train/_annotations.csv    filename,xmin,ymin,width,height,label
                                    street.jpg,10,20,100.5,200.25,car
    <top>/train/<file>              the images, beside the CSV (Include images)

`width`/`height` here are the box's (FORMATS.md §4), unlike CSV Four Corners where they are the
image's; a header with `xmax`/`ymax` is therefore refused rather than guessed. Images without
boxes are left out by the pipeline. Import also reads `image_name,x_min,y_min,...` names in any
column order; image sizes come from the dataset.
"""

from __future__ import annotations

from collections.abc import Callable

from annotations.formats.errors import FormatError
from annotations.formats.families import csv_common
from annotations.formats.families.boxes import BoxImage
from annotations.formats.io.source import Source
from annotations.formats.naming import RenameRules
from annotations.formats.records import ReadResult
from annotations.formats.spec import ExportSet, ReadContext, ZipSink, box_format

SPEC = box_format(
    "csv_widthheight", "CSV Width Height",
    "One _annotations.csv per set, a row per box as top-left corner, width and "
    "height; spreadsheets, pandas and Datature's tools read it.",
    skips_empty=True, rename=RenameRules(formula_start=True),
    normalized_warning="Width-height CSV readers expect pixels; fractions will be read as "
    "boxes under one pixel.",
)
HEADER = ["filename", "xmin", "ymin", "width", "height", "label"]
REQUIRED = ("filename", "xmin", "ymin", "width", "height", "label")


def write_boxes(export_set: ExportSet, out: ZipSink) -> None:
    csv_common.write_box_csv(export_set, out, HEADER, _rows)


def _rows(image: BoxImage, number: Callable[[float], str], labels: csv_common.LabelCells) -> str:
    name = csv_common.csv_text(image.file_name)
    return "".join([f"{name},{number(x0)},{number(y0)},{number(x1 - x0)},{number(y1 - y0)},"
                    f"{labels[label]}\n" for label, x0, y0, x1, y1, _ in image.boxes])


def detect(source: Source) -> int:
    return csv_common.detect_csv(source, HEADER, REQUIRED, forbidden=("xmax", "ymax"))


def read(source: Source, context: ReadContext) -> ReadResult:
    return csv_common.read_box_tables(source, context, REQUIRED, _parse_row)


def _parse_row(table: csv_common.CsvTable, line: int, row: list[str]) -> csv_common.BoxRow:
    if "xmax" in table.columns or "ymax" in table.columns:
        raise FormatError(table.path, "the header has xmax/ymax columns, so width/height are "
                          "the image's: this is a CSV Four Corners file", line=1)
    x, y, w, h = table.numbers(row, line, ("xmin", "ymin", "width", "height"))
    if w < 0 or h < 0:
        raise FormatError(table.path, f"negative box width or height ({w}, {h})", line=line)
    file_name, label = table.text(row, line, "filename"), table.text(row, line, "label")
    return file_name, label, (x, y, x + w, y + h), None
