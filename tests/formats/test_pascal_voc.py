"""Pascal VOC: the devkit layout, 1-based whole pixels, safe XML in, and the import variants."""

from __future__ import annotations

import xml.etree.ElementTree as StdlibXml
from dataclasses import replace

import pytest

from annotations.formats.builtin import pascal_voc
from annotations.formats.errors import FormatError
from annotations.formats.options import ExportOptions
from annotations.formats.pipeline import order_and_split
from annotations.formats.records import Label
from annotations.formats.spec import ReadContext

from .helpers import detect_own_export, export, image, memory, text


def _boxes(xml: str) -> list[tuple[str, list[str]]]:
    root = StdlibXml.fromstring(xml)  # our own output: the stdlib parser is fine here
    return [(o.findtext("name"), [o.findtext(f"bndbox/{t}") for t in pascal_voc.CORNERS])
            for o in root.iter("object")]


def _voc(objects: str, filename: str = "a.jpg", size: str = "<width>200</width>"
         "<height>100</height>") -> str:
    return (f"<annotation><filename>{filename}</filename><size>{size}</size>"
            f"{objects}</annotation>")


def _obj(name: str, *corners) -> str:
    values = "".join(f"<{t}>{v}</{t}>" for t, v in zip(pascal_voc.CORNERS, corners))
    return f"<object><name>{name}</name><bndbox>{values}</bndbox></object>"


# -- writing -----------------------------------------------------------------------------------

def test_absolute_boxes_use_the_devkit_one_based_whole_pixels(tmp_path):
    members, _ = export("pascal_voc", tmp_path)
    xml = text(members, "train/Annotations/street.xml")
    # [10, 20, 110.5, 220.25] -> round(x0)+1, round(y0)+1, round(x1), round(y1); 110.5 rounds even
    assert _boxes(xml)[0] == ("car", ["11", "21", "110", "220"])
    assert _boxes(xml)[1] == ("car", ["1", "1", "50", "40"])  # the box touching the corner


def test_a_detectron2_style_reader_gets_the_box_back(tmp_path):
    members, _ = export("pascal_voc", tmp_path)
    root = StdlibXml.fromstring(members["train/Annotations/street.xml"])
    bndbox = root.find("object/bndbox")
    # detectron2 pascal_voc.py: bbox = [float(bndbox.find(x).text) ...]; bbox[0] -= 1.0; ...
    box = [float(bndbox.find(t).text) for t in pascal_voc.CORNERS]
    box[0] -= 1.0
    box[1] -= 1.0
    assert box == pytest.approx([10, 20, 110.5, 220.25], abs=0.51)
    assert (root.findtext("size/width"), root.findtext("size/height")) == ("640", "480")


def test_the_xml_has_every_field_in_order_pretty_printed_with_a_declaration(tmp_path):
    members, _ = export("pascal_voc", tmp_path)
    xml = text(members, "train/Annotations/empty.xml")
    assert xml == (
        "<?xml version='1.0' encoding='UTF-8'?>\n<annotation>\n"
        "  <folder>JPEGImages</folder>\n  <filename>empty.jpg</filename>\n"
        "  <path>empty.jpg</path>\n  <source>\n    <database>Nexus</database>\n  </source>\n"
        "  <size>\n    <width>100</width>\n    <height>80</height>\n    <depth>3</depth>\n"
        "  </size>\n  <segmented>0</segmented>\n</annotation>\n")
    obj = StdlibXml.fromstring(members["train/Annotations/street.xml"]).find("object")
    assert [child.tag for child in obj] == ["name", "pose", "truncated", "difficult", "bndbox"]
    assert [obj.findtext(t) for t in ("pose", "truncated", "difficult")] == [
        "Unspecified", "0", "0"]


def test_normalized_boxes_are_plain_fractions_without_the_one_pixel_shift(tmp_path):
    members, _ = export("pascal_voc", tmp_path, normalized=True)
    assert _boxes(text(members, "train/Annotations/street.xml"))[0] == (
        "car", ["0.015625", "0.041667", "0.172656", "0.458854"])


