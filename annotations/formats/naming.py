"""File names inside the zip: the renaming rule of FORMATS.md §3, applied once for every format."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

FORBIDDEN = set('/\\:*?"<>|')
FORMULA_STARTS = ("=", "+", "-", "@")
# The image files a dataset holds (and readers recognise in an upload) by their extension.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif")
_SLUG_DROP = re.compile(r"[^a-z0-9]+")
# FORBIDDEN or a control character (Unicode category Cc is exactly U+0000-U+001F, U+007F-U+009F):
# one regex search per name instead of a category lookup per character (names are checked once
# per exported image).
_OFFENDING = re.compile('[/\\\\:*?"<>|\x00-\x1f\x7f-\x9f]')


@dataclass(frozen=True, slots=True)
class RenameRules:
    """Which format-specific triggers apply on top of the ones every format has."""

    whitespace: bool = False  # YOLO Keras PyTorch: one line per image, space separated
    formula_start: bool = False  # CSV formats: file name cells never need the formula prefix
    voc_stem: bool = False  # Pascal VOC: ImageSets lists cannot carry '#' or edge whitespace


def split_folder(path: str) -> tuple[str, str]:
    """("train2017", "0001.jpg") for "train2017/0001.jpg" or "train2017\\0001.jpg"; a name with
    no folder gives ("", name). Whatever the folders are (`../`, `/etc/`, `C:\\`, a URL), they
    only ever come off: the name is matched, never opened."""
    folder, _, name = path.replace("\\", "/").rpartition("/")
    return folder, name


def replace_offending(text: str) -> str:
    """`text` with each of `/ \\ : * ? " < > |` and each control character replaced by `_`."""
    return _OFFENDING.sub("_", text)


def is_hidden(path: str) -> bool:
    """Hidden files and macOS resource forks (`__MACOSX/._a.jpg`) are not images."""
    return any(part.startswith(".") or part == "__MACOSX" for part in path.split("/"))


def split_name(name: str) -> tuple[str, str]:
    """('photo.v2', '.jpg') for 'photo.v2.jpg'; a name without a dot has an empty extension."""
    dot = name.rfind(".")
    if dot <= 0:
        return name, ""
    return name[:dot], name[dot:]


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) == "Cc"


def _is_offending(ch: str, rules: RenameRules) -> bool:
    return ch in FORBIDDEN or _is_control(ch) or (rules.whitespace and ch.isspace())


def needs_rename(name: str, rules: RenameRules) -> bool:
    if _OFFENDING.search(name) or (rules.whitespace and any(map(str.isspace, name))):
        return True
    if rules.formula_start and name.startswith(FORMULA_STARTS):
        return True
    stem, _ = split_name(name)
    if rules.voc_stem and (stem.startswith("#") or stem != stem.strip()):
        return True
    return False


def clean_stem(stem: str, rules: RenameRules) -> str:
    chars = ["_" if _is_offending(ch, rules) else ch for ch in stem]
    if chars and chars[0] in (*FORMULA_STARTS, "#"):
        chars[0] = "_"
    for index in range(len(chars)):  # leading whitespace
        if not chars[index].isspace():
            break
        chars[index] = "_"
    for index in range(len(chars) - 1, -1, -1):  # trailing whitespace
        if not chars[index].isspace():
            break
        chars[index] = "_"
    return "".join(chars) or "_"


class StemSet:
    """A set of stems that costs about a byte per character: a Python set spends ~100 bytes per
    stem (~100 MB for a million images). Stems are grouped by hash into one string per bucket,
    "/stem/stem/", and looked up as "/stem/" in it. Exact, because no stem given to it holds "/":
    SetNamer only looks up names that need no renaming, and renamed stems have "/" (FORBIDDEN)
    replaced."""

    MASK = (1 << 16) - 1  # buckets (0.5 MB of slots): ~15 stems each at a million images

    def __init__(self) -> None:
        self._buckets = ["/"] * (self.MASK + 1)

    def __contains__(self, stem: str) -> bool:
        return "/" + stem + "/" in self._buckets[hash(stem) & self.MASK]

    def add(self, stem: str) -> bool:
        """Add `stem`; False when it was there already."""
        key = hash(stem) & self.MASK
        bucket = self._buckets[key]
        if "/" + stem + "/" in bucket:
            return False
        self._buckets[key] = bucket + stem + "/"
        return True


@dataclass
class SetNamer:
    """Names the images of one set in write order, remembering stems already used."""

    rules: RenameRules
    used_stems: StemSet = field(default_factory=StemSet)
    renamed: list[dict[str, str]] = field(default_factory=list)

    def name(self, original: str, image_id: int | None) -> str:
        stem, ext = split_name(original)
        if needs_rename(original, self.rules) or not self.used_stems.add(stem.casefold()):
            clean_ext = "".join("_" if _is_offending(ch, self.rules) else ch for ch in ext)
            new = f"{clean_stem(stem, self.rules)}__{image_id}{clean_ext}"
            self.renamed.append({"from": original, "to": new})
            self.used_stems.add(split_name(new)[0].casefold())
            return new
        return original


def slugify(name: str) -> str:
    """Lowercase ASCII letters, digits and hyphens; 'dataset' if nothing is left."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = _SLUG_DROP.sub("-", ascii_name.lower()).strip("-")
    return slug or "dataset"


def clean_label(name: str) -> str:
    """Trim and NFC-normalise a label; refuse names class files cannot carry (FORMATS.md §1)."""
    cleaned = unicodedata.normalize("NFC", name.strip())
    if not cleaned:
        raise ValueError("a label name cannot be empty")
    if any(_is_control(ch) for ch in cleaned):
        raise ValueError(f"label {cleaned!r} contains a control character")
    if ":" in cleaned:
        raise ValueError(f"label {cleaned!r} contains ':', which class files cannot carry")
    if cleaned.startswith("#"):
        raise ValueError(f"label {cleaned!r} starts with '#', which class files read as a comment")
    return cleaned
