"""CSV Four Corners: one row per box with the image size and the box corners (FORMATS.md §4).

    <top>/train/_annotations.csv    filename,width,height,class,xmin,ymin,xmax,ymax
                                    street.jpg,640,480,car,10,20,110.5,220.25
    <top>/train/<file>              the images, beside the CSV (Include images)

The header of TensorFlow's `generate_tfrecord.py` and Kaggle notebooks; `width`/`height` are the
image's. Images without boxes cannot be written (a row is a box): the pipeline leaves them out.
Import also reads `filename,xmin,ymin,xmax,ymax,label` and `image_name,x_min,...,label` in any
column order (FORMATS.md §6); without width/height columns the dataset's sizes are used.
"""

from __future__ import annotations

from collections.abc import Callable

from annotations.formats.families import csv_common
from annotations.formats.families.boxes import BoxImage
from annotations.formats.io.source import Source
from annotations.formats.naming import RenameRules
from annotations.formats.records import ReadResult
from annotations.formats.spec import ExportSet, ReadContext, ZipSink, box_format

SPEC = box_format(
    "csv_fourcorner", "CSV Four Corners",
    "One _annotations.csv per set, a row per box with the image size and corner "
    "coordinates; TensorFlow's generate_tfrecord.py and pandas-based notebooks read it.",
    skips_empty=True, rename=RenameRules(formula_start=True),
    normalized_warning="Four-corner CSV readers such as generate_tfrecord.py expect pixels and "
    "divide by width/height themselves; fractions will come out wrong.",
)
HEADER = ["filename", "width", "height", "class", "xmin", "ymin", "xmax", "ymax"]
REQUIRED = ("filename", "label", "xmin", "ymin", "xmax", "ymax")


def write_boxes(export_set: ExportSet, out: ZipSink) -> None:
    csv_common.write_box_csv(export_set, out, HEADER, _rows)


def _rows(image: BoxImage, number: Callable[[float], str], labels: csv_common.LabelCells) -> str:
    start = f"{csv_common.csv_text(image.file_name)},{image.width},{image.height},"
    return "".join([f"{start}{labels[label]},{number(x0)},{number(y0)},{number(x1)},"
                    f"{number(y1)}\n" for label, x0, y0, x1, y1, _ in image.boxes])


def detect(source: Source) -> int:
    return csv_common.detect_csv(source, HEADER, REQUIRED)


def read(source: Source, context: ReadContext) -> ReadResult:
    return csv_common.read_box_tables(source, context, REQUIRED, _parse_row)


def _parse_row(table: csv_common.CsvTable, line: int, row: list[str]) -> csv_common.BoxRow:
    size = None
    if "width" in table.columns and "height" in table.columns:
        *box, width, height = table.numbers(row, line, _BOX_AND_SIZE)
        width, height = int(width), int(height)
        size = (width, height) if width > 0 and height > 0 else None
    else:
        box = table.numbers(row, line, csv_common.BOX_COLUMNS)
    return (table.text(row, line, "filename"), table.text(row, line, "label"), tuple(box),
            size)


_BOX_AND_SIZE = (*csv_common.BOX_COLUMNS, "width", "height")