def test_the_layout_lists_stems_in_set_order_and_a_cvat_labelmap(tmp_path):
    images = [image("b.jpg", 1), image("a.png", 2), image("c.jpg", 3)]
    labels = [Label("dog", (1, 2, 3)), Label("cat", (250, 0, 9))]
    members, _ = export("pascal_voc", tmp_path, images=images, dataset_labels=labels, shuffle=True,
                        seed=1, split_ratio=0.34, include_images=True)
    train = text(members, "train/ImageSets/Main/train.txt")
    test = text(members, "test/ImageSets/Main/test.txt")
    split = order_and_split([1, 2, 3], ExportOptions(shuffle=True, seed=1, split_ratio=0.34))
    stem = {1: "b", 2: "a", 3: "c"}
    assert train == "".join(f"{stem[i]}\n" for i in split["train"])
    assert test == "".join(f"{stem[i]}\n" for i in split["test"])
    assert split["train"] != [1, 2]  # the seed really shuffles, so order is being checked
    for set_name, stems in (("train", train.split()), ("test", test.split())):
        for stem in stems:  # each listed stem has its XML and its image in JPEGImages/
            assert f"{set_name}/Annotations/{stem}.xml" in members
            assert any(p.startswith(f"{set_name}/JPEGImages/{stem}.") for p in members)
        assert text(members, f"{set_name}/labelmap.txt") == (
            "# label:color_rgb:parts:actions\ndog:1,2,3::\ncat:250,0,9::\n")


def test_stems_that_imagesets_cannot_carry_are_renamed(tmp_path):
    images = [image("#1.jpg", 4), image(" lead.jpg", 5), image("fine name.jpg", 6)]
    _, manifest = export("pascal_voc", tmp_path, images=images)
    assert manifest["renamed"] == [{"from": "#1.jpg", "to": "_1__4.jpg"},
                                   {"from": " lead.jpg", "to": "_lead__5.jpg"}]


# -- reading -----------------------------------------------------------------------------------

def test_one_based_files_are_shifted_back():
    source = memory({"x/Annotations/a.xml": _voc(_obj("car", 11, 21, 110, 220))})
    box = pascal_voc.read(source, ReadContext()).images[0].annotations[0].box
    assert box == (10.0, 20.0, 110.0, 220.0)


@pytest.mark.parametrize("first, second", [
    (_obj("car", 0, 5, 10, 20), _obj("car", 11, 21, 110, 220)),  # a 0 xmin: 0-based (CVAT)
    (_obj("car", 3.5, 5, 10, 20), _obj("car", 11, 21, 110, 220)),  # a fraction: not devkit
])
def test_zero_based_uploads_are_taken_as_they_are(first, second):
    source = memory({"a.xml": _voc(first), "b.xml": _voc(second, filename="b.jpg")})
    images = pascal_voc.read(source, ReadContext()).images
    assert images[1].annotations[0].box == (11.0, 21.0, 110.0, 220.0)


def test_labelimg_xml_beside_the_images_with_a_windows_path_reads():
    xml = _voc(_obj("dog", 5, 5, 50, 60), filename=r"C:\Users\me\pics\dog 1.jpg")
    source = memory({"pics/dog 1.xml": xml, "pics/dog 1.jpg": b"\xff\xd8"})
    result = pascal_voc.read(source, ReadContext())
    assert [(i.file_name, i.width, i.height) for i in result.images] == [("dog 1.jpg", 200, 100)]


def test_fractions_are_scaled_by_the_size_element():
    source = memory({"a.xml": _voc(_obj("car", 0, 0.5, 0.25, 1))})
    box = pascal_voc.read(source, ReadContext()).images[0].annotations[0].box
    assert box == (0.0, 50.0, 50.0, 100.0)


def test_a_missing_size_is_taken_from_the_dataset_and_a_stem_gets_its_extension():
    source = memory({"Annotations/a.xml": "<annotation><object><name>car</name><bndbox><xmin>1"
                     "</xmin><ymin>1</ymin><xmax>9</xmax><ymax>9</ymax></bndbox></object>"
                     "</annotation>"})
    result = pascal_voc.read(source, ReadContext(image_sizes={"a.png": (30, 20)}))
    assert [(i.file_name, i.width, i.height) for i in result.images] == [("a.png", 30, 20)]


