"""Reading `skeletons.json` (FORMATS.md §5), shipped with keypoint exports and accepted on upload.

    {"version": 1, "skeletons": [{"name", "label", "keypoints": [names],
                                  "connections": [[0, 1]], "flip_pairs": [[1, 2]]}]}

Indices are 0-based here (COCO's category `skeleton` is 1-based). The writer is
`pipeline.skeletons_json`.
"""

from __future__ import annotations

from annotations.formats.families.coco_check import Checker
from annotations.formats.io import jsonio
from annotations.formats.io.source import Source
from annotations.formats.records import Skeleton


def read_skeletons_file(source: Source, path: str) -> list[Skeleton]:
    check = Checker(path)
    document = jsonio.loads_untrusted(source.read(path), path)
    if not isinstance(document, dict):
        check.fail("the file", 'expected a JSON object with a "skeletons" list')
    skeletons = []
    for number, record in check.records(document, "skeletons"):
        where = f"skeletons record {number}"
        label = check.text(record, "label", where).strip()
        names = check.strings(record, "keypoints", where)
        connections = check.pairs(record.get("connections") or [], len(names), where,
                                  key="connections", first=0)
        flip_pairs = check.pairs(record.get("flip_pairs") or [], len(names), where,
                                 key="flip_pairs", first=0)
        name = record.get("name")
        skeletons.append(Skeleton(label=label, keypoints=names, connections=connections,
                                  flip_pairs=flip_pairs,
                                  name=name.strip() if isinstance(name, str) else ""))
    return skeletons

