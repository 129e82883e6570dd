"""Run an export from the shell with the same service the worker uses."""

from __future__ import annotations

import shutil

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from annotations.formats import registry
from annotations.formats.splits import SPLIT_MODES
from datasets.lookup import dataset_from_argument
from exports import services, storage
from exports.forms import parse_export_options, parse_format
from exports.models import ExportJob


class Command(BaseCommand):
    # Checks cost a third of a small export's start-up; `manage.py check` and the server run them.
    requires_system_checks: list[str] = []
    help = ("Export a dataset's annotations to a zip, e.g. "
            "export_annotations 3 --format yolo_darknet --split 0.3 --shuffle --seed 7 -o out.zip")

    def add_arguments(self, parser) -> None:
        parser.add_argument("dataset", help="dataset id, or its name or slug when unambiguous")
        parser.add_argument("--format", required=True, choices=registry.format_ids())
        parser.add_argument("--split", default="0", help="share of images in test/ (0.0-1.0)")
        parser.add_argument("--valid", default=None, help="share of images in valid/ (0.0-1.0)")
        parser.add_argument("--split-mode", default=None, choices=SPLIT_MODES,
                            help="random (default), stratified, stable or keep (the sets the "
                                 "images were uploaded in)")
        parser.add_argument("--label", dest="labels", action="append", default=None,
                            metavar="NAME", help="a label to export (repeat; default: every "
                                                 "label the format's family carries)")
        parser.add_argument("--rename", action="append", default=None, metavar="OLD=NEW",
                            help="rename a label (repeat; two labels renamed alike merge)")
        parser.add_argument("--annotated-only", action="store_true", default=None,
                            help="leave out images with nothing to write")
        parser.add_argument("--shuffle", action="store_true")
        parser.add_argument("--seed", default=None)
        parser.add_argument("--normalized", action="store_true", default=None,
                            help="divide coordinates by image size (default: the format's "
                                 "convention)")
        parser.add_argument("--absolute", dest="normalized", action="store_false",
                            help="absolute pixel coordinates")
        parser.add_argument("--no-images", dest="include_images", action="store_false",
                            help="annotation files only")
        parser.add_argument("-o", "--output", required=True, help="where to write the zip")

    def handle(self, *args, **opts) -> None:
        dataset = dataset_from_argument(opts["dataset"])
        try:
            spec = parse_format(opts["format"])
            options = parse_export_options(  # normalized None: the format's convention
                {"normalized": opts["normalized"], "shuffle": opts["shuffle"],
                 "seed": opts["seed"], "split_ratio": opts["split"],
                 "include_images": opts["include_images"], "valid_ratio": opts["valid"],
                 "split_mode": opts["split_mode"], "labels": opts["labels"],
                 "rename": opts["rename"], "annotated_only": opts["annotated_only"]}, spec)
            job, _ = services.export_job_create(owner=dataset.owner, dataset=dataset,
                                                format_id=spec.id, options=options,
                                                enqueue=False, reuse_active=False)
        except ValidationError as exc:
            raise CommandError(" ".join(m for ms in exc.message_dict.values() for m in ms))
        services.export_job_run(str(job.pk))
        job.refresh_from_db()
        if job.status != ExportJob.Status.FINISHED:
            raise CommandError(f"export {job.status}: {job.error}")
        local = storage.local_path(job.file_path)
        if local is not None:  # copied by the kernel (sendfile), not through Python's buffers
            shutil.copyfile(local, opts["output"])
        else:
            with storage.open_file(job.file_path) as source, \
                    open(opts["output"], "wb") as target:
                shutil.copyfileobj(source, target, 1 << 20)
        counts = ", ".join(f"{name} {c['images']} images / {c['annotations']} annotations"
                           for name, c in job.counts.items()) or "nothing to write"
        self.stdout.write(f"Wrote {opts['output']} ({job.file_size} bytes; {counts}; "
                          f"seed {job.export_options.seed}; job {job.pk})")
