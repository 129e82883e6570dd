"""Pascal VOC: one XML per image, the devkit's folders, and a CVAT/Datumaro label map.

    <top>/train/Annotations/<stem>.xml      <annotation> ... <object><bndbox>11 21 110 220 ...
    <top>/train/JPEGImages/<file>           the images (Include images)
    <top>/train/ImageSets/Main/train.txt    the set's stems, one a line, in set order
    <top>/train/labelmap.txt                # label:color_rgb:parts:actions / car:230,25,75::

Absolute boxes use the devkit's 1-based whole pixels: xmin = round(x0) + 1, xmax = round(x1)
(detectron2 and torchvision-based loaders subtract 1 again); Normalized writes x / width fractions.

Import: every `.xml` with an `<annotation>` root, in any folder (LabelImg keeps them beside the
images), parsed with `safexml.parse_untrusted` only. How the numbers are read is decided once per
upload, because one tool wrote it:
- every coordinate within [0, 1]: fractions of the image size;
- otherwise pixels, 1-based as the devkit writes them (x0 = xmin - 1), unless some xmin/ymin is 0
  or some coordinate is not whole: 1-based whole pixels can be neither, so the upload was written
  0-based (CVAT, Datumaro) and is taken as is. LabelImg never writes 0 (it clamps to 1).
`labelmap.txt`, when present, gives the class order.
"""

from __future__ import annotations

import posixpath
import re
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lxml import etree

from annotations.formats.errors import FormatError
from annotations.formats.families.boxes import BoxImage
from annotations.formats.io.safexml import parse_untrusted
from annotations.formats.io.sizes import SizeLookup, all_fractions
from annotations.formats.io.source import Source
from annotations.formats.naming import IMAGE_EXTENSIONS, RenameRules, split_name
from annotations.formats.numbers import format_normalized
from annotations.formats.records import Annotation, ImageRecord, ReadResult
from annotations.formats.spec import ExportSet, ReadContext, ZipSink, box_format, put_image

SPEC = box_format(
    "pascal_voc", "Pascal VOC",
    "One XML per image in Annotations/, image lists in ImageSets/Main and "
    "labelmap.txt; the VOC devkit, detectron2, torchvision, CVAT and LabelImg read it.",
    rename=RenameRules(voc_stem=True),
    normalized_warning="Pascal VOC readers expect whole pixels; Normalized writes fractions, "
    "which standard readers reject.",
)
LABELMAP = "labelmap.txt"
LABELMAP_HEADER = "# label:color_rgb:parts:actions\n"
IMAGE_FOLDER = "JPEGImages/"
_ROOT = re.compile(rb"<annotation[\s>]")
CORNERS = ("xmin", "ymin", "xmax", "ymax")


# The XML as lxml's pretty printer writes it, as text templates: building an lxml tree per image
# cost more than the rest of the export. Names and labels with a character XML escapes or refuses
# still go through lxml (`_xml`), so the output is the same in every case.
_HEAD = ("<?xml version='1.0' encoding='UTF-8'?>\n<annotation>\n"
         f"  <folder>{IMAGE_FOLDER.rstrip('/')}</folder>\n"
         "  <filename>{0}</filename>\n  <path>{0}</path>\n"
         "  <source>\n    <database>Nexus</database>\n  </source>\n"
         "  <size>\n    <width>{1}</width>\n    <height>{2}</height>\n    <depth>3</depth>\n"
         "  </size>\n  <segmented>0</segmented>\n")
_OBJECT = ("  <object>\n    <name>%s</name>\n    <pose>Unspecified</pose>\n"
           "    <truncated>0</truncated>\n    <difficult>0</difficult>\n    <bndbox>\n"
           "      <xmin>%s</xmin>\n      <ymin>%s</ymin>\n      <xmax>%s</xmax>\n"
           "      <ymax>%s</ymax>\n    </bndbox>\n  </object>\n")
