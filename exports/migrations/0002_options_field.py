"""The five option columns become one JSON field, `options` (ExportOptions.as_json())."""

from django.db import migrations, models

import exports.models

OPTION_COLUMNS = ("normalized", "shuffle", "seed", "split_ratio", "include_images")


def columns_to_options(apps, schema_editor) -> None:
    ExportJob = apps.get_model("exports", "ExportJob")
    for job in ExportJob.objects.only("pk", *OPTION_COLUMNS).iterator():
        options = {name: getattr(job, name) for name in OPTION_COLUMNS}
        ExportJob.objects.filter(pk=job.pk).update(options=options)


def options_to_columns(apps, schema_editor) -> None:
    ExportJob = apps.get_model("exports", "ExportJob")
    for job in ExportJob.objects.only("pk", "options").iterator():
        values = {name: job.options[name] for name in OPTION_COLUMNS if name in job.options}
        ExportJob.objects.filter(pk=job.pk).update(**values)


class Migration(migrations.Migration):
    dependencies = [("exports", "0001_initial")]

    operations = [
        migrations.AddField("exportjob", "options", models.JSONField(default=exports.models.default_options)),
        migrations.RunPython(columns_to_options, options_to_columns),
        *(migrations.RemoveField("exportjob", name) for name in OPTION_COLUMNS),
    ]
