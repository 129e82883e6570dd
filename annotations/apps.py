from django.apps import AppConfig


class AnnotationsConfig(AppConfig):
    name = "annotations"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from datasets.panels import register_panel
        from datasets.signals import dataset_deleting

        from .receivers import uploads_of_dataset
        from .schedules import ensure_schedules

        post_migrate.connect(ensure_schedules, sender=self)
        # the dataset page's Annotations tab
        register_panel("annotations", "annotations.views.annotations_tab_context")
        dataset_deleting.connect(uploads_of_dataset, dispatch_uid="annotations-uploads")
