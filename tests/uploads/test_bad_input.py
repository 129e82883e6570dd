"""Bad input gets a clear message, a 4xx (never a 5xx) and changes nothing.

Each test asserts the exact user-facing message, the status, and (with `unchanged`) that no row
changed and no file was written outside the upload's own temporary folder, which is gone.
"""

from __future__ import annotations

import builtins
import io
import struct
import zipfile
import zlib

import pytest
from django.urls import reverse

from annotations.models import Annotation, ImportJob
from datasets.models import Label

from .conftest import make_zip, text, upload

VOC_OBJECT = "<object><name>{name}</name><bndbox><xmin>10</xmin><ymin>20</ymin><xmax>110</xmax>" \
             "<ymax>220</ymax></bndbox></object>"


def voc(body: str = "", head: str = "", name: str = "car") -> str:
    return (f'<?xml version="1.0"?>{head}<annotation><filename>street.jpg</filename>{body}'
            f"{VOC_OBJECT.format(name=name)}</annotation>")


def refused(response, status: int, message: str) -> None:
    assert response.status_code == status, text(response)[-800:]
    assert message in text(response), text(response)[-800:]


# --- XML --------------------------------------------------------------------------------------

def test_xml_with_an_external_file_entity_is_refused_and_the_file_never_read(
        owner_client, dataset, unchanged, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("CANARY-7731")
    xml = voc(head=f'<!DOCTYPE annotation [<!ENTITY xxe SYSTEM "file://{secret}">]>',
              name="&xxe;")
    response = upload(owner_client, dataset, {"street.xml": xml})
    refused(response, 422, "street.xml: XML with a DOCTYPE or entities is not accepted")
    assert "CANARY" not in text(response)
    unchanged()


def test_xml_with_a_network_entity_is_refused(owner_client, dataset, unchanged):
    xml = voc(head='<!DOCTYPE annotation SYSTEM "http://127.0.0.1:9/evil.dtd">')
    refused(upload(owner_client, dataset, {"street.xml": xml}), 422,
            "street.xml: XML with a DOCTYPE or entities is not accepted")
    unchanged()


def test_a_billion_laughs_is_refused(owner_client, dataset, unchanged):
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10))
    xml = voc(head=f"<!DOCTYPE annotation [{entities}]>", name="&lol9;")
    refused(upload(owner_client, dataset, {"street.xml": xml}), 422,
            "street.xml: XML with a DOCTYPE or entities is not accepted")
    unchanged()


def test_deeply_nested_xml_is_refused(owner_client, dataset, unchanged):
    xml = voc(body="<a>" * 100 + "</a>" * 100)
    refused(upload(owner_client, dataset, {"street.xml": xml}), 422,
            "street.xml line 1: XML nested deeper than 64 levels")
    unchanged()


def test_xml_deeper_than_the_parser_allows_is_refused(owner_client, dataset, unchanged):
    xml = voc(body="<a>" * 5000 + "</a>" * 5000)
    refused(upload(owner_client, dataset, {"street.xml": xml}), 422,
            "street.xml line 1: invalid XML: Excessive depth in document: 256, use "
            "XML_PARSE_HUGE option, line 1, column 832")
    unchanged()


# --- JSON -------------------------------------------------------------------------------------

def coco(images=None, annotations=None, categories=None, raw: str | None = None) -> str:
    import json

    document = {
        "images": images if images is not None else
        [{"id": 1, "file_name": "street.jpg", "width": 640, "height": 480}],
        "annotations": annotations if annotations is not None else
        [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 20, 100, 200], "area": 20000,
          "iscrowd": 0, "segmentation": []}],
        "categories": categories or [{"id": 1, "name": "car", "supercategory": "none"}],
    }
    text_ = json.dumps(document)
    return text_.replace('"bbox": [10', f'"bbox": [{raw}') if raw else text_


def test_deeply_nested_json_is_refused(owner_client, dataset, unchanged):
    document = coco()[:-1] + ', "extra": ' + "[" * 100_000 + "]" * 100_000 + "}"
    refused(upload(owner_client, dataset, {"_annotations.coco.json": document}), 422,
            "_annotations.coco.json: JSON nested too deeply")
    unchanged()


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_json_with_nan_or_infinity_is_refused(owner_client, dataset, unchanged, constant):
    refused(upload(owner_client, dataset, {"_annotations.coco.json": coco(raw=constant)}), 422,
            f"_annotations.coco.json line 1: {constant} is not a number JSON allows")
    unchanged()


def test_json_with_a_string_id_is_refused(owner_client, dataset, unchanged):
    images = [{"id": "1", "file_name": "street.jpg", "width": 640, "height": 480}]
    refused(upload(owner_client, dataset, {"_annotations.coco.json": coco(images=images)}), 422,
            '_annotations.coco.json: images record 1: id must be an integer, got "1"')
    unchanged()


