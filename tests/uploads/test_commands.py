"""`import_images` and `import_annotations` from the shell: the same services as the browser."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from annotations.models import Annotation
from datasets.models import Dataset, Image, Label

from .conftest import image_bytes, make_zip

VOC = ("<annotation><filename>street.jpg</filename><size><width>640</width><height>480</height>"
       "</size><object><name>car</name><bndbox><xmin>11</xmin><ymin>21</ymin><xmax>110</xmax>"
       "<ymax>220</ymax></bndbox></object></annotation>")


def run(*args, stdin=None) -> str:
    out = io.StringIO()
    options = {"stdout": out}
    if stdin is not None:
        options["stdin"] = stdin
    call_command(*args, **options)
    return out.getvalue()


@pytest.fixture
def folder(tmp_path) -> Path:
    root = tmp_path / "photos"
    (root / "deep").mkdir(parents=True)
    (root / "street.jpg").write_bytes(image_bytes("street.jpg", 640, 480))
    (root / "deep" / "plaza.png").write_bytes(image_bytes("plaza.png", 320, 240, (1, 1, 1)))
    (root / "notes.txt").write_text("not an image")
    (root / "street.xml").write_text(VOC)
    return root


def test_import_images_walks_a_folder_and_creates_the_dataset(owner, folder):
    output = run("import_images", "Harbour", str(folder), "--create", "owner")
    dataset = Dataset.objects.get(name="Harbour")
    assert f"2 stored, 0 duplicates, 0 rejected, 2 other files skipped (dataset 'Harbour', " \
           f"id {dataset.pk})." in output
    assert sorted(dataset.images.values_list("original_name", "width")) == [
        ("plaza.png", 320), ("street.jpg", 640)]
    again = run("import_images", str(dataset.pk), str(folder))
    assert "0 stored, 2 duplicates" in again
    assert "duplicate: street.jpg: same content as street.jpg" in again


def test_import_images_reads_a_zip_and_refuses_an_unsafe_one(dataset, tmp_path):
    good = tmp_path / "good.zip"
    good.write_bytes(make_zip({"x/new.png": image_bytes("new.png", 8, 8, (4, 4, 4))}))
    assert "1 stored" in run("import_images", "Street", str(good))
    bad = tmp_path / "bad.zip"
    bad.write_bytes(make_zip({"../evil.png": b"x"}))
    with pytest.raises(CommandError, match=r"bad.zip: '../evil.png' points outside the zip."):
        run("import_images", "Street", str(bad))


def test_import_annotations_prints_the_preview_then_imports(dataset, folder):
    preview = run("import_annotations", "Street", str(folder), "--dry-run")
    assert "Format: Pascal VOC (4 files)" in preview
    assert "Images: 1 matched of 1 in the upload (the dataset has 3)" in preview
    assert "Annotations to import: 1 (1 box)" in preview
    assert "Labels to create: car" in preview
    assert "Dry run: nothing imported." in preview
    assert not Annotation.objects.exists()
    # stdin is not a terminal here: no question asked
    output = run("import_annotations", "Street", str(folder / "street.xml"))
    assert "Imported 1 annotations on 1 images into 'Street'; 1 labels created" in output
    box = Annotation.objects.get()
    assert (box.xmin, box.ymin, box.xmax, box.ymax) == (10, 20, 110, 220)
    again = run("import_annotations", "Street", str(folder), "--yes")
    assert "already in the dataset, skipped: 1" in again and "Nothing to import." in again
    assert Annotation.objects.count() == 1


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_import_annotations_asks_in_a_terminal(dataset, folder):
    output = run("import_annotations", "Street", str(folder), stdin=Terminal("n\n"))
    assert output.endswith("Import? [y/N] Nothing imported.\n")
    assert not Annotation.objects.exists() and not Label.objects.exists()
    output = run("import_annotations", "Street", str(folder), stdin=Terminal("y\n"))
    assert "Imported 1 annotations" in output


def test_import_annotations_refuses_bad_input_with_the_message(dataset, tmp_path):
    path = tmp_path / "_annotations.coco.json"
    path.write_text('{"images": [], "annotations": [], "categories": [], "x": NaN}')
    with pytest.raises(CommandError, match="_annotations.coco.json line 1: NaN is not a number "
                                           "JSON allows"):
        run("import_annotations", "Street", str(path))
    with pytest.raises(CommandError, match="no dataset 'Nope'"):
        run("import_annotations", "Nope", str(path))
    assert not Label.objects.exists()


def test_import_annotations_with_a_chosen_format(dataset, tmp_path):
    path = tmp_path / "boxes.csv"
    path.write_text("filename,xmin,ymin,xmax,ymax,label\nstreet.jpg,1,2,3,4,car\n")
    output = run("import_annotations", str(dataset.pk), str(path), "--format",
                 "csv_fourcorner", "--yes")
    assert "Format: CSV Four Corners (1 files)" in output
    assert Image.objects.get(original_name="street.jpg").annotations.count() == 1


def test_import_annotations_adds_new_labels_after_the_dataset_s_own(dataset, tmp_path):
    from datasets.services import PALETTE, label_get_or_create

    label_get_or_create(dataset=dataset, name="truck")
    path = tmp_path / "boxes.csv"
    path.write_text("filename,xmin,ymin,xmax,ymax,label\nstreet.jpg,1,2,3,4,car\n"
                    "street.jpg,1,2,5,6,truck\nstreet.jpg,2,2,5,6,  bus \n")
    output = run("import_annotations", "Street", str(path), "--yes")
    assert "3 annotations on 1 images into 'Street'; 2 labels created" in output
    labels = list(dataset.labels.values_list("name", "position", "color"))
    assert labels == [("truck", 1, PALETTE[0]), ("car", 2, PALETTE[1]), ("bus", 3, PALETTE[2])]
    by_label = dict(Annotation.objects.values_list("label__name", "xmax"))
    assert by_label == {"car": 3, "truck": 5, "bus": 5}


@pytest.mark.parametrize("polygons", [False, True])
def test_rows_staged_several_per_statement_keep_the_upload_s_order(dataset, tmp_path,
                                                                   monkeypatch, polygons):
    import json

    from annotations import plans

    monkeypatch.setattr(plans, "STAGE_VALUES", 2)  # 5 rows: two whole statements and one row
    square = [10, 10, 30, 10, 30, 30, 10, 30]
    records = [{"id": i, "image_id": 1, "category_id": 1, "bbox": [i, 2, 10, 18],
                "segmentation": [square] if polygons and i % 2 else []} for i in range(1, 6)]
    path = tmp_path / "instances.json"
    path.write_text(json.dumps({"images": [{"id": 1, "file_name": "street.jpg", "width": 640,
                                            "height": 480}],
                                "categories": [{"id": 1, "name": "car"}],
                                "annotations": records}))
    run("import_annotations", "Street", str(path), "--yes", "--format", "polygon_coco")
    rows = list(Annotation.objects.order_by("id").values_list("kind", "xmin", "geometry"))
    kinds = ["polygon" if polygons and i % 2 else "box" for i in range(1, 6)]
    assert [(kind, xmin, geometry is None) for kind, xmin, geometry in rows] == [
        (kind, i, kind == "box") for i, kind in zip(range(1, 6), kinds)]


def _coco_file(tmp_path, boxes: int = 3) -> Path:
    import json

    path = tmp_path / "instances.json"
    path.write_text(json.dumps({
        "images": [{"id": 1, "file_name": "street.jpg", "width": 640, "height": 480}],
        "categories": [{"id": 1, "name": "car"}, {"id": 2, "name": "bus"}],
        "annotations": [{"id": i, "image_id": 1, "category_id": 1 + i % 2,
                         "bbox": [i, 2, 10, 18]} for i in range(1, boxes + 1)]}))
    return path


@pytest.mark.django_db(transaction=True)
def test_the_copy_skips_sqlite_s_reference_checks_and_turns_them_back_on(dataset, tmp_path,
                                                                         monkeypatch):
    """SQLite's per-row foreign-key lookups are off for the copy (its JOIN checks the images),
    on again afterwards, and every written row still points at a real image and label."""
    from django.db import connection

    from annotations import plans

    seen = []
    copy = plans._copy_staged

    def copy_and_look(connection_, *args):
        with connection_.cursor() as cursor:
            seen.append(cursor.execute("PRAGMA foreign_keys").fetchone()[0])
        return copy(connection_, *args)

    monkeypatch.setattr(plans, "_copy_staged", copy_and_look)
    run("import_annotations", "Street", str(_coco_file(tmp_path)), "--yes")
    assert seen == [0]
    with connection.cursor() as cursor:
        assert cursor.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert cursor.execute("PRAGMA foreign_key_check").fetchall() == []
    assert sorted(Annotation.objects.values_list("label__name", "xmin")) == [
        ("bus", 1), ("bus", 3), ("car", 2)]


@pytest.mark.django_db(transaction=True)
def test_a_dataset_deleted_before_the_write_is_refused_and_nothing_is_written(dataset,
                                                                              tmp_path):
    from annotations.importing import ImportRefused
    from annotations.plans import plan_apply
    from annotations.services import analyse
    from datasets.uploads import open_upload

    source, _ = open_upload(_coco_file(tmp_path))
    analysis = analyse(source, dataset, None, "instances.json")

    def delete_the_dataset() -> None:  # another user, just before the transaction took the lock
        Dataset.objects.filter(pk=dataset.pk).delete()

    with pytest.raises(ImportRefused, match="'Street' was deleted; nothing was imported"):
        plan_apply(dataset=dataset, plan=analysis.plan, guard=delete_the_dataset)
    assert Dataset.objects.filter(pk=dataset.pk).exists()  # the deletion was rolled back too
    assert not Annotation.objects.exists() and not Label.objects.exists()
