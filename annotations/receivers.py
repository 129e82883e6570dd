"""What annotations keeps on disk for a dataset, removed when the dataset is deleted."""

from __future__ import annotations

from collections.abc import Callable


def uploads_of_dataset(sender, dataset, **kwargs) -> Callable[[], None] | None:
    from datasets.upload_folders import upload_remove

    from .models import ImportJob

    upload_ids = list(ImportJob.objects.filter(dataset=dataset).values_list("upload_id",
                                                                            flat=True))
    if not upload_ids:
        return None

    def remove() -> None:
        for upload_id in upload_ids:
            upload_remove(upload_id)

    return remove
