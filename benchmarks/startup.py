"""Start-up per command: wall seconds (median of --repeat whole processes), the imports' own
total from `python -X importtime`, and peak RSS; and whether numpy, lxml or PIL were loaded.

    .venv/bin/python benchmarks/startup.py [--size 10k] [--repeat 11] [--repo <checkout>]

Commands: `export_annotations --help`, `import_annotations --help`, and a COCO, CreateML and
YOLO Darknet export of the benchmark's boxes (annotations only) on `benchmarks/out/<size>/`.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

from run import OUT, ROOT, nexus_env, timed

HEAVY = ("numpy", "lxml", "PIL", "ijson")


def commands(size: str) -> dict[str, list[str]]:
    dataset = json.loads((OUT / size / "datasets.json").read_text())["boxes"]["id"]
    target = str(OUT / size / "startup.zip")
    export = ["manage.py", "export_annotations", str(dataset), "--no-images", "-o", target,
              "--format"]
    return {"export_annotations --help": ["manage.py", "export_annotations", "--help"],
            "import_annotations --help": ["manage.py", "import_annotations", "--help"],
            "export coco": [*export, "coco"], "export createml": [*export, "createml"],
            "export yolo_darknet": [*export, "yolo_darknet"]}


def import_profile(command: list[str], env: dict, repo: Path) -> tuple[float, list[str]]:
    done = subprocess.run([sys.executable, "-X", "importtime", *command], cwd=repo, env=env,
                          capture_output=True, text=True)
    total, loaded = 0, []
    for line in done.stderr.splitlines():
        found = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\s*)(\S+)", line)
        if found and not found.group(2):  # a top-level import: its cumulative time
            total += int(found.group(1))
        if found and found.group(3) in HEAVY:
            loaded.append(found.group(3))
    return total / 1e6, loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="10k")
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--repo", default=str(ROOT))
    args = parser.parse_args()
    repo = Path(args.repo).resolve()
    env = nexus_env(OUT / args.size)
    for name, command in commands(args.size).items():
        walls, peaks = [], []
        for _ in range(args.repeat):
            wall, peak, _ = timed([sys.executable, *command], env, repo)
            walls.append(wall)
            peaks.append(peak / 1024)
        imports, loaded = import_profile(command, env, repo)
        print(f"{name:28} {statistics.median(walls):6.3f} s  imports {imports:5.3f} s  "
              f"peak {max(peaks):5.0f} MB  loaded: {', '.join(loaded) or '-'}", flush=True)


if __name__ == "__main__":
    main()
