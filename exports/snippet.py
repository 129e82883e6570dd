""""Use in code": the two commands that fetch a finished export from a training machine: curl
on its signed link, and api.client with the job's options (a new export, same zip contents)."""

from __future__ import annotations

import shlex

from .models import ExportJob


def curl_command(link: str) -> str:
    return f"curl -L -o export.zip {shlex.quote(link)}"


def client_command(job: ExportJob, server: str) -> str:
    """`python -m api.client` with every option the job was made with; the token comes from
    NEXUS_TOKEN (never shown on a page)."""
    options = job.options
    args = ["python", "-m", "api.client", "--url", server, "export", str(job.dataset_id),
            "--format", job.format, "--normalized" if options.get("normalized") else "--absolute"]
    if options.get("shuffle"):
        args.append("--shuffle")
    args += ["--seed", str(options.get("seed") or 0),
             "--split", f"{options.get('split_ratio', 0):g}"]
    if options.get("valid_ratio"):
        args += ["--valid", f"{options['valid_ratio']:g}"]
    if options.get("split_mode", "random") != "random":
        args += ["--split-mode", options["split_mode"]]
    if options.get("annotated_only"):
        args.append("--annotated-only")
    if not options.get("include_images", True):
        args.append("--no-images")
    for name in options.get("labels") or ():
        args += ["--label", name]
    for old, new in (options.get("rename") or {}).items():
        args += ["--rename", f"{old}={new}"]
    args += ["-o", "data"]
    return shlex.join(args)
