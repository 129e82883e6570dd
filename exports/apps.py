from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "exports"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from datasets.panels import register_panel
        from datasets.signals import dataset_deleting

        from .cleanup import exports_of_dataset
        from .schedules import ensure_schedules

        post_migrate.connect(ensure_schedules, sender=self)
        register_panel("jobs", "exports.views.jobs_context")  # the dataset page's Current Jobs
        dataset_deleting.connect(exports_of_dataset, dispatch_uid="exports-zips")
