"""Which dataset image an annotation file means, and which labels an import will use.

Images are matched by file name, folders ignored: `train2017/0001.jpg`, `../../x/0001.jpg`,
`/data/0001.jpg`, `C:\\x\\0001.jpg` and `file:///x/0001.jpg` all mean the dataset's image
`0001.jpg` (annotation files from other tools carry the paths of the machine they were made on).
A name is only ever a dictionary key: nothing is opened or looked up on disk, so a folder that
points outside cannot reach anything. The name as written is tried first, so a dataset image
whose stored name has folders still matches exactly. The import preview says how many images were
"matched by file name, folders ignored". Label names are cleaned with `clean_label` (FORMATS.md
§1): names equal after trimming and NFC normalisation are one label; a name the class files
cannot carry refuses the import with a message that names it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from django.conf import settings

from annotations.formats.naming import clean_label, split_folder
from datasets.models import Dataset, Image, Label
from datasets.uploads import UploadRefused

LABEL_LENGTH = Label._meta.get_field("name").max_length


class ImportRefused(UploadRefused):
    """The upload cannot be imported; the message is for the user."""


def has_folder(name: str) -> bool:
    return bool(split_folder(name)[0])


def _nfc(name: str) -> str:
    return unicodedata.normalize("NFC", name)


@dataclass(frozen=True, slots=True)
class Match:
    id: int
    name: str
    width: int
    height: int


class ImageIndex:
    """The dataset's images by file name (first uploaded wins when two share a name)."""

    def __init__(self, dataset: Dataset, renames: dict[str, str] | None = None) -> None:
        self.renames = renames or {}
        self.by_name: dict[str, Match] = {}
        self.count = 0
        # One int object per distinct side and one tuple per distinct size, not one per image:
        # 100k images of a few sizes would otherwise hold about 12 MB of equal numbers.
        self._same: dict = {}
        same = self._same.setdefault
        rows = (Image.objects.filter(dataset=dataset).order_by("position", "id")
                .values_list("id", "original_name", "width", "height"))
        for pk, name, width, height in rows.iterator(chunk_size=2000):
            self.count += 1
            match = Match(pk, name, same(width, width), same(height, height))
            self.by_name.setdefault(name, match)
            self.by_name.setdefault(_nfc(name), match)

    def sizes(self) -> dict[str, tuple[int, int]]:
        """For ReadContext: every spelling a file may use (as stored, NFC and NFD)."""
        sizes: dict[str, tuple[int, int]] = {}
        same = self._same.setdefault
        for name, match in self.by_name.items():
            size = same((match.width, match.height), (match.width, match.height))
            sizes.setdefault(name, size)
            sizes.setdefault(unicodedata.normalize("NFD", name), size)
        return sizes

    def find(self, file_name: str) -> Match | None:
        """The image a name means: as written, as renamed by a Nexus export, NFC, then its
        file name without the folders (`train2017/0001.jpg`, `../x/0001.jpg`: `0001.jpg`)."""
        if not file_name or "\x00" in file_name:
            return None
        for candidate in (file_name, self.renames.get(file_name)):
            if candidate and (found := self.by_name.get(candidate) or
                              self.by_name.get(_nfc(candidate))):
                return found
        folder, base = split_folder(file_name)
        return self.find(base) if folder else None


@dataclass
class LabelPlan:
    """Cleaned label names in class order, and what cleaning merged or skipped."""

    existing: list[str]
    order: list[str] = field(default_factory=list)
    used: set[str] = field(default_factory=set)
    spellings: dict[str, set[str]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # declared but unusable: why
    _cache: dict[str, str] = field(default_factory=dict)

    def declare(self, names: list[str]) -> None:
        """Class lists: kept in their order; an unusable name no annotation uses is skipped."""
        for raw in names:
            try:
                self._add(raw)
            except ImportRefused as exc:
                self.skipped[raw] = exc.message

    def use(self, raw: str) -> str:
        """The cleaned name of a label an annotation uses; ImportRefused when it cannot be."""
        name = self._add(raw)
        self.used.add(name)
        self.skipped.pop(raw, None)
        return name

    def _add(self, raw: str) -> str:
        if raw in self._cache:
            return self._cache[raw]
        try:
            name = clean_label(raw)
        except ValueError as exc:
            text = str(exc)
            raise ImportRefused(text[:1].upper() + text[1:] + ".") from None
        if len(name) > LABEL_LENGTH:
            raise ImportRefused(f"Label {name[:40]!r}… is longer than {LABEL_LENGTH} characters.")
        self._cache[raw] = name
        self.spellings.setdefault(name, set()).add(raw.strip())
        if name not in self.order:
            self.order.append(name)
        return name

    def new(self) -> list[str]:
        existing = set(self.existing)
        return [name for name in self.order if name not in existing]

    def check_limit(self) -> None:
        new, limit = len(self.new()), settings.NEXUS_MAX_NEW_LABELS
        if new > limit:
            raise ImportRefused(f"The upload names {new:,} new labels; at most {limit:,} can be "
                                "created in one import.")

    def report(self) -> dict:
        new = self.new()
        return {
            "new": new,
            "existing": [n for n in self.order if n not in new],
            "unused": [n for n in self.order if n not in self.used],
            "merged": [{"name": n, "spellings": sorted(s)} for n, s in self.spellings.items()
                       if len(s) > 1],
            "skipped": [{"name": raw, "reason": why} for raw, why in self.skipped.items()],
        }
