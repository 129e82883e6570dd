"""Import a folder or a zip of images into a dataset, as the browser upload does."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from datasets.images import images_import_path
from datasets.lookup import dataset_from_argument
from datasets.models import Dataset
from datasets.services import dataset_create
from datasets.uploads import UploadRefused


class Command(BaseCommand):
    help = ("Import images (a folder, walked, or a zip) into a dataset, e.g. "
            "import_images 'Street scenes' ~/photos.zip. Same content twice is stored once.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("dataset", help="dataset id, or its name or slug when unambiguous")
        parser.add_argument("path", help="a folder of images or a zip")
        parser.add_argument("--create", metavar="OWNER",
                            help="create the dataset (named DATASET) for this user if it does "
                                 "not exist")

    def handle(self, *args, **opts) -> None:
        path = Path(opts["path"]).expanduser()
        if not path.exists():
            raise CommandError(f"no such file or folder: {path}")
        dataset = self._dataset(opts["dataset"], opts["create"])
        try:
            report = images_import_path(dataset=dataset, path=path)
        except UploadRefused as exc:
            raise CommandError(exc.message)
        for line in report.lines:
            if line.outcome != "stored":
                self.stdout.write(f"{line.outcome}: {line.name}: {line.detail}")
        counts = report.counts
        self.stdout.write(f"{counts['stored']} stored, {counts['duplicate']} duplicates, "
                          f"{counts['rejected']} rejected, {report.skipped} other files skipped "
                          f"(dataset {dataset.name!r}, id {dataset.pk}).")
        if counts["rejected"] and not report.anything_stored:
            raise CommandError("no image could be imported")

    def _dataset(self, key: str, owner_name: str | None) -> Dataset:
        if owner_name is None:
            return dataset_from_argument(key)
        owner = get_user_model().objects.filter(username=owner_name).first()
        if owner is None:
            raise CommandError(f"no user {owner_name!r}")
        existing = Dataset.objects.filter(owner=owner, name=key.strip()).first()
        if existing is not None:
            return existing
        try:
            return dataset_create(owner=owner, name=key)
        except ValueError as exc:
            raise CommandError(str(exc))
