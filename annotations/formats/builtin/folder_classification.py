"""Image Folders (classification): the images themselves, one folder per class, no annotation file.

    <top>/train/car/                zip directory entries: one per class, in every set,
    <top>/train/café/               empty ones included
    <top>/train/person/
    <top>/train/car/street.jpg      an image in the folder of each of its classes
    <top>/train/café/Bild ü.png
    <top>/train/person/Bild ü.png   (an image with two tags is in two folders)

The layout torchvision's `ImageFolder`, Keras' `image_dataset_from_directory` and Ultralytics'
`task=classify` read. Images without a tag are left out by the pipeline (reason "no class"); an
image counts in `sets` once per class folder (`SPEC.counts_per_class_folder`). File names follow
the renaming rules (the pipeline renames an image whose stem clashes with an earlier one of the
set, so two images never meet in one class folder).

Class folders (`class_folders`): the label name with each of `/ \\ : * ? " < > |` and each control
character replaced by `_`, a name of only dots written `_`. Folders are compared ignoring case
(macOS and Windows folders are case-insensitive: `Cat/` and `cat/` would be one folder there);
a folder equal to an earlier class's gets `__<label id>` appended (the label's database id; the
class's 1-based position in the class list where a record has no id).

Readers of the layout number the classes by their folders' sorted names, not the export's class
order. torchvision's `ImageFolder` refuses an empty class folder unless given `allow_empty=True`
(torchvision 0.18+, which Ultralytics passes); Keras and Ultralytics read empty ones as they are.

Import: each image is in `<set folder>/<class folder>/…` (deeper folders belong to their class,
as torchvision reads them) or, without set folders, `<class folder>/<file>`; one record per (set
folder, file name), tagged with every class folder it is in. Labels are the folder names, sorted;
in an export of this format the manifest's class list gives them back their own names and order,
including classes whose folders are empty (a zip listing names files, not folders). An image
outside a class folder or a file that is not an image is refused, naming the file.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from annotations.formats.errors import FormatError
from annotations.formats.io.manifest import manifest_list, manifests
from annotations.formats.io.reading import DESCRIBING_NAMES, DESCRIBING_SUFFIXES
from annotations.formats.io.sizes import SizeLookup
from annotations.formats.io.source import Source
from annotations.formats.naming import IMAGE_EXTENSIONS, is_hidden, replace_offending
from annotations.formats.records import Label, ReadResult
from annotations.formats.spec import ExportSet, FormatSpec, ReadContext, ZipSink, put_image
from annotations.formats.splits import SET_FOLDERS

SPEC = FormatSpec(
    id="folder_classification",
    name="Image Folders (classification)",
    family="classification",
    normalized=None,
    description="The images in one folder per class in each set, no annotation file; "
    "torchvision ImageFolder, Keras image_dataset_from_directory and Ultralytics classify "
    "read it.",
    images_always_included=True,
    skips_empty=True,
    counts_per_class_folder=True,
)


def class_folders(labels: Sequence[Label]) -> dict[str, str]:
    """Class name -> its folder name, for the class list in order (the module docstring)."""
    folders: dict[str, str] = {}
    taken: set[str] = set()
    for position, label in enumerate(labels, start=1):
        folder = clean_folder(label.name)
        while folder.casefold() in taken:
            folder = f"{folder}__{label.id if label.id is not None else position}"
        taken.add(folder.casefold())
        folders[label.name] = folder
    return folders


def clean_folder(name: str) -> str:
    folder = replace_offending(name)
    return "_" if not folder.strip(".") else folder


def write_set(export_set: ExportSet, out: ZipSink) -> None:
    folders = class_folders(export_set.labels)
    for folder in folders.values():
        out.add_directory(f"{export_set.folder}{folder}/")
    for image in export_set.images:
        for label in dict.fromkeys(a.label for a in image.annotations):
            put_image(export_set, out, image, f"{folders[label]}/")


# --- reading ------------------------------------------------------------------------------------

@dataclass
class _Layout:
    placed: list[tuple[str, str, str]] = field(default_factory=list)  # path, set, class folder
    stray: list[str] = field(default_factory=list)  # images outside any class folder
    others: list[str] = field(default_factory=list)  # files neither images nor describing


def _layout(source: Source) -> _Layout:
    layout = _Layout()
    for path in source.files():
        if is_hidden(path) or _describing(path):
            continue
        if not path.lower().endswith(IMAGE_EXTENSIONS):
            layout.others.append(path)
            continue
        where = _place(path)
        if where is None:
            layout.stray.append(path)
        else:
            layout.placed.append((path, *where))
    # An image beside class folders lies in their set folder, not in a class folder of its own.
    set_folders = {set_folder for _, set_folder, _ in layout.placed}
    beside = [p for p in layout.placed if posixpath.dirname(p[0]) in set_folders]
    layout.stray += [path for path, _, _ in beside]
    layout.placed = [p for p in layout.placed if p not in beside]
    return layout


def _place(path: str) -> tuple[str, str] | None:
    """(set folder, class folder) of an image: the folder after the first set folder
    (`train/`, `valid/`, `val/`, `test/`), else its own folder; None when it has none."""
    folders = path.split("/")[:-1]
    for index, folder in enumerate(folders):
        if folder.lower() in SET_FOLDERS:
            if index + 1 == len(folders):
                return None  # directly in the set folder
            return "/".join(folders[:index + 1]), folders[index + 1]
    if not folders:
        return None
    return "/".join(folders[:-1]), folders[-1]


def _describing(path: str) -> bool:
    return path.lower().endswith(DESCRIBING_SUFFIXES) or \
        posixpath.basename(path).lower() in DESCRIBING_NAMES


def detect(source: Source) -> int:
    """90 for images in class folders and nothing else; 30 when some images lie outside them
    (read() then names one); 0 when other files are there (another format's annotations)."""
    layout = _layout(source)
    if not layout.placed or layout.others:
        return 0
    return 30 if layout.stray else 90


def read(source: Source, context: ReadContext) -> ReadResult:
    layout = _layout(source)
    if layout.others:
        raise FormatError(layout.others[0], "not an image; an Image Folders upload holds only "
                          "images, each in the folder of its class")
    if layout.stray:
        raise FormatError(layout.stray[0], "the image is not in a class folder; put each image "
                          "in a folder named after its class (train/<class>/<file>)")
    names_in_order, exported = _exported_classes(source, {f for _, _, f in layout.placed})
    tags: dict[tuple[str, str], dict[str, None]] = {}  # (set folder, file name) -> its classes
    for path, set_folder, folder in layout.placed:
        name = exported.get(folder, folder)
        tags.setdefault((set_folder, posixpath.basename(path)), {})[name] = None
    found = {name for names in tags.values() for name in names}
    labels = names_in_order + sorted(found - set(names_in_order))
    lookup = SizeLookup(source, context)
    images = [lookup.tagged_image(file_name, names) for (_, file_name), names in tags.items()]
    return ReadResult(images=images, labels=labels, notes=lookup.notes())


def _exported_classes(source: Source, folders: set[str]) -> tuple[list[str], dict[str, str]]:
    """(class names in class order, folder -> class name) from the manifest of an export of this
    format. The manifest has no label ids: a class whose folder clashed is found by its cleaned
    name followed by `__<id>`."""
    names: list[str] = []
    for manifest in manifests(source):
        if manifest.get("format") == SPEC.id:
            names += [n for n in manifest_list(manifest, "labels")
                      if isinstance(n, str) and n not in names]
    found: dict[str, str] = {}
    for name in names:
        clean = clean_folder(name)
        if clean.casefold() not in {f.casefold() for f in found}:
            found[clean] = name
            continue
        suffixed = re.compile(re.escape(clean) + r"(__\d+)+")
        match = next((f for f in sorted(folders) if f not in found and suffixed.fullmatch(f)),
                     None)
        if match is not None:
            found[match] = name
    return names, found