def test_json_missing_a_required_key_is_refused(owner_client, dataset, unchanged):
    annotations = [{"id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]}]
    refused(upload(owner_client, dataset,
                   {"_annotations.coco.json": coco(annotations=annotations)}), 422,
            "_annotations.coco.json: annotations record 1: missing key 'image_id'")
    unchanged()


# --- zips -------------------------------------------------------------------------------------

def raw_zip(entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in entries:
            archive.writestr(info, data)
    return buffer.getvalue()


def symlink(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (0o120777 << 16)
    return info


@pytest.mark.parametrize("entries,message", [
    ([("../evil.xml", voc())], "bad.zip: '../evil.xml' points outside the zip."),
    ([("/etc/evil.xml", voc())], "bad.zip: '/etc/evil.xml' points outside the zip."),
    ([("x/../../evil.xml", voc())], "bad.zip: 'x/../../evil.xml' points outside the zip."),
    ([(symlink("street.xml"), b"/etc/passwd")],
     "bad.zip: 'street.xml' is a symbolic link; links are not accepted."),
    ([("street.xml", voc()), ("street.xml", voc())], "bad.zip: the zip holds 'street.xml' twice."),
], ids=["parent", "absolute", "nested-parent", "symlink", "duplicate"])
def test_unsafe_zips_are_refused(owner_client, dataset, unchanged, entries, message):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns about the duplicate
        data = raw_zip(entries)
    refused(upload(owner_client, dataset, {"bad.zip": data}), 422, message)
    unchanged()


def test_a_zip_bomb_is_refused_by_its_compression_ratio(owner_client, dataset, unchanged):
    data = raw_zip([("zeros.xml", b"\0" * (5 << 20))])
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo("zeros.xml")
    ratio = info.file_size // info.compress_size
    assert ratio > 200
    refused(upload(owner_client, dataset, {"bad.zip": data}), 422,
            f"bad.zip: 'zeros.xml' expands {ratio} times; that looks like a zip bomb.")
    unchanged()


def test_a_zip_with_too_many_members_is_refused(owner_client, dataset, unchanged, settings):
    settings.NEXUS_MAX_ZIP_MEMBERS = 5
    data = make_zip({f"{i}.xml": voc() for i in range(6)})
    refused(upload(owner_client, dataset, {"bad.zip": data}), 422,
            "bad.zip: the zip has 6 files; the limit is 5.")
    unchanged()


def test_a_zip_expanding_beyond_the_limit_is_refused(owner_client, dataset, unchanged, settings):
    settings.NEXUS_MAX_UNZIPPED_BYTES = 1000
    data = make_zip({"a.xml": voc() + " " * 5000})
    size = zipfile.ZipFile(io.BytesIO(data)).getinfo("a.xml").file_size
    refused(upload(owner_client, dataset, {"bad.zip": data}), 422,
            f"bad.zip: the zip expands to {size} bytes; the limit is 1000.")
    unchanged()


def test_a_file_that_is_not_a_zip_but_named_zip_is_refused(owner_client, dataset, unchanged):
    refused(upload(owner_client, dataset, {"bad.zip": b"PK\x03\x04 this is not a zip"}), 422,
            "bad.zip: the file is not a zip archive.")
    unchanged()


def test_an_unsafe_zip_of_images_is_refused(owner_client, dataset, unchanged):
    data = raw_zip([("../street.jpg", b"\xff\xd8")])
    response = owner_client.post(reverse("datasets:images_upload", args=[dataset.pk]),
                                 {"files": [_file("photos.zip", data)]})
    refused(response, 422, "photos.zip: '../street.jpg' points outside the zip.")
    unchanged()


def _file(name: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)


# --- sizes ------------------------------------------------------------------------------------

def test_an_upload_over_the_limit_is_refused_before_it_is_read(
        owner_client, dataset, unchanged, settings, monkeypatch):
    settings.NEXUS_MAX_UPLOAD_BYTES = 1000
    from datasets.uploads import LimitedUploadHandler

    def never(*args, **kwargs):
        raise AssertionError("the body was read")

    monkeypatch.setattr(LimitedUploadHandler, "new_file", never)
    response = upload(owner_client, dataset, {"big.xml": b"x" * 200_000})
    refused(response, 413, "The upload is larger than the limit of 1,000 bytes.")
    unchanged()


@pytest.mark.parametrize("url", ["annotations:upload", "datasets:images_upload"])
def test_an_upload_over_the_limit_is_stopped_while_it_streams(
        owner_client, dataset, unchanged, settings, url):
    settings.NEXUS_MAX_UPLOAD_BYTES = 1000  # the body is within the Content-Length margin
    response = owner_client.post(reverse(url, args=[dataset.pk]),
                                 {"files": [_file("big.jpg", b"x" * 5000)]})
    refused(response, 413, "The upload is larger than the limit of 1,000 bytes.")
    unchanged()


def png_header(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width`×`height` pixels: a decompression bomb's shape."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + \
            struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + \
        chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("width,height", [(20_000, 20_000), (12_000, 10_000)],
                         ids=["beyond-twice-the-limit", "just-over-the-limit"])
def test_an_image_over_the_pixel_limit_is_refused(owner_client, dataset, unchanged, width,
                                                  height):
    response = owner_client.post(reverse("datasets:images_upload", args=[dataset.pk]),
                                 {"files": [_file("bomb.png", png_header(width, height))]})
    refused(response, 422, "bomb.png: the image has more than 100,000,000 pixels")
    unchanged()


# --- CSV and YOLO -----------------------------------------------------------------------------

def yolo_zip(line: str) -> bytes:
    return make_zip({"train/classes.txt": "car\nperson\n", "train/labels/street.txt": line})


CSV_WITHOUT_XMAX_YMAX = "filename,xmin,ymin,class\nstreet.jpg,1,2,car\n"


@pytest.mark.parametrize("files,fmt,message", [
    ({"_annotations.csv": CSV_WITHOUT_XMAX_YMAX}, "csv_fourcorner",
     "_annotations.csv line 1: missing columns xmax, ymax "
     "(the header is: filename,xmin,ymin,class)"),
    ({"_annotations.csv": CSV_WITHOUT_XMAX_YMAX}, "",
     "No annotation format was recognised in the upload. Choose the format, or check "
     "the files: FORMATS.md lists the layouts that are read."),
    ({"_annotations.csv": "filename,width,height,class,xmin,ymin,xmax,ymax\n"
                          "street.jpg,640,480,car,ten,2,3,4\n"}, "",
     "_annotations.csv line 2: column xmin is not a number: 'ten'"),
    ({"yolo.zip": yolo_zip("0 0.5 0.5 0.1\n")}, "",
     "train/labels/street.txt line 1: expected 5 numbers, got 4"),
    ({"yolo.zip": yolo_zip("5 0.5 0.5 0.1 0.1\n")}, "",
     "train/labels/street.txt line 1: class id 5 is not in the class list (2 classes)"),
], ids=["csv-missing-columns", "no-format-recognises-it", "csv-non-number", "yolo-field-count",
        "yolo-class-id-beyond-the-class-list"])
def test_a_csv_or_yolo_upload_with_a_problem_is_refused_with_it(owner_client, dataset, unchanged,
                                                                files, fmt, message):
    refused(upload(owner_client, dataset, files, fmt=fmt), 422, message)
    unchanged()


def test_an_unknown_chosen_format_is_refused(owner_client, dataset, unchanged):
    refused(upload(owner_client, dataset, {"a.csv": "x"}, fmt="bmp"), 400,
            "Unknown annotation format 'bmp'.")
    unchanged()


def test_an_empty_upload_is_refused(owner_client, dataset, unchanged):
    response = owner_client.post(reverse("annotations:upload", args=[dataset.pk]), {"format": ""})
    refused(response, 400, "Choose a file to upload.")
    unchanged()


# --- names and labels -------------------------------------------------------------------------

FOLDERS = ["../../etc/street.jpg", "/etc/street.jpg", "file:///etc/street.jpg",
           "C:\\x\\street.jpg", "http://example.com/street.jpg"]


def spy_on_open(monkeypatch) -> list[str]:
    opened: list[str] = []
    real_open = builtins.open

    def spy(file, *args, **kwargs):
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy)
    monkeypatch.setattr(io, "open", spy)  # pathlib opens through io.open
    return opened


def test_image_names_with_folders_are_matched_by_file_name_and_never_opened(
        owner_client, dataset, monkeypatch):
    rows = "".join(f"{name},car,1,2,30,40\n" for name in FOLDERS + ["../../etc/passwd"])
    csv = "filename,label,xmin,ymin,xmax,ymax\n" + rows
    opened = spy_on_open(monkeypatch)
    response = upload(owner_client, dataset, {"_annotations.csv": csv})
    monkeypatch.undo()
    assert response.status_code == 302
    assert any(p.endswith("content/_annotations.csv") for p in opened)  # the spy sees reads
    assert not [p for p in opened if "passwd" in p or "example.com" in p or "x\\" in p
                or p.startswith("/etc")]
    images = ImportJob.objects.get().report["images"]
    assert (images["matched"], images["unmatched"]) == (1, 1)  # street.jpg; passwd is no image
    assert images["unmatched_examples"] == ["../../etc/passwd"]
    assert images["folders_ignored"] == 1 and images["folders_ignored_examples"] == [FOLDERS[0]]
    page = text(owner_client.get(response["Location"]))
    assert "1 matched by file name, folders ignored (../../etc/street.jpg)" in page
    assert ImportJob.objects.get().report["annotations"]["total"] == 5


@pytest.mark.parametrize("file_name", FOLDERS + ["train2017/street.jpg"])
def test_coco_file_names_with_folders_match_by_file_name_as_the_preview_says(
        owner_client, dataset, file_name):
    images = [{"id": 1, "file_name": file_name, "width": 640, "height": 480}]
    response = upload(owner_client, dataset, {"_annotations.coco.json": coco(images=images)})
    assert response.status_code == 302
    report = ImportJob.objects.get().report["images"]
    assert (report["matched"], report["folders_ignored"]) == (1, 1)
    page = text(owner_client.get(response["Location"]))
    assert "1 matched by file name, folders ignored" in page


def test_a_label_with_a_control_character_is_refused(owner_client, dataset, unchanged):
    csv = "filename,label,xmin,ymin,xmax,ymax\nstreet.jpg,car\x07,10,20,110,220\n"
    refused(upload(owner_client, dataset, {"_annotations.csv": csv}), 422,
            "Label 'car\\x07' contains a control character.")
    unchanged()


def test_labels_equal_after_nfc_normalisation_are_one_label(owner_client, dataset):
    nfc, nfd = "caf\u00e9", "cafe\u0301"
    csv = ("filename,label,xmin,ymin,xmax,ymax\n"
           f"street.jpg,{nfc},10,20,110,220\nstreet.jpg,{nfd},0,0,50,40\n"
           f"plaza.png, {nfc} ,5,5,50,50\n")
    response = upload(owner_client, dataset, {"_annotations.csv": csv})
    job = ImportJob.objects.get()
    assert job.report["labels"]["new"] == [nfc]
    assert job.report["labels"]["merged"] == [{"name": nfc, "spellings": sorted([nfc, nfd])}]
    assert "3 spellings" not in text(owner_client.get(response["Location"]))
    from annotations import tasks

    owner_client.post(reverse("annotations:import_confirm", args=[job.pk]))
    tasks.run_import(str(job.pk))
    assert list(Label.objects.filter(dataset=dataset).values_list("name", flat=True)) == [nfc]
    assert Annotation.objects.filter(label__name=nfc).count() == 3


def test_an_upload_into_someone_elses_dataset_is_404_and_nothing_is_read(
        stranger_client, dataset, unchanged, monkeypatch):
    from datasets.uploads import LimitedUploadHandler

    monkeypatch.setattr(LimitedUploadHandler, "new_file", lambda *a, **k: 1 / 0)
    assert upload(stranger_client, dataset, {"street.xml": voc()}).status_code == 404
    response = stranger_client.post(reverse("datasets:images_upload", args=[dataset.pk]),
                                    {"files": [_file("a.jpg", b"x")]})
    assert response.status_code == 404
    assert stranger_client.get(reverse("annotations:upload", args=[dataset.pk])).status_code \
        == 404
    unchanged()


def test_too_many_new_labels_are_refused_and_leave_no_plan_behind(
        owner_client, dataset, settings, upload_dir):
    settings.NEXUS_MAX_NEW_LABELS = 2
    rows = "".join(f"street.jpg,label{n},1,2,30,40\n" for n in range(3))
    response = upload(owner_client, dataset,
                      {"boxes.csv": "filename,label,xmin,ymin,xmax,ymax\n" + rows})
    refused(response, 422, "The upload names 3 new labels; at most 2 can be created in one "
                           "import.")
    assert not Label.objects.exists() and not ImportJob.objects.exists()
    assert not list(upload_dir.iterdir())  # neither the upload nor its plan's rows


@pytest.mark.parametrize("raw", ["1e308, 1e308, 1e308, 1e308", "10, 20, 1e308, 200"],
                         ids=["all-huge", "one-huge"])
def test_coco_coordinates_out_of_range_are_refused_naming_the_annotation(
        owner_client, dataset, unchanged, raw, caplog):
    response = upload(owner_client, dataset, {"_annotations.coco.json": coco(raw=raw)})
    refused(response, 422, "_annotations.coco.json: annotations record 1: bbox coordinates out "
                           "of range")
    assert "Traceback" not in caplog.text and "OverflowError" not in caplog.text
    unchanged()


def test_a_zip_of_many_small_members_is_refused_by_its_total_expansion(owner_client, dataset,
                                                                       unchanged):
    entries = [(f"zeros-{i}.xml", b"\0" * (900 << 10)) for i in range(30)]  # each under 1 MiB
    data = raw_zip(entries)
    assert len(data) < 300 << 10
    response = upload(owner_client, dataset, {"bad.zip": data})
    refused(response, 422, "bad.zip: the zip expands")
    refused(response, 422, "times in all")
    unchanged()
