"""Train / valid / test splits (FORMATS.md §3): sizes, the stable hash, stratification, and the
valid/ set written by every format."""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter

import pytest

from annotations.formats import registry
from annotations.formats.options import ExportOptions, OptionError, parse_options
from annotations.formats.pipeline import order_and_split
from annotations.formats.splits import random_split, stable_share, stable_split, stratified_split

from .canonical import export_canonical, zip_members

COCO = registry.get_spec("coco")


def test_random_split_cuts_train_then_valid_then_test():
    split = random_split(list(range(100)), valid_ratio=0.2, test_ratio=0.3)
    assert split == {"train": list(range(50)), "valid": list(range(50, 70)),
                     "test": list(range(70, 100))}
    assert random_split(list(range(3)), 0.0, 0.0) == {"train": [0, 1, 2], "valid": [],
                                                      "test": []}
    assert random_split(list(range(3)), 0.0, 1.0)["test"] == [0, 1, 2]


def test_shares_adding_up_to_more_than_one_are_refused():
    with pytest.raises(OptionError) as refused:
        parse_options({"split_ratio": 0.7, "valid_ratio": 0.4}, COCO)
    assert refused.value.field == "valid_ratio"
    assert "add up to 1.1" in refused.value.message
    assert parse_options({"split_ratio": 0.7, "valid_ratio": 0.3}, COCO).valid_ratio == 0.3


def test_the_stable_share_is_the_contracts_hash():
    image_hash = hashlib.sha256(b"some image bytes").hexdigest()
    digest = hashlib.sha256(f"7:{image_hash}".encode()).hexdigest()
    assert stable_share(7, image_hash) == int(digest[:15], 16) / 16**15


def test_a_stable_split_never_moves_an_image_when_the_dataset_grows():
    hashes = {i: hashlib.sha256(str(i).encode()).hexdigest() for i in range(300)}

    def sets(ids):
        split = stable_split(ids, [hashes[i] for i in ids], 0, 0.2, 0.3)
        return {i: name for name, members in split.items() for i in members}

    before, after = sets(list(range(200))), sets(list(range(300)))
    assert all(after[i] == before[i] for i in before)
    sizes = Counter(after.values())
    assert 40 < sizes["test"] < 140 and 20 < sizes["valid"] < 100  # close to 90 and 60


def multi_label_images(n: int, n_classes: int, seed: int) -> dict[int, tuple[int, ...]]:
    """Skewed class frequencies (class c on about 1/(c+1) of the images), 1-3 classes each."""
    rng = random.Random(seed)
    weights = [1 / (c + 1) for c in range(n_classes)]
    return {i: tuple(sorted(set(rng.choices(range(n_classes), weights, k=rng.randint(1, 3)))))
            for i in range(n)}


def test_a_stratified_split_keeps_set_sizes_and_every_class_share():
    classes = multi_label_images(2000, 12, seed=1)
    ids = list(classes)
    split = stratified_split(ids, [classes[i] for i in ids], 5, 0.2, 0.1)
    assert {name: len(members) for name, members in split.items()} == \
        {"train": 1400, "valid": 400, "test": 200}
    assert sorted(i for members in split.values() for i in members) == ids
    totals = Counter(c for i in ids for c in classes[i])
    for name, share in (("train", 0.7), ("valid", 0.2), ("test", 0.1)):
        counts = Counter(c for i in split[name] for c in classes[i])
        for c, total in totals.items():
            assert abs(counts[c] - share * total) <= max(3, 0.05 * total), (name, c)
    assert stratified_split(ids, [classes[i] for i in ids], 5, 0.2, 0.1) == split
    assert stratified_split(ids, [classes[i] for i in ids], 6, 0.2, 0.1) != split


def test_a_rare_class_gets_an_image_in_every_set():
    classes = {i: (0,) for i in range(97)} | {97: (1,), 98: (1,), 99: (1,)}
    ids = list(classes)
    split = stratified_split(ids, [classes[i] for i in ids], 0, 0.1, 0.1)
    for members in split.values():
        assert any(classes[i] == (1,) for i in members)
    # A random split of the same images puts all three at the end, in test/.
    assert [classes[i] for i in random_split(ids, 0.1, 0.1)["train"]].count((1,)) == 0


def test_the_pipeline_split_keeps_the_shuffled_order_inside_each_set():
    options = ExportOptions(shuffle=True, seed=3, split_ratio=0.25, valid_ratio=0.25,
                            split_mode="stratified")
    classes = {i: (i % 3,) for i in range(40)}
    split = order_and_split(list(range(40)), options, classes=classes)
    shuffled = list(range(40))
    random.Random(3).shuffle(shuffled)
    for members in split.values():
        assert members == [i for i in shuffled if i in set(members)]


@pytest.mark.parametrize("format_id", registry.format_ids())
def test_every_format_writes_the_valid_set(format_id, tmp_path):
    target = tmp_path / "out.zip"
    summary = export_canonical(format_id, str(target), split_ratio=0.34, valid_ratio=0.33)
    members = zip_members(str(target))
    top = summary.top_folder
    manifest = json.loads(members[f"{top}/manifest.json"])
    assert (manifest["options"]["valid_ratio"], manifest["options"]["split_ratio"]) == \
        (0.33, 0.34)
    spec = registry.get_spec(format_id)
    if not spec.skips_empty:  # 3 images: one per set
        assert manifest["sets"] == {name: manifest["sets"][name]
                                    for name in ("train", "valid", "test")}
        assert all(counts["images"] == 1 for counts in manifest["sets"].values())
    for name in manifest["sets"]:
        assert any(m.startswith(f"{top}/{name}/") for m in members), name
    if "valid" in manifest["sets"] and format_id in ("tfrecord", "pascal_voc"):
        wanted = {"tfrecord": "valid/valid.tfrecord",
                  "pascal_voc": "valid/ImageSets/Main/valid.txt"}[format_id]
        assert f"{top}/{wanted}" in members


def test_yolo_data_yaml_names_valid_for_val_and_test_for_test(tmp_path):
    target = tmp_path / "out.zip"
    summary = export_canonical("yolo_darknet", str(target), split_ratio=0.34, valid_ratio=0.33)
    text = zip_members(str(target))[f"{summary.top_folder}/data.yaml"].decode()
    assert text.endswith("train: train/images\nval: valid/images\ntest: test/images\n")
    summary = export_canonical("yolo_darknet", str(target), valid_ratio=0.34)
    text = zip_members(str(target))[f"{summary.top_folder}/data.yaml"].decode()
    assert text.endswith("train: train/images\nval: valid/images\n")
