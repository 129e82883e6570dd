"""Image sizes for readers whose files do not carry them (CSV, YOLO Keras), and the one rule for
turning normalized fractions back into pixels.

An export renames some images (`Bild ü.png` -> `Bild_ü__2.png` in YOLO Keras); re-uploading it
names the new file, which the dataset does not know. The export's own `manifest.json` lists those
renames, so the lookup follows them back to the original name. The manifest is only a hint: a
missing or malformed one is ignored, never an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from annotations.formats.io.manifest import manifest_list, manifests
from annotations.formats.io.source import Source
from annotations.formats.records import Annotation, ImageRecord
from annotations.formats.spec import ReadContext


class SizeLookup:
    """`size(name)`: the dataset's (width, height) for a file name, following manifest renames."""

    def __init__(self, source: Source, context: ReadContext) -> None:
        self.context = context
        self.original: dict[str, str] = _renames(source)
        self.missing: set[str] = set()

    def size(self, file_name: str) -> tuple[int, int] | None:
        found = self.context.size_of(file_name)
        if found is None and file_name in self.original:
            found = self.context.size_of(self.original[file_name])
        return found

    def size_or_unknown(self, file_name: str) -> tuple[int, int]:
        """(0, 0) when unknown: absolute boxes and tags do not need it; the importer matches the
        record to the dataset image by name and takes that image's size."""
        found = self.size(file_name)
        if found is None:
            self.missing.add(file_name)
            return 0, 0
        return found

    def tagged_image(self, file_name: str, labels: Iterable[str]) -> ImageRecord:
        """The image with one class tag per label (classification readers)."""
        width, height = self.size_or_unknown(file_name)
        return ImageRecord(file_name=file_name, width=width, height=height,
                           annotations=[Annotation(label=n, kind="tag") for n in labels])

    def notes(self) -> list[str]:
        if not self.missing or not self.context.image_sizes:
            return []  # reading without a dataset: every size is unknown, nothing to report
        names = ", ".join(sorted(self.missing)[:5])
        more = f" and {len(self.missing) - 5} more" if len(self.missing) > 5 else ""
        return [f"{len(self.missing)} annotated images are not in the dataset: {names}{more}"]


def _renames(source: Source) -> dict[str, str]:
    renamed: dict[str, str] = {}
    for manifest in manifests(source):
        for item in manifest_list(manifest, "renamed"):
            if isinstance(item, dict) and isinstance(item.get("to"), str) \
                    and isinstance(item.get("from"), str):
                renamed[item["to"]] = item["from"]
    return renamed


def all_fractions(values: Sequence[float]) -> bool:
    """True when coordinates look normalized: every value within [0, 1].

    Decided over the whole upload, because one tool wrote it: in pixels a box inside [0, 1] is at
    most one pixel, so an upload of only such boxes is taken as fractions. An upload with no boxes
    at all is taken as pixels (nothing to scale either way). The values are finite (readers
    refuse the others), so min and max, which loop in C, decide it."""
    return len(values) > 0 and 0.0 <= min(values) and max(values) <= 1.0


def scale_box(box: tuple[float, float, float, float], width: int, height: int,
              normalized: bool) -> tuple[float, float, float, float]:
    if not normalized:
        return box
    return (box[0] * width, box[1] * height, box[2] * width, box[3] * height)
