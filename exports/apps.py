from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "exports"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from .schedules import ensure_schedules

        post_migrate.connect(ensure_schedules, sender=self)
