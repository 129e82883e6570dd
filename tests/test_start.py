"""bin/start, interrupted like Ctrl+C in its terminal, leaves no process behind. Slow: it runs
the real script (migrate, demo data, web server and qcluster)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from .worker import ROOT, wait_for

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (children of children included), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def test_ctrl_c_on_bin_start_stops_the_web_server_and_every_worker(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",
                                                            "DJANGO_SETTINGS_MODULE")}
    env.update(NEXUS_PORT=str(port), NEXUS_VAR_DIR=str(tmp_path / "var"), NEXUS_WORKERS="2")
    log = open(tmp_path / "start.log", "wb")
    start = subprocess.Popen([str(ROOT / "bin" / "start")], cwd=ROOT, env=env, stdout=log,
                             stderr=subprocess.STDOUT, start_new_session=True)
    started: set[int] = set()
    try:
        wait_for(lambda: answers(f"http://127.0.0.1:{port}/accounts/login/"), timeout=120,
                 interval=0.5)
        assert answers(f"http://127.0.0.1:{port}/static/css/nexus.css")  # whitenoise serves it
        # everything is up: the cluster (parent, sentinel, monitor, pusher, 2 workers) and
        # gunicorn (arbiter, 2 workers)
        started = wait_for(lambda: (found := descendants(start.pid)) and len(found) >= 9
                           and found, timeout=60)
        os.killpg(start.pid, signal.SIGINT)  # what Ctrl+C sends to the terminal's group
        start.wait(30)
        time.sleep(0.5)
        left = sorted(pid for pid in started if alive(pid))
        assert left == [], (left, (tmp_path / "start.log").read_text(errors="replace")[-2000:])
    finally:
        for pid in descendants(start.pid) | started | {start.pid}:  # whatever a failure left
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
