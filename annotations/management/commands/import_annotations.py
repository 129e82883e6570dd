"""Import an annotation file, folder or zip into a dataset from the shell.

The same services as the browser upload: analyse (print the preview), then import the plan in one
transaction. It asks before writing when run in a terminal; with --yes, or when stdin is not a
terminal (scripts, CI), it imports without asking. --dry-run only prints the preview.
"""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotations.formats import registry
from annotations.plans import plan_apply
from annotations.selectors import report_kinds
from annotations.services import analyse
from datasets.lookup import dataset_from_argument
from datasets.uploads import UploadRefused, close_source, open_upload


class Command(BaseCommand):
    # Checks import every view (a fifth of a 10k import); `manage.py check` and the server run them.
    requires_system_checks: list[str] = []
    help = ("Import annotations into a dataset, e.g. import_annotations 'Street scenes' "
            "export.zip [--format coco] [--yes]. The images must be in the dataset already "
            "(import_images); annotations are matched to them by file name.")
    stealth_options = ("stdin",)

    def add_arguments(self, parser) -> None:
        parser.add_argument("dataset", help="dataset id, or its name or slug when unambiguous")
        parser.add_argument("path", help="an annotation file, a folder, or a zip")
        parser.add_argument("--format", choices=registry.format_ids(),
                            help="the format (default: detected)")
        parser.add_argument("--yes", action="store_true", help="import without asking")
        parser.add_argument("--dry-run", action="store_true",
                            help="print the preview, write nothing")

    def handle(self, *args, **opts) -> None:
        dataset = dataset_from_argument(opts["dataset"])
        path = Path(opts["path"]).expanduser()
        if not path.exists():
            raise CommandError(f"no such file or folder: {path}")
        try:
            source, _ = open_upload(path)
            try:
                analysis = analyse(source, dataset, opts["format"], path.name)
            finally:
                close_source(source)
        except UploadRefused as exc:
            raise CommandError(exc.message)
        try:
            self._import(dataset, analysis, opts)
        finally:
            analysis.plan.discard()

    def _import(self, dataset, analysis, opts: dict) -> None:
        for line in report_lines(analysis.report):
            self.stdout.write(line)
        report = analysis.report
        if opts["dry_run"]:
            self.stdout.write("Dry run: nothing imported.")
            return
        if not (report["annotations"]["total"] or report["labels"]["new"]
                or report["skeletons"]):
            self.stdout.write("Nothing to import.")
            return
        stdin = opts.get("stdin", sys.stdin)
        if not opts["yes"] and stdin.isatty():
            self.stdout.write("Import? [y/N] ", ending="")
            if stdin.readline().strip().lower() not in ("y", "yes"):
                self.stdout.write("Nothing imported.")
                return
        counts = plan_apply(dataset=dataset, plan=analysis.plan)
        self.stdout.write(
            f"Imported {counts['annotations']} annotations on {counts['images']} images into "
            f"{dataset.name!r}; {counts['labels_created']} labels created, "
            f"{counts['skeletons']} skeletons saved, {counts['already_in_dataset']} already there.")


def report_lines(report: dict) -> list[str]:
    images, annotations, labels = report["images"], report["annotations"], report["labels"]
    lines = [f"Format: {report['format_name']} ({report['files']} files)",
             f"Images: {images['matched']} matched of {images['in_upload']} in the upload "
             f"(the dataset has {images['dataset_total']})"]
    if report.get("sets"):
        lines.append("  Sets recorded: " + " / ".join(f"{n} {name}"
                                                      for name, n in report["sets"].items()))
    if images["unmatched"]:
        lines.append(f"  not matched: {images['unmatched']} "
                     f"({', '.join(images['unmatched_examples'])})")
    if images.get("folders_ignored"):
        lines.append(f"  matched by file name, folders ignored: {images['folders_ignored']} "
                     f"({', '.join(images['folders_ignored_examples'])})")
    kinds = ", ".join(report_kinds(report)) or "none"
    lines.append(f"Annotations to import: {annotations['total']} ({kinds})")
    if annotations["already_in_dataset"]:
        lines.append(f"  already in the dataset, skipped: {annotations['already_in_dataset']}")
    lines.append(f"Labels to create: {', '.join(labels['new']) or 'none'}")
    for merged in labels["merged"]:
        lines.append(f"  {merged['name']!r}: {len(merged['spellings'])} spellings merged")
    for skeleton in report["skeletons"]:
        lines.append(f"Skeleton {skeleton['label']!r}: {skeleton['keypoints']} keypoints "
                     f"({skeleton['action']})")
    for fix in report["fixes"]:
        lines.append(f"Fixed: {fix['count']} {fix['text']}")
        lines += [f"  e.g. {example}" for example in fix["examples"]]
    lines += [f"Note: {note}" for note in report["notes"]]
    return lines
