"""Image Folders (classification): class folders per set, written and read back."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from annotations.formats import registry
from annotations.formats.builtin import folder_classification
from annotations.formats.builtin.folder_classification import class_folders
from annotations.formats.errors import FormatError
from annotations.formats.io.reading import read_by_set
from annotations.formats.io.source import ZipSource
from annotations.formats.records import Label
from annotations.formats.spec import ReadContext

from .canonical import export_canonical, zip_members
from .helpers import image, memory

FORMAT = "folder_classification"
JPEG = b"\xff\xd8\xff\xe0 not decoded by the reader"


@pytest.mark.parametrize("names,folders", [
    (["car", "café"], ["car", "café"]),  # clean names are their own folders
    (['a/b\\c:d*e?f"g<h>i|j'], ["a_b_c_d_e_f_g_h_i_j"]),  # each forbidden character
    (["tab\there"], ["tab_here"]),  # a control character
    ([".", "..", "..."], ["_", "___2", "___3"]),  # only dots: "_", then clashes
    (["a/b", "a_b"], ["a_b", "a_b__2"]),  # the later of two equal folders is suffixed
    (["Cat", "cat", "CAT"], ["Cat", "cat__2", "CAT__3"]),  # case-insensitive file systems
    (["x__3", "x", "X"], ["x__3", "x", "X__3__3"]),  # a suffix never lands on a taken folder
])
def test_class_folders_clean_names_and_suffix_the_later_of_a_clash(names, folders):
    found = class_folders([Label(name) for name in names])
    assert list(found) == names
    assert list(found.values()) == folders


def _export(tmp_path: Path, images=None, labels=None, **options) -> tuple[dict, list, dict]:
    """(files below the top folder, directory entries below it, manifest)."""
    target = tmp_path / "out.zip"
    export_canonical(FORMAT, str(target), images=images, dataset_labels=labels, **options)
    with zipfile.ZipFile(target) as archive:
        infos = archive.infolist()
        files = {i.filename.split("/", 1)[1]: archive.read(i) for i in infos if not i.is_dir()}
        directories = [i.filename.split("/", 1)[1] for i in infos if i.is_dir()]
    return files, directories, json.loads(files["manifest.json"])


TAGGED = [
    image("street.jpg", 1, tags=("car",)),
    image("plaza.png", 2, tags=("car", "person", "car")),  # two classes, one tag repeated
    image("empty.jpg", 3),  # no tag: left out
    image("night.jpg", 4, ("car", (1, 2, 30, 40)), tags=("person",)),  # its box is not written
    image("Plaza.jpg", 5, tags=("person",)),  # the stem of plaza.png, ignoring case
]
LABELS = [Label("car"), Label("person"), Label("a/b"), Label("A_B")]


def test_each_image_is_in_the_folder_of_each_class_and_every_set_has_every_class(tmp_path):
    files, directories, manifest = _export(tmp_path, TAGGED, LABELS, valid_ratio=0.2,
                                           split_ratio=0.2)
    assert manifest["labels"] == ["car", "person", "a/b", "A_B"]
    # 5 images: train gets street, plaza, empty; valid night; test Plaza.
    assert directories == [f"{s}/{folder}/" for s in ("test", "train", "valid")
                           for folder in ("A_B__4", "a_b", "car", "person")]
    images = sorted(name for name in files if name != "manifest.json")
    assert images == ["test/person/Plaza.jpg", "train/car/plaza.png", "train/car/street.jpg",
                      "train/person/plaza.png", "valid/person/night.jpg"]
    assert files["train/car/plaza.png"] == files["train/person/plaza.png"]
    assert manifest["sets"] == {"train": {"images": 3, "annotations": 4},
                                "valid": {"images": 1, "annotations": 1},
                                "test": {"images": 1, "annotations": 1}}
    assert manifest["left_out"] == [{"file": "empty.jpg", "reason": "no class"}]
    assert manifest["dropped"] == {"box": 1}


def test_two_images_of_one_stem_are_never_one_file_in_a_class_folder(tmp_path):
    files, _, manifest = _export(tmp_path, [image("plaza.png", 2, tags=("person",)),
                                            image("Plaza.jpg", 5, tags=("person",))],
                                 LABELS[:2])
    assert sorted(n for n in files if n.startswith("train/person/")) == \
        ["train/person/Plaza__5.jpg", "train/person/plaza.png"]
    assert manifest["renamed"] == [{"from": "Plaza.jpg", "to": "Plaza__5.jpg"}]


def test_images_are_written_even_when_include_images_is_off(tmp_path):
    files, _, manifest = _export(tmp_path, TAGGED[:1], LABELS[:1], include_images=False)
    assert "train/car/street.jpg" in files
    assert manifest["options"]["include_images"] is True


def test_the_sets_load_as_ultralytics_check_cls_dataset_reads_them(tmp_path):
    """What `check_cls_dataset` checks (ultralytics/data/utils.py), on the extracted zip: the
    class folders of train/ (sorted) are the classes, and every other set has the same ones."""
    target = tmp_path / "out.zip"
    export_canonical(FORMAT, str(target), images=TAGGED, dataset_labels=LABELS,
                     valid_ratio=0.2, split_ratio=0.2)
    with zipfile.ZipFile(target) as archive:
        archive.extractall(tmp_path / "unzipped")  # our own export, not an upload
    root = next((tmp_path / "unzipped").iterdir())
    classes = {s.name: sorted(d.name for d in s.iterdir() if d.is_dir())
               for s in root.iterdir() if s.is_dir()}
    assert sorted(classes) == ["test", "train", "valid"]
    assert classes["train"] == ["A_B__4", "a_b", "car", "person"]
    assert all(found == classes["train"] for found in classes.values())
    assert not [p for p in root.glob("*/*") if p.is_file()]  # no image outside a class folder


def test_keras_reads_every_set_with_the_same_classes_and_each_image_once_per_folder(tmp_path):
    import keras  # TensorFlow's: imported here only, as the TFRecord tests do

    target = tmp_path / "out.zip"
    summary = export_canonical(FORMAT, str(target), images=TAGGED, dataset_labels=LABELS,
                               valid_ratio=0.2, split_ratio=0.2)
    with zipfile.ZipFile(target) as archive:
        archive.extractall(tmp_path / "unzipped")  # our own export, not an upload
    for set_name, counts in summary.sets.items():
        found = keras.utils.image_dataset_from_directory(
            tmp_path / "unzipped" / summary.top_folder / set_name, image_size=(16, 16),
            shuffle=False, verbose=False)
        assert found.class_names == ["A_B__4", "a_b", "car", "person"], set_name
        assert len(found.file_paths) == counts["images"], set_name


# --- reading ------------------------------------------------------------------------------------

def test_an_export_reads_back_with_its_own_label_names_and_order(tmp_path):
    _export(tmp_path, TAGGED, LABELS, split_ratio=0.2)
    source = ZipSource(tmp_path / "out.zip")
    result = read_by_set(lambda part: folder_classification.read(part, ReadContext()), source)
    # The manifest maps the folders back: "a/b" and "A_B" come back although their folders
    # are empty, in class order.
    assert result.labels == ["car", "person", "a/b", "A_B"]
    found = {(i.set_name, i.file_name): sorted(a.label for a in i.annotations)
             for i in result.images}
    assert found == {("train", "street.jpg"): ["car"], ("train", "plaza.png"): ["car", "person"],
                     ("train", "night.jpg"): ["person"], ("test", "Plaza.jpg"): ["person"]}
    assert {a.kind for i in result.images for a in i.annotations} == {"tag"}


def test_a_clashing_class_folder_carries_the_label_id_and_reads_back_by_name(tmp_path):
    labels = [Label("a/b", id=7), Label("A_B", id=31)]
    files, directories, _ = _export(tmp_path, [image("x.jpg", 1, tags=("A_B",)),
                                               image("y.jpg", 2, tags=("a/b",))], labels)
    assert directories == ["train/A_B__31/", "train/a_b/"]
    assert {"train/A_B__31/x.jpg", "train/a_b/y.jpg"} <= set(files)
    source = ZipSource(tmp_path / "out.zip")
    result = read_by_set(lambda part: folder_classification.read(part, ReadContext()), source)
    assert result.labels == ["a/b", "A_B"]
    assert {i.file_name: [a.label for a in i.annotations] for i in result.images} == {
        "x.jpg": ["A_B"], "y.jpg": ["a/b"]}


def test_folders_without_a_manifest_are_labels_in_sorted_order():
    source = memory({"train/zebra/a.jpg": JPEG, "train/ant/a.jpg": JPEG, "val/ant/b.png": JPEG,
                     "train/ant/sub/c.jpg": JPEG})  # deeper folders belong to their class
    result = read_by_set(lambda part: folder_classification.read(part, ReadContext()), source)
    assert result.labels == ["ant", "zebra"]
    found = sorted((i.set_name, i.file_name, sorted(a.label for a in i.annotations))
                   for i in result.images)
    assert found == [("train", "a.jpg", ["ant", "zebra"]), ("train", "c.jpg", ["ant"]),
                     ("valid", "b.png", ["ant"])]


def test_class_folders_at_the_root_are_one_set():
    source = memory({"cats/a.jpg": JPEG, "dogs/a.jpg": JPEG, "dogs/b.JPEG": JPEG,
                     "__MACOSX/cats/._a.jpg": b"", "cats/.DS_Store": b"", "README.md": "hi"})
    result = folder_classification.read(source, ReadContext())
    assert sorted((i.file_name, sorted(a.label for a in i.annotations))
                  for i in result.images) == [("a.jpg", ["cats", "dogs"]), ("b.JPEG", ["dogs"])]


@pytest.mark.parametrize("files,message", [
    ({"train/cat/a.jpg": JPEG, "train/b.jpg": JPEG},
     "train/b.jpg: the image is not in a class folder; put each image in a folder named after "
     "its class (train/<class>/<file>)"),
    ({"top/cat/a.jpg": JPEG, "top/b.jpg": JPEG},  # beside class folders, without set folders
     "top/b.jpg: the image is not in a class folder"),
    ({"cat/a.jpg": JPEG, "b.jpg": JPEG}, "b.jpg: the image is not in a class folder"),
    ({"train/cat/a.jpg": JPEG, "train/cat/notes.docx": b"x"},
     "train/cat/notes.docx: not an image; an Image Folders upload holds only images, each in "
     "the folder of its class"),
], ids=["in-a-set-folder", "in-the-top-folder", "at-the-root", "not-an-image"])
def test_bad_layouts_are_refused_naming_the_file(files, message):
    with pytest.raises(FormatError) as caught:
        folder_classification.read(memory(files), ReadContext())
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize("files,score", [
    ({"train/cat/a.jpg": JPEG, "valid/dog/b.png": JPEG, "manifest.json": "{}"}, 90),
    ({"cat/a.jpg": JPEG}, 90),
    ({"train/cat/a.jpg": JPEG, "train/b.jpg": JPEG}, 30),  # read() will name train/b.jpg
    ({"train/a.jpg": JPEG, "train/_annotations.csv": "filename,label\n"}, 0),
    ({"train/images/a.jpg": JPEG, "train/labels/a.txt": "0 0.5 0.5 0.1 0.1\n"}, 0),
    ({"a.jpg": JPEG}, 0),  # no class folder at all
])
def test_detection_wants_images_in_class_folders_and_nothing_else(files, score):
    assert folder_classification.detect(memory(files)) == score


@pytest.mark.parametrize("format_id", [f for f in registry.format_ids() if f != FORMAT])
def test_no_other_formats_export_is_taken_for_image_folders(format_id, tmp_path):
    target = tmp_path / "out.zip"
    export_canonical(format_id, str(target), split_ratio=0.34, include_images=True)
    assert folder_classification.detect(ZipSource(target)) == 0
    assert zip_members(str(target))  # the export was written
