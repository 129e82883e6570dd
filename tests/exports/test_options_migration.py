"""The migration that folds the five option columns into ExportJob.options, both ways."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("exports", "0001_initial")]
AFTER = [("exports", "0002_options_field")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_the_option_columns_become_one_json_field_and_back():
    old = migrate(BEFORE)
    user = old.get_model("auth", "User").objects.create(username="u")
    dataset = old.get_model("datasets", "Dataset").objects.create(owner=user, name="d", slug="d")
    ExportJob = old.get_model("exports", "ExportJob")
    ExportJob.objects.create(owner=user, dataset=dataset, format="coco", normalized=True,
                             shuffle=True, seed=42, split_ratio=0.3, include_images=False)

    new = migrate(AFTER)
    job = new.get_model("exports", "ExportJob").objects.get()
    assert job.options == {"normalized": True, "shuffle": True, "seed": 42, "split_ratio": 0.3,
                           "include_images": False}

    back = migrate(BEFORE).get_model("exports", "ExportJob").objects.get()
    assert (back.normalized, back.shuffle, back.seed, back.split_ratio, back.include_images) == \
        (True, True, 42, 0.3, False)
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
