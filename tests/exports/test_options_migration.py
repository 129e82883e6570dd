"""The migration that folds the five option columns into ExportJob.options, both ways."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def latest_but_exports(exports_migration: str) -> list[tuple[str, str]]:
    """Every other app at its latest migration, exports at the given one."""
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    return [("exports", exports_migration)] + [n for n in leaves if n[0] != "exports"]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_the_option_columns_become_one_json_field_and_back():
    # The worker tests after this one share the database: leave it fully migrated even on failure.
    try:
        old = migrate(latest_but_exports("0001_initial"))
        user = old.get_model("auth", "User").objects.create(username="u")
        dataset = old.get_model("datasets", "Dataset").objects.create(owner=user, name="d",
                                                                      slug="d")
        ExportJob = old.get_model("exports", "ExportJob")
        ExportJob.objects.create(owner=user, dataset=dataset, format="coco", normalized=True,
                                 shuffle=True, seed=42, split_ratio=0.3, include_images=False)

        new = migrate(latest_but_exports("0002_options_field"))
        job = new.get_model("exports", "ExportJob").objects.get()
        assert job.options == {"normalized": True, "shuffle": True, "seed": 42, "split_ratio": 0.3,
                               "include_images": False}

        back = migrate(latest_but_exports("0001_initial")).get_model("exports", "ExportJob")
        job = back.objects.get()
        assert (job.normalized, job.shuffle, job.seed, job.split_ratio, job.include_images) == \
            (True, True, 42, 0.3, False)
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
