"""What every format module declares about itself, and what writers and readers are handed."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Literal, Protocol

from annotations.formats.io.source import Source
from annotations.formats.naming import RenameRules
from annotations.formats.records import ImageRecord, Label, ReadResult, Skeleton

Family = Literal["boxes", "polygons", "classification", "keypoints"]
FAMILIES: dict[str, str] = {
    "boxes": "Bounding boxes",
    "polygons": "Polygons / masks",
    "classification": "Classification",
    "keypoints": "Keypoints",
}
# What each family writes of each stored annotation kind (FORMATS.md §2): a box format writes the
# tight box of every shape, a polygon format boxes as rectangles; a kind not listed is dropped.
# A format that writes otherwise says so in its SPEC (`writes`).
FAMILY_WRITES: dict[str, dict[str, str]] = {
    "boxes": {"box": "box", "polygon": "box", "mask": "box", "keypoints": "box"},
    "polygons": {"box": "polygon", "polygon": "polygon", "mask": "mask"},
    "classification": {"tag": "tag"},
    "keypoints": {"keypoints": "keypoints"},
}
FAMILY_KINDS: dict[str, tuple[str, ...]] = {family: tuple(writes)
                                            for family, writes in FAMILY_WRITES.items()}


@dataclass(frozen=True, slots=True)
class FormatSpec:
    id: str
    name: str
    family: Family
    normalized: bool | None  # the format's convention; None where it has no coordinates
    description: str
    images_always_included: bool = False  # TFRecord: the records carry the image bytes
    needs_tensorflow: bool = False  # reading and writing load TensorFlow (in the worker only)
    box_fast_path: bool = False  # the module has write_boxes (BoxImages, families/boxes.py)
    writes_root: bool = False  # the module has write_root (files at the top, YOLO's data.yaml)
    skips_empty: bool = False  # images with nothing of the family are left out (CSV, classes)
    # An image counts in `sets` once per class folder it is written into (Image Folders).
    counts_per_class_folder: bool = False
    ships_skeletons: bool = False
    one_skeleton_size: bool = False  # every class's skeleton has one point count (YOLO pose)
    rename: RenameRules = field(default_factory=RenameRules)
    normalized_warning: str = ""  # what goes wrong when the user departs from the convention
    writes: Mapping[str, str] | None = None  # stored kind -> written kind, if not the family's

    @property
    def written_kinds(self) -> Mapping[str, str]:
        return self.writes if self.writes is not None else FAMILY_WRITES[self.family]


def box_format(id: str, name: str, description: str, **fields: Any) -> FormatSpec:
    """A box format: written from BoxImages (`write_boxes`, families/boxes.py), in pixels unless
    `normalized=True` is given."""
    return FormatSpec(id=id, name=name, family="boxes", description=description,
                      normalized=fields.pop("normalized", False), box_fast_path=True, **fields)


def tfrecord_format(id: str, name: str, family: Family, description: str,
                    **fields: Any) -> FormatSpec:
    """A TFRecord format: the records embed the images, TensorFlow writes and reads them, and
    the TF Object Detection API reads normalized coordinates."""
    return FormatSpec(id=id, name=name, family=family, description=description,
                      normalized=fields.pop("normalized", True), images_always_included=True,
                      needs_tensorflow=True, **fields)


@dataclass(slots=True)
class ExportSet:
    """One set folder being written; its images arrive prepared (family, clamp, scale, names)."""

    name: str  # the set: "train", "valid" or "test"
    folder: str  # "<top>/train/", every member path of the set starts with it
    labels: list[Label]
    skeletons: list[Skeleton]
    normalized: bool
    include_images: bool
    images: Iterator[ImageRecord]
    class_index: dict[str, int] = field(default_factory=dict)  # 0-based, dataset label order

    def __post_init__(self) -> None:
        if not self.class_index:
            self.class_index = {label.name: i for i, label in enumerate(self.labels)}

    @property
    def label_names(self) -> list[str]:
        return [label.name for label in self.labels]


@dataclass(slots=True)
class ExportRoot:
    """What a format may write at the top of the export (YOLO's data.yaml)."""

    folder: str  # "<top>/"
    labels: list[Label]
    set_names: list[str]  # the sets actually written, in order
    normalized: bool
    skeletons: list[Skeleton] = field(default_factory=list)  # the classes', under their names


@dataclass
class ReadContext:
    """What readers may know from the dataset: image sizes by file name (for normalized input)."""

    image_sizes: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)  # class order when a file has ids only
    # Imports consume images one at a time: a reader may then hand them over lazily (an
    # iterator), and parse files larger than stream_bytes as a stream (COCO JSON).
    stream: bool = False
    stream_bytes: int = 64 << 20

    def size_of(self, file_name: str) -> tuple[int, int] | None:
        return self.image_sizes.get(file_name) or self.image_sizes.get(file_name.rsplit("/", 1)[-1])

    def name_for_stem(self, stem: str) -> str | None:
        """The dataset image whose name has this stem (formats that name files by stem only)."""
        if not hasattr(self, "_stems"):
            self._stems = {name.rsplit(".", 1)[0] if "." in name[1:] else name: name
                           for name in self.image_sizes}
        return self._stems.get(stem)


class ZipSink(Protocol):
    """Where writers put the export's files (io/zipout.ZipOut); paths are inside the zip."""

    def add_bytes(self, path: str, data: bytes | str) -> None: ...

    def open_text(self, path: str) -> IO[str]:
        """A text member written as a stream (large JSON and CSV files)."""

    def new_work_path(self) -> str:
        """A fresh file in the work folder, for a member built on disk (TFRecord)."""

    def add_work_file(self, path: str, spool: str) -> None:
        """Add a file made at `new_work_path()` as the member `path`."""

    def add_image(self, path: str, image_ref: Any) -> None: ...

    def add_directory(self, path: str) -> None:
        """A directory entry `path/` (Image Folders' class folders, empty ones included)."""

    def read_image(self, image_ref: Any) -> bytes:
        """The image's bytes (TFRecord embeds them in its records)."""


class FormatModule(Protocol):
    """What a module in formats/builtin/ exposes; registry.py maps a format id to it.

    Declared by SPEC flags rather than probed: a box format (`SPEC.box_fast_path`) defines
    `write_boxes(export_set, out)`, whose images are BoxImages (families/boxes.py), instead of
    `write_set`; `write_root(root, out)` exists when `SPEC.writes_root`.
    """

    SPEC: FormatSpec

    def write_set(self, export_set: ExportSet, out: ZipSink) -> None:
        """Write one set; its images arrive prepared (family, clamped, scaled, named).
        (Box formats: `write_boxes` instead.)"""

    def detect(self, source: Source) -> int:
        """How sure (0-100) this module is that `source` holds its format."""

    def read(self, source: Source, context: ReadContext) -> ReadResult:
        """Every image and annotation in `source`; bad input raises FormatError."""


def put_image(export_set: ExportSet, out: ZipSink, image: ImageRecord,
              subfolder: str = "") -> None:
    """Add the image file to the set (at `<set>/<subfolder><file>`) when images are included."""
    if export_set.include_images:
        out.add_image(f"{export_set.folder}{subfolder}{image.file_name}", image.ref)
