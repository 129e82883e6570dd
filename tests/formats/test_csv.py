"""CSV Four Corners, CSV Width Height and CSV Classification: layout, formula safety, readers."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import replace

import pytest

from annotations.formats import registry
from annotations.formats.builtin import csv_classification, csv_fourcorner, csv_widthheight
from annotations.formats.errors import FormatError
from annotations.formats.families.csv_common import read_text_cell, text_cell
from annotations.formats.io.reading import read_by_set
from annotations.formats.io.source import MemorySource
from annotations.formats.io.zipout import ZipOut
from annotations.formats.pipeline import write_prepared_set
from annotations.formats.records import Label
from annotations.formats.spec import ExportSet, ReadContext

from .helpers import detect_available, detect_own_export, export, image, memory, text

CSV = "train/_annotations.csv"
FORMULA_LABELS = ["=SUM(A1)", "+cmd", "-1", "@home", "plain, with comma"]


def _rows(members: dict[str, bytes]) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text(members, CSV), newline="")))


# -- writing -----------------------------------------------------------------------------------

@pytest.mark.parametrize("value, written", [
    ("=SUM(A1)", "'=SUM(A1)"),  # formula
    ("+cmd", "'+cmd"),
    ("-1", "'-1"),  # a label that looks like a negative number is still text
    ("@home", "'@home"),
    ("\tx", "'\tx"),  # tab and carriage return are spreadsheet triggers too
    ("\rx", "'\rx"),
    ("car", "car"),
    ("a=b", "a=b"),  # only the first character matters
    ("'quoted", "'quoted"),
])
def test_text_cells_get_the_formula_prefix_only_when_they_start_with_a_trigger(value, written):
    assert text_cell(value) == written
    assert read_text_cell(written) == value


def test_fourcorner_writes_the_header_and_one_row_per_box(tmp_path):
    members, manifest = export("csv_fourcorner", tmp_path)
    lines = text(members, CSV).split("\n")
    assert lines[0] == "filename,width,height,class,xmin,ymin,xmax,ymax"
    assert lines[1] == "street.jpg,640,480,car,10,20,110.5,220.25"
    assert lines[-1] == ""  # \n ends every row, the last one too
    assert "\r" not in text(members, CSV)
    assert len(lines) - 2 == manifest["sets"]["train"]["annotations"] == 7


def test_widthheight_writes_the_box_width_and_height(tmp_path):
    members, _ = export("csv_widthheight", tmp_path)
    lines = text(members, CSV).split("\n")
    assert lines[0] == "filename,xmin,ymin,width,height,label"
    assert lines[1] == "street.jpg,10,20,100.5,200.25,car"


@pytest.mark.parametrize("format_id", ["csv_fourcorner", "csv_widthheight"])
def test_box_csvs_leave_images_without_boxes_out_with_no_annotations(format_id, tmp_path):
    images = [image("a.jpg", 1, ("car", (1, 2, 3, 4))), image("b.jpg", 2, tags=("car",)),
              image("c.jpg", 3)]
    members, manifest = export(format_id, tmp_path, images=images, include_images=True)
    assert manifest["left_out"] == [{"file": "b.jpg", "reason": "no annotations"},
                                    {"file": "c.jpg", "reason": "no annotations"}]
    assert manifest["sets"] == {"train": {"images": 1, "annotations": 1}}
    assert [row[0] for row in _rows(members)[1:]] == ["a.jpg"]
    assert "train/a.jpg" in members and "train/b.jpg" not in members


@pytest.mark.parametrize("format_id, label_column", [
    ("csv_fourcorner", 3), ("csv_widthheight", 5), ("csv_classification", 1)])
def test_labels_starting_with_formula_characters_are_prefixed_and_read_back(
        format_id, label_column, tmp_path):
    labels = [Label(name) for name in FORMULA_LABELS]
    images = [image("a.jpg", 1, *((n, (1, 2, 3, 4)) for n in FORMULA_LABELS),
                    tags=tuple(FORMULA_LABELS))]
    members, _ = export(format_id, tmp_path, images=images, dataset_labels=labels)
    assert [row[label_column] for row in _rows(members)[1:]] == [
        "'=SUM(A1)", "'+cmd", "'-1", "'@home", "plain, with comma"]
    assert '"plain, with comma"' in text(members, CSV)  # quoted, not split
    for row in _rows(members)[1:]:  # every other cell but the file name is a plain number
        numbers = [cell for i, cell in enumerate(row) if i not in (0, label_column)]
        assert all(float(cell) >= 0 for cell in numbers), row
    result = registry.get_format(format_id).read(
        memory({CSV: members[CSV]}), ReadContext(image_sizes={"a.jpg": (640, 480)}))
    assert [a.label for a in result.images[0].annotations] == FORMULA_LABELS


@pytest.mark.parametrize("module", [csv_fourcorner, csv_widthheight])
def test_numeric_columns_are_never_prefixed_even_when_negative(module, tmp_path):
    # The pipeline clamps, so negatives never reach a writer; the writer must still not treat a
    # number as text if one ever did.
    out = ZipOut(tmp_path / "direct.zip", image_loader=lambda ref: io.BytesIO(b""))
    export_set = ExportSet(name="train", folder="top/train/", labels=[Label("-1")], skeletons=[],
                           normalized=False, include_images=False,
                           images=iter([image("a.jpg", 1, ("-1", (-5.0, -2.5, 3.0, 4.0)))]))
    write_prepared_set(module, export_set, out)
    out.close()
    with zipfile.ZipFile(tmp_path / "direct.zip") as archive:
        row = archive.read("top/train/_annotations.csv").decode().split("\n")[1].split(",")
    assert "-5" in row and "-2.5" in row and "'-1" in row
    assert not any(cell.startswith("'-5") or cell.startswith("'-2") for cell in row)


def test_file_names_starting_with_formula_characters_are_renamed(tmp_path):
    box = ("car", (1, 2, 3, 4))
    images = [image("=cmd.jpg", 7, box), image("ok.jpg", 8, box)]
    members, manifest = export("csv_fourcorner", tmp_path, images=images)
    assert manifest["renamed"] == [{"from": "=cmd.jpg", "to": "_cmd__7.jpg"}]
    assert [row[0] for row in _rows(members)[1:]] == ["_cmd__7.jpg", "ok.jpg"]


def test_classification_writes_one_row_per_image_and_class(tmp_path):
    images = [image("a.jpg", 1, tags=("cat", "dog", "cat")),
              image("b.jpg", 2, ("car", (1, 2, 3, 4))),  # boxes are not classes
              image("c.jpg", 3, tags=("dog",))]
    members, manifest = export("csv_classification", tmp_path,
                               dataset_labels=[Label("cat"), Label("dog"), Label("car")],
                               images=images)
    assert text(members, CSV) == "filename,label\na.jpg,cat\na.jpg,dog\nc.jpg,dog\n"
    assert manifest["left_out"] == [{"file": "b.jpg", "reason": "no class"}]
    assert manifest["sets"]["train"]["images"] == 2


# -- reading -----------------------------------------------------------------------------------

SIZES = ReadContext(image_sizes={"a.jpg": (200, 100), "b.jpg": (50, 50)})


@pytest.mark.parametrize("header, row", [
    ("filename,width,height,class,xmin,ymin,xmax,ymax", "a.jpg,200,100,car,10,20,30,40"),
    ("filename,xmin,ymin,xmax,ymax,label", "a.jpg,10,20,30,40,car"),  # FORMATS.md §6
    ("image_name,x_min,y_min,x_max,y_max,label", "a.jpg,10,20,30,40,car"),  # Datature's tools
    ("label,ymax,xmax,ymin,xmin,filename", "car,40,30,20,10,a.jpg"),  # any column order
    (" Filename , XMIN,ymin,xmax,ymax,Class,extra", "a.jpg,10,20,30,40,car,ignored"),
])
def test_fourcorner_reader_accepts_the_known_headers(header, row):
    result = csv_fourcorner.read(memory({"x.csv": f"{header}\n{row}\n"}), SIZES)
    assert [(i.file_name, i.width, i.height) for i in result.images] == [("a.jpg", 200, 100)]
    assert [(a.label, a.box) for a in result.images[0].annotations] == [
        ("car", (10.0, 20.0, 30.0, 40.0))]


def test_widthheight_reader_turns_width_and_height_into_corners():
    data = "image_name,x_min,y_min,width,height,label\na.jpg,10,20,5,6,car\n"
    result = csv_widthheight.read(memory({"t/_annotations.csv": data}), SIZES)
    assert result.images[0].annotations[0].box == (10.0, 20.0, 15.0, 26.0)


def test_readers_detect_normalized_coordinates_and_scale_them():
    four = "filename,width,height,class,xmin,ymin,xmax,ymax\na.jpg,200,100,car,0.1,0.2,0.5,1\n"
    box = csv_fourcorner.read(memory({"a.csv": four}), ReadContext()).images[0].annotations[0].box
    assert box == pytest.approx((20, 20, 100, 100))
    wh = "filename,xmin,ymin,width,height,label\nb.jpg,0.5,0.5,0.25,0.5,car\n"
    box = csv_widthheight.read(memory({"a.csv": wh}), SIZES).images[0].annotations[0].box
    assert box == pytest.approx((25, 25, 37.5, 50))


def test_normalized_rows_for_an_unknown_image_are_refused():
    wh = "filename,xmin,ymin,width,height,label\nb.jpg,0.5,0.5,0.2,0.2,car\nz.jpg,0,0,1,1,car\n"
    with pytest.raises(FormatError) as error:
        csv_widthheight.read(memory({"s/_annotations.csv": wh}), SIZES)
    assert str(error.value) == ("s/_annotations.csv line 3: no image 'z.jpg' in the dataset, so "
                                "its normalized boxes cannot be placed")


@pytest.mark.parametrize("module, data, message", [
    (csv_fourcorner, "filename,class,xmin,ymin\na.jpg,car,1,2\n",
     " line 1: missing columns xmax, ymax (the header is: filename,class,xmin,ymin)"),
    (csv_widthheight, "filename,xmin,ymin,width,label\na.jpg,1,2,3,car\n",
     " line 1: missing column height (the header is: filename,xmin,ymin,width,label)"),
    (csv_classification, "image,tag\na.jpg,car\n",
     " line 1: missing column label (the header is: image,tag)"),
    (csv_fourcorner, "filename,xmin,ymin,xmax,ymax,label\na.jpg,1,2,3,4,car\nb.jpg,abc,2,3,4,car\n",
     " line 3: column xmin is not a number: 'abc'"),
    (csv_widthheight, "filename,xmin,ymin,width,height,label\na.jpg,1,2,nan,4,car\n",
     " line 2: column width is not a finite number: 'nan'"),
    (csv_fourcorner, "filename,xmin,ymin,xmax,ymax,label\na.jpg,1,2,3,4\n",
     " line 2: expected 6 columns, got 5"),
    (csv_fourcorner, "filename,xmin,ymin,xmax,ymax,label\na.jpg,1,2,3,4,\n",
     " line 2: column label is empty"),
    (csv_widthheight, "filename,width,height,class,xmin,ymin,xmax,ymax\na.jpg,9,9,car,1,2,3,4\n",
     " line 1: the header has xmax/ymax columns, so width/height are the image's: this is a CSV "
     "Four Corners file"),
    (csv_classification, "", ": the file is empty (no header row)"),
])
def test_readers_reject_bad_input_with_the_file_line_and_problem(module, data, message):
    with pytest.raises(FormatError) as error:
        module.read(memory({"train/_annotations.csv": data}), SIZES)
    assert str(error.value) == f"train/_annotations.csv{message}"


class _StreamOnly(MemorySource):
    """A source whose files can only be streamed: reading one whole fails the test."""

    def read(self, path: str) -> bytes:
        raise AssertionError(f"{path} was read whole")

    def open(self, path: str):
        return io.BytesIO(self._data[path])


@pytest.mark.parametrize("module", [csv_fourcorner, csv_widthheight, csv_classification])
def test_readers_stream_the_file_rather_than_reading_it_whole(module):
    data = {csv_fourcorner: "filename,xmin,ymin,xmax,ymax,label\na.jpg,1,2,3,4,car\n",
            csv_widthheight: "filename,xmin,ymin,width,height,label\na.jpg,1,2,3,4,car\n",
            csv_classification: "filename,label\na.jpg,car\n"}[module]
    result = module.read(_StreamOnly({CSV: data.encode()}), SIZES)
    assert [(i.file_name, [a.label for a in i.annotations]) for i in result.images] == [
        ("a.jpg", ["car"])]


def test_a_csv_that_is_not_utf8_is_refused_with_the_byte():
    data = b"filename,xmin,ymin,xmax,ymax,label\na.jpg,1,2,3,4,caf\xe9\n"
    with pytest.raises(FormatError) as error:
        csv_fourcorner.read(memory({CSV: data}), SIZES)
    byte = data.index(b"\xe9")
    assert str(error.value) == f"{CSV}: not UTF-8 text (byte {byte})"


def test_box_rows_of_one_image_become_one_record_in_file_order_streamed_or_not():
    data = ("filename,xmin,ymin,xmax,ymax,label\na.jpg,1,1,2,2,car\nb.jpg,3,3,4,4,bus\n"
            "a.jpg,5,5,6,6,bus\n")
    listed = csv_fourcorner.read(memory({CSV: data}), SIZES)
    streamed = csv_fourcorner.read(memory({CSV: data}),
                                   replace(SIZES, stream=True))
    assert isinstance(listed.images, list) and not isinstance(streamed.images, list)
    for images in (listed.images, list(streamed.images)):
        assert [(i.file_name, [(a.label, a.box) for a in i.annotations]) for i in images] == [
            ("a.jpg", [("car", (1.0, 1.0, 2.0, 2.0)), ("bus", (5.0, 5.0, 6.0, 6.0))]),
            ("b.jpg", [("bus", (3.0, 3.0, 4.0, 4.0))])]
    assert listed.labels == streamed.labels == ["car", "bus"]


def test_notes_of_a_streamed_upload_in_set_folders_are_kept():
    data = "filename,xmin,ymin,xmax,ymax,label\na.jpg,1,1,2,2,car\nzz.jpg,3,3,4,4,car\n"
    result = read_by_set(lambda part: csv_fourcorner.read(part, replace(SIZES, stream=True)),
                         memory({CSV: data}))
    assert [i.file_name for i in result.images] == ["a.jpg", "zz.jpg"]
    assert result.notes == ["1 annotated images are not in the dataset: zz.jpg"]


def test_classification_reader_groups_tags_per_image_and_strips_the_prefix():
    data = "filename,label\na.jpg,cat\nb.jpg,'-1\na.jpg,dog\na.jpg,cat\n"
    result = csv_classification.read(memory({"train/_annotations.csv": data}), SIZES)
    assert [(i.file_name, [a.label for a in i.annotations], i.width) for i in result.images] == [
        ("a.jpg", ["cat", "dog"], 200), ("b.jpg", ["-1"], 50)]
    assert result.labels == ["cat", "-1", "dog"]  # first appearance in the file
    assert all(a.kind == "tag" for i in result.images for a in i.annotations)


# -- detection ---------------------------------------------------------------------------------

@pytest.mark.parametrize("header, best", [
    ("filename,width,height,class,xmin,ymin,xmax,ymax", "csv_fourcorner"),
    ("filename,xmin,ymin,xmax,ymax,label", "csv_fourcorner"),
    ("image_name,x_min,y_min,x_max,y_max,label", "csv_fourcorner"),
    ("filename,xmin,ymin,width,height,label", "csv_widthheight"),
    ("filename,label", "csv_classification"),
    ("image_name,class", "csv_classification"),
])
def test_the_csv_header_decides_which_csv_format_it_is(header, best):
    found = detect_available(memory({"train/_annotations.csv": header + "\n"}))
    assert found[0][0] == best
    assert found[0][1] > max([score for fid, score in found[1:]], default=0)


def test_an_unrelated_csv_is_not_claimed():
    assert detect_available(memory({"data.csv": "id,price\n1,2\n"})) == []


@pytest.mark.parametrize("format_id", ["csv_fourcorner", "csv_widthheight", "csv_classification"])
def test_each_csv_export_is_detected_as_itself_first(format_id, tmp_path):
    found = detect_own_export(format_id, tmp_path)
    assert found[0][0] == format_id
    assert all(score < found[0][1] for _, score in found[1:]), found
