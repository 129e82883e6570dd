"""Listing every file under a prefix of a storage with no real folders (an object store)."""

from django.core.files.base import ContentFile
from django.core.files.storage import InMemoryStorage

from datasets.stored_files import stored_files


def test_every_file_under_the_prefix_is_listed_and_nothing_beside_it():
    storage = InMemoryStorage()
    for name in ("job/a/zip.zip", "job/a/deep/part.bin", "job/b.txt", "other/c.txt"):
        storage.save(name, ContentFile(b"x"))
    assert sorted(stored_files(storage, "job")) == ["job/a/deep/part.bin", "job/a/zip.zip",
                                                     "job/b.txt"]


def test_a_prefix_that_does_not_exist_has_no_files():
    assert stored_files(InMemoryStorage(), "gone") == []