_TAIL = "</annotation>\n"
_NOT_PLAIN = re.compile("[&<>\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def write_boxes(export_set: ExportSet, out: ZipSink) -> None:
    """The set from BoxImages (boxes.py)."""
    folder = export_set.folder
    out.add_bytes(folder + LABELMAP, LABELMAP_HEADER + "".join(
        f"{label.name}:{','.join(str(c) for c in label.color)}::\n"
        for label in export_set.labels))
    normalized = export_set.normalized
    plain = _Plain()
    stems = out.new_work_path()  # the ImageSets list grows with the set: written as it goes
    with open(stems, "w", encoding="utf-8", newline="", buffering=1 << 16) as stem_list:
        for image in export_set.images:
            stem = split_name(image.file_name)[0]
            # Labels repeat and are remembered in `plain`; file names do not (they would grow it
            # by ~100 bytes per image).
            if not _NOT_PLAIN.search(image.file_name) and all(plain[b[0]] for b in image.boxes):
                xml = _xml_text(image, normalized).encode("utf-8")
            else:
                xml = _xml(image, normalized)
            out.add_bytes(f"{folder}Annotations/{stem}.xml", xml)
            put_image(export_set, out, image, IMAGE_FOLDER)
            stem_list.write(stem + "\n")
    out.add_work_file(f"{folder}ImageSets/Main/{export_set.name}.txt", stems)


class _Plain(dict):
    """text -> whether the template may carry it as it is (remembered: labels repeat)."""

    def __missing__(self, text: str) -> bool:
        plain = self[text] = not _NOT_PLAIN.search(text)
        return plain


def _xml_text(image: BoxImage, normalized: bool) -> str:
    parts = [_HEAD.format(image.file_name, image.width, image.height)]
    if normalized:
        for label, x0, y0, x1, y1, _ in image.boxes:
            parts.append(_OBJECT % (label, format_normalized(x0), format_normalized(y0),
                                    format_normalized(x1), format_normalized(y1)))
    else:
        for label, x0, y0, x1, y1, _ in image.boxes:
            parts.append(_OBJECT % (label, round(x0) + 1, round(y0) + 1, round(x1), round(y1)))
    parts.append(_TAIL)
    return "".join(parts)


def _xml(image: BoxImage, normalized: bool) -> bytes:
    root = etree.Element("annotation")
    # folder + filename is the image's path relative to the set folder.
    _sub(root, "folder", IMAGE_FOLDER.rstrip("/"))
    _sub(root, "filename", image.file_name)
    _sub(root, "path", image.file_name)
    _sub(etree.SubElement(root, "source"), "database", "Nexus")
    size = etree.SubElement(root, "size")
    for tag, value in (("width", image.width), ("height", image.height), ("depth", 3)):
        _sub(size, tag, str(value))
    _sub(root, "segmented", "0")
    for label, x0, y0, x1, y1, _ in image.boxes:
        obj = etree.SubElement(root, "object")
        for tag, value in (("name", label), ("pose", "Unspecified"), ("truncated", "0"),
                           ("difficult", "0")):
            _sub(obj, tag, value)
        bndbox = etree.SubElement(obj, "bndbox")
        for tag, value in zip(CORNERS, _corners((x0, y0, x1, y1), normalized)):
            _sub(bndbox, tag, value)
    return etree.tostring(root, pretty_print=True, xml_declaration=True, encoding="UTF-8")


def _sub(parent: etree._Element, tag: str, text: str) -> None:
    etree.SubElement(parent, tag).text = text


def _corners(box: tuple[float, float, float, float], normalized: bool) -> list[str]:
    x0, y0, x1, y1 = box
    if normalized:
        return [format_normalized(v) for v in box]
    return [str(round(x0) + 1), str(round(y0) + 1), str(round(x1)), str(round(y1))]


def detect(source: Source) -> int:
    files = source.files()
    voc = [p for p in files if p.lower().endswith(".xml") and _ROOT.search(source.read(p)[:4096])]
    if not voc:
        return 0
    devkit = any(posixpath.basename(p) == LABELMAP or "/ImageSets/Main/" in f"/{p}"
                 for p in files)
    return 95 if devkit and any("Annotations/" in f"/{p}" for p in voc) else 85


@dataclass(slots=True)
class _Parsed:
    path: str
    file_name: str
    size: tuple[int, int] | None  # from <size>; None when absent or zero (LabelImg without image)
    first: int  # its objects are the read's objects first to last (exclusive)
    last: int


class _Objects:
    """Every file's objects of one read, in a list and an array the files share: about 40 bytes
    an object (a list and an array of each file's own cost every file about 300 bytes more)."""

    __slots__ = ("names", "corners", "distinct")

    def __init__(self) -> None:
        self.names: list[str] = []  # each object's label
        self.corners = array("d")  # each object's xmin, ymin, xmax, ymax in turn
        # One copy of each label name and image size: a million boxes share 80 strings.
        self.distinct: dict = {}

    def zero_based(self) -> bool:
        """Some xmin/ymin at 0 or below, or some value not whole: not LabelImg's 1-based pixels."""
        corners = self.corners
        return bool(corners) and (min(min(corners[0::4]), min(corners[1::4])) <= 0
                                  or any(v != int(v) for v in corners))


def read(source: Source, context: ReadContext) -> ReadResult:
    files = source.files()
    image_names = {split_name(posixpath.basename(p))[0]: posixpath.basename(p)
                   for p in files if p.lower().endswith(IMAGE_EXTENSIONS)}
    parsed, objects = [], _Objects()
    for path in files:
        if not path.lower().endswith(".xml"):
            continue
        root = parse_untrusted(source.read(path), path)
        if root.tag == "annotation":  # other XML in the upload is not ours to judge
            parsed.append(_parse_file(root, path, image_names, context, objects))
    normalized = all_fractions(objects.corners)
    offset = 0.0 if normalized or objects.zero_based() else 1.0
    labels = _labelmap(source, files)
    labels += [name for name in dict.fromkeys(objects.names) if name not in labels]
    result = ReadResult(images=[], labels=labels, notes=[])
    images = _images(parsed, objects, normalized, offset, SizeLookup(source, context),
                     result.notes)
    result.images = images if context.stream else list(images)
    return result


def _images(parsed: list[_Parsed], objects: _Objects, normalized: bool, offset: float,
            lookup: SizeLookup, notes: list[str]) -> Iterator[ImageRecord]:
    """The records, one at a time (an import streams them); the notes once all are made."""
    for p in parsed:
        yield _image(p, objects, normalized, offset, lookup)
    notes.extend(lookup.notes())


def _image(p: _Parsed, objects: _Objects, normalized: bool, offset: float,
           lookup: SizeLookup) -> ImageRecord:
    size = p.size or lookup.size(p.file_name)
    if size is None and normalized and p.last > p.first:
        raise FormatError(p.path, f"no <size> and no image {p.file_name!r} in the dataset, so "
                          "its normalized boxes cannot be placed")
    width, height = size or lookup.size_or_unknown(p.file_name)
    sx, sy = (width, height) if normalized else (1, 1)
    c = objects.corners
    annotations = [Annotation(label=name, kind="box",
                              box=((c[i] - offset) * sx, (c[i + 1] - offset) * sy,
                                   c[i + 2] * sx, c[i + 3] * sy))
                   for name, i in zip(objects.names[p.first:p.last],
                                      range(4 * p.first, 4 * p.last, 4))]
    return ImageRecord(file_name=p.file_name, width=width, height=height, annotations=annotations)


def _parse_file(root: etree._Element, path: str, image_names: dict[str, str],
                context: ReadContext, objects: _Objects) -> _Parsed:
    """One file's objects, appended to `objects`."""
    names, corners, distinct = objects.names, objects.corners, objects.distinct
    first = len(names)
    for obj in root.iterfind("object"):
        parts = _children(obj)
        name = _text(parts, obj, "name", path)
        bndbox = parts.get("bndbox")
        if bndbox is None:
            raise FormatError(path, "<object> has no <bndbox>", line=obj.sourceline)
        sides = _children(bndbox)
        corners.extend([_number(sides, bndbox, tag, path) for tag in CORNERS])
        names.append(distinct.setdefault(name, name))
    size = _size(root, path)
    return _Parsed(path, _file_name(root, path, image_names, context),
                   size and distinct.setdefault(size, size), first, len(names))


def _file_name(root: etree._Element, path: str, image_names: dict[str, str],
               context: ReadContext) -> str:
    """<filename> (a name only: any folder part a tool left in is dropped), else the XML's stem;
    a name without extension is completed from the images of the upload or the dataset."""
    written = (root.findtext("filename") or "").strip().replace("\\", "/").rsplit("/", 1)[-1]
    if written and split_name(written)[1]:
        return written
    stem = written or split_name(posixpath.basename(path))[0]
    return image_names.get(stem) or context.name_for_stem(stem) or stem


def _size(root: etree._Element, path: str) -> tuple[int, int] | None:
    size = root.find("size")
    if size is None:
        return None
    sides = _children(size)
    width, height = (int(_number(sides, size, tag, path)) for tag in ("width", "height"))
    return (width, height) if width > 0 and height > 0 else None


def _children(parent: etree._Element) -> dict[Any, etree._Element]:
    """The first child of each tag, as `parent.find(tag)` finds it: one pass over the children
    instead of a path search per field (a third of reading 10k VOC files went to findtext)."""
    found: dict[Any, etree._Element] = {}
    for child in parent:
        found.setdefault(child.tag, child)
    return found


def _text(children: dict[Any, etree._Element], parent: etree._Element, tag: str,
          path: str) -> str:
    child = children.get(tag)
    text = (child.text or "").strip() if child is not None else ""
    if not text:
        raise FormatError(path, f"<{parent.tag}> has no <{tag}>", line=parent.sourceline)
    return text


def _number(children: dict[Any, etree._Element], parent: etree._Element, tag: str,
            path: str) -> float:
    text = _text(children, parent, tag, path)
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if value != value or value in (float("inf"), float("-inf")):
        raise FormatError(path, f"<{tag}> is not a number: {text!r}",
                          line=children[tag].sourceline)
    return value


def _labelmap(source: Source, files: list[str]) -> list[str]:
    """Class order from the first labelmap.txt (`name:r,g,b:parts:actions`, `#` comments)."""
    for path in files:
        if posixpath.basename(path) == LABELMAP:
            lines = source.text(path).splitlines()
            names = [line.split(":", 1)[0].strip() for line in lines
                     if line.strip() and not line.lstrip().startswith("#")]
            return list(dict.fromkeys(n for n in names if n))
    return []
