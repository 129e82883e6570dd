from django.core.management.base import BaseCommand

from annotations.demo import DEMO_DATASET, DEMO_PASSWORD, DEMO_USER, ensure_demo


class Command(BaseCommand):
    help = "Create the demo account and the demo dataset (idempotent)."

    def handle(self, *args, **options) -> None:
        created, dataset = ensure_demo()
        state = "created" if created else "already there"
        self.stdout.write(f"Demo dataset {DEMO_DATASET!r} {state} "
                          f"({dataset.images.count()} images).")
        self.stdout.write(f"Log in as  user: {DEMO_USER}  password: {DEMO_PASSWORD}")
