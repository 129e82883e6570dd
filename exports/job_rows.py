"""What a row of Current Jobs says about an export: its options in one line, what each set got,
how long it took and, while it runs, how long it has left."""

from __future__ import annotations

from datetime import datetime

from .models import ExportJob


def options_line(options: dict) -> str:
    """"absolute · shuffled (seed 7) · test 0.2 · valid 0.1 · stratified · 3 labels"."""
    parts = ["normalized" if options.get("normalized") else "absolute",
             f"shuffled (seed {options.get('seed')})" if options.get("shuffle")
             else "upload order",
             f"test {options.get('split_ratio', 0):g}"]
    if options.get("valid_ratio"):
        parts.append(f"valid {options['valid_ratio']:g}")
    if options.get("split_mode", "random") != "random":
        parts.append(f"{options['split_mode']} split")
    if options.get("annotated_only"):
        parts.append("annotated only")
    if not options.get("include_images", True):
        parts.append("annotations only")
    if options.get("labels") is not None:
        n = len(options["labels"])
        parts.append(f"{n} label{'s' if n != 1 else ''}")
    if options.get("rename"):
        n = len(options["rename"])
        parts.append(f"{n} renamed")
    return " · ".join(parts)


def sets_line(counts: dict) -> str:
    """"train 8 images, 20 annotations · test 4 images, 9 annotations" (the manifest's counts)."""
    return " · ".join(f"{name} {_plural(c.get('images', 0), 'image')}, "
                      f"{_plural(c.get('annotations', 0), 'annotation')}"
                      for name, c in counts.items())


def duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(int(seconds + 0.5), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def took(job: ExportJob) -> str:
    """How long the worker spent on it ("" until it ended)."""
    if job.started_at is None or job.finished_at is None:
        return ""
    return duration(max(0.0, (job.finished_at - job.started_at).total_seconds()))


def time_left(job: ExportJob, now: datetime) -> str:
    """"about 12 s left", from the pace so far; "" before the first progress write."""
    if job.started_at is None or not job.progress_done or not job.progress_total:
        return ""
    elapsed = (now - job.started_at).total_seconds()
    left = elapsed * (job.progress_total - job.progress_done) / job.progress_done
    return f"about {duration(max(0.0, left))} left"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'s' if n != 1 else ''}"