def test_an_import_gets_the_images_one_at_a_time_with_the_same_records():
    source = memory({"Annotations/a.xml": _voc(_obj("car", 1, 2, 30, 40)),
                     "Annotations/b.xml": "<annotation><filename>b.jpg</filename>"
                     + _obj("bus", 5, 5, 9, 9) + "</annotation>"})
    context = ReadContext(image_sizes={"a.jpg": (200, 100)})
    listed = pascal_voc.read(source, context)
    streamed = pascal_voc.read(source, replace(context, stream=True))
    assert isinstance(listed.images, list) and not isinstance(streamed.images, list)
    assert list(streamed.images) == listed.images
    assert [i.file_name for i in listed.images] == ["a.jpg", "b.jpg"]
    assert streamed.notes == listed.notes == [
        "1 annotated images are not in the dataset: b.jpg"]


def test_labelmap_gives_the_class_order():
    source = memory({"t/labelmap.txt": "# label:color_rgb:parts:actions\nzebra:1,1,1::\n"
                     "ant:2,2,2::\n", "t/Annotations/a.xml": _voc(_obj("ant", 1, 1, 2, 2)
                                                                  + _obj("bee", 1, 1, 3, 3))})
    assert pascal_voc.read(source, ReadContext()).labels == ["zebra", "ant", "bee"]


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<annotation><filename>&lol3;</filename></annotation>"""
EXTERNAL_FILE = """<?xml version="1.0"?>
<!DOCTYPE a [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<annotation><filename>&secret;</filename></annotation>"""
ENTITY_ONLY = """<annotation><filename>a.jpg</filename></annotation>
<!ENTITY x "y">"""


@pytest.mark.parametrize("xml", [BILLION_LAUGHS, EXTERNAL_FILE, ENTITY_ONLY],
                         ids=["billion-laughs", "external-file", "entity"])
def test_xml_with_a_doctype_or_entities_is_refused(xml):
    with pytest.raises(FormatError) as error:
        pascal_voc.read(memory({"Annotations/a.xml": xml}), ReadContext())
    assert str(error.value) == "Annotations/a.xml: XML with a DOCTYPE or entities is not accepted"


@pytest.mark.parametrize("xml, message", [
    (_voc("<object><name>car</name></object>"), "line 1: <object> has no <bndbox>"),
    (_voc("<object>\n<bndbox><xmin>1</xmin></bndbox></object>"), "line 1: <object> has no <name>"),
    (_voc("<object><name>car</name>\n<bndbox>\n<xmin>1</xmin><ymin>1</ymin><xmax>9</xmax>"
          "<ymax>9</ymax></bndbox></object>"), None),
    (_voc("<object><name>car</name><bndbox><xmin>1</xmin><ymin>1</ymin>\n<xmax>x9</xmax>"
          "<ymax>9</ymax></bndbox></object>"), "line 2: <xmax> is not a number: 'x9'"),
    (_voc("<object><name>car</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>9</xmax>"
          "</bndbox></object>"), "line 1: <bndbox> has no <ymax>"),
    ("<annotation><object>", "line 1: invalid XML"),
])
def test_bad_files_are_refused_with_the_file_line_and_problem(xml, message):
    source = memory({"Annotations/a.xml": xml})
    if message is None:
        assert pascal_voc.read(source, ReadContext()).images[0].annotations  # the control case
        return
    with pytest.raises(FormatError) as error:
        pascal_voc.read(source, ReadContext())
    assert str(error.value).startswith(f"Annotations/a.xml {message}")


# -- detection ---------------------------------------------------------------------------------

def test_the_export_is_detected_as_pascal_voc_first(tmp_path):
    found = detect_own_export("pascal_voc", tmp_path)
    assert found[0] == ("pascal_voc", 95)
    assert all(score < 95 for _, score in found[1:])


def test_labelimg_folders_are_detected_and_cvat_xml_is_not():
    assert pascal_voc.detect(memory({"a/x.xml": _voc(""), "a/x.jpg": b""})) == 85
    cvat = "<annotations><image/></annotations>"  # CVAT for images: a different root
    assert pascal_voc.detect(memory({"annotations.xml": cvat})) == 0
