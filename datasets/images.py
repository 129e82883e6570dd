"""Images in bulk: uploaded files, zips and folders through `image_create`, one report line each.

Each file is read and stored on its own (memory holds one image at a time). A zip is opened only
through the checked `ZipSource`; its members are named by their file name alone (folders inside
the zip are not part of the name, as annotation files match images by file name).
"""

from __future__ import annotations

import posixpath
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from django.conf import settings
from django.db import IntegrityError

from annotations.formats.io.source import FolderSource, Source, UnsafeArchive
from annotations.formats.naming import IMAGE_EXTENSIONS, is_hidden
from annotations.formats.splits import set_of_path

from .models import Dataset
from .services import ImageRejected, image_create
from .uploads import SavedFile, UploadRefused, is_zip, open_zip, size_text

NAME_LENGTH = 255
SHOWN = 200  # report lines per outcome shown on the page; the counts are always complete

Outcome = Literal["stored", "duplicate", "rejected"]


@dataclass(frozen=True, slots=True)
class ImageLine:
    name: str
    outcome: Outcome
    detail: str


@dataclass
class ImagesReport:
    lines: list[ImageLine] = field(default_factory=list)
    skipped: int = 0  # files in a zip or folder that are not images (annotations, .DS_Store)

    def add(self, name: str, outcome: Outcome, detail: str) -> None:
        self.lines.append(ImageLine(name, outcome, detail))

    @property
    def counts(self) -> dict[str, int]:
        counts = Counter(line.outcome for line in self.lines)
        return {key: counts.get(key, 0) for key in ("stored", "duplicate", "rejected")}

    def shown(self, outcome: Outcome) -> list[ImageLine]:
        return [line for line in self.lines if line.outcome == outcome][:SHOWN]

    @property
    def shown_stored(self) -> list[ImageLine]:
        return self.shown("stored")

    @property
    def shown_duplicate(self) -> list[ImageLine]:
        return self.shown("duplicate")

    @property
    def shown_rejected(self) -> list[ImageLine]:
        return self.shown("rejected")

    @property
    def anything_stored(self) -> bool:
        counts = self.counts
        return bool(counts["stored"] or counts["duplicate"])


def images_import_files(*, dataset: Dataset, files: Iterable[SavedFile]) -> ImagesReport:
    """Files as uploaded: a zip's images are imported, any other file is tried as an image."""
    report = ImagesReport()
    for saved in files:
        if is_zip(saved.path):
            try:
                source = open_zip(saved.path, saved.name)
            except UploadRefused as exc:
                report.add(saved.name, "rejected", exc.message)
                continue
            try:
                images_import_source(dataset=dataset, source=source, report=report)
            finally:
                source.close()
        else:
            _one(dataset, saved.name, saved.size, saved.path.read_bytes, report)
    return report


def images_import_path(*, dataset: Dataset, path: Path) -> ImagesReport:
    """A folder (walked) or a zip (checked), from the shell."""
    report = ImagesReport()
    if path.is_dir():
        return images_import_source(dataset=dataset, source=FolderSource(path), report=report)
    if is_zip(path):
        source = open_zip(path, path.name)
        try:
            return images_import_source(dataset=dataset, source=source, report=report)
        finally:
            source.close()
    _one(dataset, path.name, path.stat().st_size, path.read_bytes, report)
    return report


def images_import_source(*, dataset: Dataset, source: Source,
                         report: ImagesReport) -> ImagesReport:
    for member in source.files():
        name = posixpath.basename(member)
        if is_hidden(member) or not name.lower().endswith(IMAGE_EXTENSIONS):
            report.skipped += 1
            continue
        _one(dataset, name, source.size(member), lambda m=member: source.read(m), report,
             recorded_set=set_of_path(member) or "")
    return report


def _one(dataset: Dataset, name: str, size: int, read: Callable[[], bytes],
         report: ImagesReport, recorded_set: str = "") -> None:
    limit = settings.NEXUS_MAX_IMAGE_BYTES
    if len(name) > NAME_LENGTH:
        report.add(name, "rejected", f"{name[:40]}…: the file name is longer than "
                   f"{NAME_LENGTH} characters")
        return
    if size > limit:
        report.add(name, "rejected", f"{name}: the file is larger than the limit of "
                   f"{size_text(limit)} for one image")
        return
    try:
        image, created = image_create(dataset=dataset, name=name, data=read(),
                                      recorded_set=recorded_set)
    except ImageRejected as exc:
        report.add(name, "rejected", str(exc))
        return
    except UnsafeArchive as exc:  # a member that is larger than its zip entry says
        report.add(name, "rejected", f"{name}: {exc}")
        return
    except IntegrityError:  # the same content stored by a concurrent upload
        report.add(name, "duplicate", "the same image is already in the dataset")
        return
    if created:
        report.add(name, "stored", f"{image.width}×{image.height}")
    else:
        report.add(name, "duplicate", f"same content as {image.original_name}")
