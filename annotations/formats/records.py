"""The in-memory record types shared by every reader and writer.

Geometry is absolute pixels (origin top-left, continuous coordinates) unless a writer has been
handed records that `pipeline.prepare_image` normalised; the `ExportSet` says which.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["box", "polygon", "mask", "keypoints", "tag"]
KINDS: tuple[Kind, ...] = ("box", "polygon", "mask", "keypoints", "tag")
GEOMETRIC_KINDS: tuple[Kind, ...] = ("box", "polygon", "mask", "keypoints")

BoxTuple = tuple[float, float, float, float]  # xmin, ymin, xmax, ymax


@dataclass(slots=True)
class Rle:
    """A pycocotools-compressed RLE mask over the whole image (column-major)."""

    height: int
    width: int
    counts: str

    def as_coco(self) -> dict:
        return {"size": [self.height, self.width], "counts": self.counts}


@dataclass(slots=True)
class Keypoint:
    x: float
    y: float
    visibility: int  # COCO: 0 not labelled, 1 labelled but hidden, 2 visible


@dataclass(slots=True)
class Annotation:
    label: str
    kind: Kind
    box: BoxTuple | None = None  # the tight box, kept for every geometric kind
    polygon: list[list[float]] | None = None  # rings, each flat [x1, y1, x2, y2, ...]
    mask: Rle | None = None
    keypoints: list[Keypoint] | None = None
    area: float | None = None  # square pixels, whatever the normalisation


@dataclass(slots=True)
class ImageRecord:
    file_name: str
    width: int
    height: int
    annotations: list[Annotation] = field(default_factory=list)
    id: int | None = None  # database id: stable, used for renames and TFRecord source_id
    ref: str | None = None  # where the image bytes live (a storage name); opaque here
    sha256: str | None = None
    set_name: str | None = None  # read from an upload's train/, valid/ or test/ folder
    folder: str = ""  # the folders the file wrote before the name; matching ignores them


@dataclass(slots=True)
class Label:
    name: str
    color: tuple[int, int, int] = (255, 0, 0)
    id: int | None = None  # database id (Image Folders suffixes a clashing folder with it)


@dataclass(slots=True)
class Skeleton:
    label: str
    keypoints: list[str]
    connections: list[tuple[int, int]] = field(default_factory=list)  # 0-based
    flip_pairs: list[tuple[int, int]] = field(default_factory=list)  # 0-based
    name: str = ""
    inferred: bool = False  # point names made up by a reader (YOLO pose: kp0, kp1, …)

    def __post_init__(self) -> None:
        self.name = self.name or self.label


@dataclass(slots=True)
class ReadResult:
    """What a reader found: images (matched later by file name), labels in file order, skeletons."""

    images: list[ImageRecord]  # an iterator when ReadContext.stream asked for one
    labels: list[str] = field(default_factory=list)
    skeletons: list[Skeleton] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
