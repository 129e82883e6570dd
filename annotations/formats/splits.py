"""Which images go to train/, valid/ and test/ (FORMATS.md §3 "Split"), for every format.

Four modes: `random` (ordered, then cut in three), `stratified` (the same sizes, every class's
share close to each set's share), `stable` (each image decided by its content hash alone, so a
growing dataset never moves an earlier image to another set) and `keep` (each image in the set it
was uploaded with, the others by the stable rule).
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import MutableSequence, Sequence

SET_NAMES = ("train", "valid", "test")
SPLIT_MODES = ("random", "stratified", "stable", "keep")
# Folder names of an uploaded dataset's sets, as Nexus, Roboflow and Ultralytics write them.
SET_FOLDERS = {"train": "train", "valid": "valid", "val": "valid", "test": "test"}


def set_of_path(path: str) -> str | None:
    """'ds/train/labels/a.txt' -> 'train', 'labels/val/a.txt' -> 'valid': the set of the nearest
    set folder around the file, or None when it is in none."""
    for folder in reversed(path.split("/")[:-1]):
        found = SET_FOLDERS.get(folder.lower())
        if found is not None:
            return found
    return None


def held_out_count(n: int, ratio: float) -> int:
    """How many of n images a share `ratio` of them is (0.3 of 100 images: 30)."""
    return min(n, max(0, math.floor(ratio * n + 0.5)))


def set_sizes(n: int, valid_ratio: float, test_ratio: float) -> dict[str, int]:
    n_test = held_out_count(n, test_ratio)
    n_valid = min(n - n_test, held_out_count(n, valid_ratio))
    return {"train": n - n_valid - n_test, "valid": n_valid, "test": n_test}


def random_split(ordered: MutableSequence[int], valid_ratio: float, test_ratio: float
                 ) -> dict[str, MutableSequence[int]]:
    """The first images to train/, the next to valid/, the last to test/."""
    sizes = set_sizes(len(ordered), valid_ratio, test_ratio)
    train_end = sizes["train"]
    valid_end = train_end + sizes["valid"]
    return {"train": ordered[:train_end], "valid": ordered[train_end:valid_end],
            "test": ordered[valid_end:]}


def stable_share(seed: int, image_sha256: str) -> float:
    """The image's place in [0, 1): the same for the same seed and bytes, whatever else changes."""
    digest = hashlib.sha256(f"{seed}:{image_sha256}".encode()).hexdigest()
    return int(digest[:15], 16) / 16**15


def stable_split(ordered: MutableSequence[int], hashes: Sequence[str], seed: int,
                 valid_ratio: float, test_ratio: float,
                 recorded: Sequence[str | None] | None = None) -> dict[str, MutableSequence[int]]:
    """`hashes[i]` is the sha256 of image `ordered[i]`; each set keeps the given order.
    With `recorded` (the `keep` mode), an image with a recorded set stays in it."""
    chosen: dict[str, list[int]] = {name: [] for name in SET_NAMES}
    valid_limit = test_ratio + valid_ratio
    kept = recorded or [None] * len(ordered)
    for image_id, image_hash, kept_set in zip(ordered, hashes, kept, strict=True):
        if kept_set:
            chosen[kept_set].append(image_id)
            continue
        u = stable_share(seed, image_hash)
        name = "test" if u < test_ratio else "valid" if u < valid_limit else "train"
        chosen[name].append(image_id)
    return _same_type(ordered, chosen)


def stratified_split(ordered: MutableSequence[int], classes: Sequence[Sequence[int]], seed: int,
                     valid_ratio: float, test_ratio: float) -> dict[str, MutableSequence[int]]:
    """Iterative stratification (Sechidis, Tsoumakas and Vlahavas, 2011) with exact set sizes.

    `classes[i]` holds the class ids of image `ordered[i]`. Rarest class first, each of its images
    goes to the set that still wants most of that class among the sets with room left, a set with
    none of the class yet first (so a class with an image per non-empty set has one in each);
    images without a class fill the room left. Ties go by the seed's order of the images."""
    n = len(ordered)
    sizes = set_sizes(n, valid_ratio, test_ratio)
    names = [name for name in SET_NAMES if sizes[name]]
    if len(names) <= 1:
        return random_split(ordered, valid_ratio, test_ratio)
    shares = [sizes[name] / n for name in names]
    room = [sizes[name] for name in names]
    visit = list(range(n))
    random.Random(seed).shuffle(visit)  # the tie-break order
    by_class: dict[int, list[int]] = {}
    for i in visit:
        for c in classes[i]:
            by_class.setdefault(c, []).append(i)
    remaining = {c: len(members) for c, members in by_class.items()}
    wanted = {c: [share * count for share in shares] for c, count in remaining.items()}
    have = {c: [0] * len(names) for c in by_class}
    placed = [-1] * n
    sets_range = range(len(names))
    while remaining:
        rarest = min(remaining, key=lambda c: (remaining[c], c))
        want, got = wanted[rarest], have[rarest]
        for i in by_class[rarest]:
            if placed[i] >= 0:
                continue
            open_sets = [s for s in sets_range if room[s] > 0]
            best = max(open_sets, key=lambda s: (got[s] == 0, want[s], room[s], -s))
            placed[i] = best
            room[best] -= 1
            for c in classes[i]:
                wanted[c][best] -= 1
                have[c][best] += 1
                left = remaining[c] - 1
                if left:
                    remaining[c] = left
                else:
                    del remaining[c]
    for i in visit:  # images without a class
        if placed[i] < 0:
            best = max(sets_range, key=lambda s: (room[s], -s))
            placed[i] = best
            room[best] -= 1
    chosen: dict[str, list[int]] = {name: [] for name in SET_NAMES}
    for image_id, s in zip(ordered, placed, strict=True):
        chosen[names[s]].append(image_id)
    return _same_type(ordered, chosen)


def _same_type(ordered: MutableSequence[int], chosen: dict[str, list[int]]
               ) -> dict[str, MutableSequence[int]]:
    """The sets in the container type of `ordered` (a packed array stays packed)."""
    if isinstance(ordered, list):
        return dict(chosen)
    return {name: type(ordered)(ordered.typecode, ids) if hasattr(ordered, "typecode") else ids
            for name, ids in chosen.items()}
