"""Export zips of a dataset being deleted (answers datasets.signals.dataset_deleting)."""

from __future__ import annotations

from collections.abc import Callable


def exports_of_dataset(sender, dataset, **kwargs) -> Callable[[], None] | None:
    from . import storage
    from .models import ExportJob

    job_ids = [str(pk) for pk in ExportJob.objects.filter(dataset=dataset)
               .values_list("pk", flat=True)]
    if not job_ids:
        return None

    def remove() -> None:
        for job_id in job_ids:
            storage.delete_tree(job_id)

    return remove
