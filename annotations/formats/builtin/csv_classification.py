"""CSV Classification: one row per (image, class tag).

    <top>/train/_annotations.csv    filename,label
                                    street.jpg,car
                                    Bild ü.png,café
                                    Bild ü.png,person
    <top>/train/<file>              the images, beside the CSV (Include images)

Only image-level tags are exported; images without a tag are left out by the pipeline (reason
"no class"). A tag repeated on one image is written once. Import also reads `image_name` and
`class` column names, any column order; rows repeating an (image, class) pair count once.
"""

from __future__ import annotations

from annotations.formats.families import csv_common
from annotations.formats.io.sizes import SizeLookup
from annotations.formats.io.source import Source
from annotations.formats.naming import RenameRules
from annotations.formats.records import ReadResult
from annotations.formats.spec import ExportSet, FormatSpec, ReadContext, ZipSink, put_image

SPEC = FormatSpec(
    id="csv_classification",
    name="CSV Classification",
    family="classification",
    normalized=None,
    description="One _annotations.csv per set, a filename,label row per image tag; pandas, "
    "Keras flow_from_dataframe and spreadsheets read it.",
    skips_empty=True,
    rename=RenameRules(formula_start=True),
)
HEADER = ["filename", "label"]
REQUIRED = ("filename", "label")


def write_set(export_set: ExportSet, out: ZipSink) -> None:
    path = export_set.folder + csv_common.ANNOTATIONS_CSV
    with csv_common.csv_writer(out, path, HEADER) as writer:
        for image in export_set.images:
            for label in dict.fromkeys(a.label for a in image.annotations):
                writer.writerow([image.file_name, csv_common.text_cell(label)])
            put_image(export_set, out, image)


def detect(source: Source) -> int:
    # A box CSV also has filename and label columns: its coordinates tell it apart.
    return csv_common.detect_csv(source, HEADER, REQUIRED, forbidden=csv_common.BOX_COLUMNS)


def read(source: Source, context: ReadContext) -> ReadResult:
    tags: dict[tuple[str, str], dict[str, None]] = {}  # (csv, file name) -> labels in order
    labels: dict[str, None] = {}
    for path in csv_common.csv_files(source):
        table = csv_common.read_table(source, path)
        table.require(*REQUIRED)
        for line, row in table.rows:
            file_name, label = _parse_row(table, line, row)
            tags.setdefault((path, file_name), {})[label] = None
            labels.setdefault(label, None)
    lookup = SizeLookup(source, context)
    images = [lookup.tagged_image(file_name, names) for (_, file_name), names in tags.items()]
    return ReadResult(images=images, labels=list(labels), notes=lookup.notes())


def _parse_row(table: csv_common.CsvTable, line: int, row: list[str]) -> tuple[str, str]:
    return table.text(row, line, "filename"), table.text(row, line, "label")
