"""api.client against a live server: create -> wait -> download -> sha256 -> unzip. The export
really runs (exports.tasks.run_export, called while the client waits) and is really downloaded."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from api import client as nexus_client
from api.client import NexusClient, NexusError, unzip_into
from api.services import token_create
from exports import tasks
from exports.models import ExportJob
from exports.services import job_file

ROOT = Path(__file__).resolve().parents[2]


class RunExportWhenWaiting:
    """The client's sleep: the first time it waits, run the queued export (as a worker would)."""

    def __init__(self, after=None) -> None:
        self.calls, self.after = 0, after

    def __call__(self, seconds: float) -> None:
        self.calls += 1
        for job in ExportJob.objects.filter(status="queued"):
            tasks.run_export(str(job.pk))
            if self.after:
                self.after(job)


@pytest.fixture
def token(demo) -> str:
    return token_create(owner=demo.owner, name="training")[1]


def test_the_client_exports_into_a_folder(live_server, demo, token, tmp_path):
    log = io.StringIO()
    sleep = RunExportWhenWaiting()
    client = NexusClient(live_server.url, token, progress=log, sleep=sleep)
    folder = client.export(demo.pk, "yolo_darknet",
                           {"split_ratio": 0.25, "shuffle": True, "seed": 7}, tmp_path / "data")
    assert folder == tmp_path / "data" and sleep.calls == 1
    job = ExportJob.objects.get()
    assert job.status == "finished"
    assert (job.options["seed"], job.options["split_ratio"]) == (7, 0.25)
    with zipfile.ZipFile(job_file(job)) as archive:
        top = job.file_name[:-4] + "/"
        expected = {n[len(top):] for n in archive.namelist() if not n.endswith("/")}
    written = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert written == expected and "data.yaml" in written
    assert len(list((folder / "train" / "images").iterdir())) == 9
    assert len(list((folder / "test" / "images").iterdir())) == 3
    assert not (tmp_path / "data.zip").exists()  # the zip is removed once extracted
    assert [p.name for p in tmp_path.iterdir()] == ["data"]  # no temporary folder left
    lines = log.getvalue().splitlines()
    assert lines[0] == f"Export {job.pk} (yolo_darknet): Queued"
    assert "Queued: 0%" in lines and "Finished: 100%" in lines and "Downloading: 100% " \
        f"{job.file_size / 1e6:.1f} MB" in lines


def run_client(live_server, token, *args: str, copied_to: Path | None = None
               ) -> tuple[str, ExportJob]:
    """`python -m api.client export ...` in its own process (or `python client.py export ...` of
    the file copied alone into `copied_to`, as on a training machine); this process runs the job."""
    env = {**os.environ, "NEXUS_URL": live_server.url, "NEXUS_TOKEN": token}
    if copied_to is None:
        program, cwd = ["-m", "api.client"], ROOT
    else:
        shutil.copy(ROOT / "api" / "client.py", copied_to / "client.py")
        program, cwd = ["client.py"], copied_to
    command = [sys.executable, *program, "export", *args, "--poll", "0.05", "--max-wait", "60"]
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not ExportJob.objects.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert tasks.run_export(str(ExportJob.objects.get().pk)) == "finished"
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, err
    return out, ExportJob.objects.get()


def test_the_command_line_exports_into_a_folder(live_server, demo, token, tmp_path):
    out, job = run_client(live_server, token, str(demo.pk), "--format", "coco", "--split", "0.5",
                          "--no-images", "--keep-zip", "-o", str(tmp_path / "coco"))
    assert out == f"{tmp_path / 'coco'}\n"
    assert job.format == "coco"
    assert (job.options["split_ratio"], job.options["include_images"]) == (0.5, False)
    assert (tmp_path / "coco.zip").read_bytes() == job_file(job).read_bytes()
    doc = json.loads((tmp_path / "coco" / "train" / "_annotations.coco.json").read_text())
    assert len(doc["images"]) == 6


def test_the_client_file_copied_alone_runs_as_a_script(live_server, demo, token, tmp_path):
    machine = tmp_path / "training-machine"
    machine.mkdir()
    out, job = run_client(live_server, token, str(demo.pk), "--format", "yolo_darknet",
                          "--no-images", "-o", "data", copied_to=machine)
    assert (machine / out.strip()).resolve() == (machine / "data").resolve()
    assert job.format == "yolo_darknet"
    assert (machine / "data" / "data.yaml").is_file()
    assert sorted(p.name for p in machine.iterdir()) == ["client.py", "data"]


def test_the_command_line_takes_the_split_and_label_options(live_server, demo, token, tmp_path):
    _, job = run_client(live_server, token, str(demo.pk), "--format", "yolo_darknet",
                        "--split", "0.25", "--valid", "0.25", "--split-mode", "stratified",
                        "--label", "car", "--label", "person", "--rename", "car=vehicle",
                        "--annotated-only", "-o", str(tmp_path / "yolo"))
    assert {k: job.options[k] for k in ("valid_ratio", "split_mode", "labels", "rename",
                                        "annotated_only")} == \
        {"valid_ratio": 0.25, "split_mode": "stratified", "labels": ["car", "person"],
         "rename": {"car": "vehicle"}, "annotated_only": True}
    folder = tmp_path / "yolo"
    assert (folder / "data.yaml").read_text().endswith("val: valid/images\ntest: test/images\n")
    assert (folder / "valid" / "classes.txt").read_text() == "vehicle\nperson\n"


def test_a_corrupt_download_is_refused_and_nothing_is_extracted(live_server, demo, token,
                                                                tmp_path):
    def corrupt(job):
        job.refresh_from_db()
        path = job_file(job)
        path.write_bytes(path.read_bytes()[:-1] + b"!")

    client = NexusClient(live_server.url, token, progress=None,
                         sleep=RunExportWhenWaiting(after=corrupt))
    with pytest.raises(NexusError) as caught:
        client.export(demo.pk, "coco", {}, tmp_path / "data")
    assert caught.value.code == "checksum_mismatch"
    assert list(tmp_path.iterdir()) == []


def test_a_failed_export_is_an_error_with_the_reason(live_server, demo, token, tmp_path):
    def fail(seconds):
        ExportJob.objects.update(status="errored", error="The server ran out of disk space.")

    client = NexusClient(live_server.url, token, progress=None, sleep=fail)
    with pytest.raises(NexusError) as caught:
        client.export(demo.pk, "coco", {}, tmp_path / "data")
    assert caught.value.code == "errored"
    assert caught.value.message.endswith("Errored: The server ran out of disk space.")


def test_api_errors_reach_the_caller_with_their_code(live_server, demo, token):
    with pytest.raises(NexusError) as caught:
        NexusClient(live_server.url, "nxs_wrong", progress=None).call("GET", "/datasets/")
    assert (caught.value.status, caught.value.code) == (401, "invalid_token")
    with pytest.raises(NexusError) as caught:
        NexusClient(live_server.url, token, progress=None).create_export(demo.pk, "nope")
    assert (caught.value.status, caught.value.code) == (400, "invalid_option")


def test_the_client_waits_out_the_running_exports_limit(live_server, demo, token, settings):
    settings.NEXUS_MAX_RUNNING_EXPORTS_PER_USER = 1
    client = NexusClient(live_server.url, token, progress=None)
    client.create_export(demo.pk, "coco")
    waits = []

    def finish_the_other(seconds):
        waits.append(seconds)
        tasks.run_export(str(ExportJob.objects.get().pk))

    client.sleep = finish_the_other
    job = client.create_export(demo.pk, "pascal_voc")
    assert waits == [30.0] and job["status"] == "Queued" and job["format"] == "pascal_voc"


def test_the_command_line_reports_errors_on_stderr(live_server, demo, token, capsys, tmp_path):
    argv = ["--url", live_server.url, "--token", token, "export", str(demo.pk), "--format",
            "nope", "-o", str(tmp_path / "x")]
    assert nexus_client.main(argv) == 1
    assert capsys.readouterr().err == "error: Unknown export format 'nope'. [invalid_option]\n"


def test_the_command_line_lists_formats_and_datasets(live_server, demo, token, capsys):
    assert nexus_client.main(["--url", live_server.url, "--token", token, "formats"]) == 0
    assert "yolo_darknet" in capsys.readouterr().out
    assert nexus_client.main(["--url", live_server.url, "--token", token, "datasets"]) == 0
    assert f"{demo.pk}  Street Scenes Demo  (12 images" in capsys.readouterr().out


# --- unzipping, without a server ----------------------------------------------------------------

def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_unzip_strips_the_one_top_folder(tmp_path):
    archive = make_zip(tmp_path / "x.zip", {"top/a.txt": b"a", "top/train/b.txt": b"b"})
    out = unzip_into(archive, tmp_path / "out")
    assert (out / "a.txt").read_bytes() == b"a" and (out / "train" / "b.txt").read_bytes() == b"b"


@pytest.mark.parametrize("name", ["top/../../evil.txt", "/etc/evil.txt", "top\\..\\evil.txt"])
def test_unzip_refuses_members_that_would_land_outside(tmp_path, name):
    archive = make_zip(tmp_path / "x.zip", {"top/ok.txt": b"ok", name: b"evil"})
    with pytest.raises(NexusError) as caught:
        unzip_into(archive, tmp_path / "out")
    assert caught.value.code == "unsafe_zip"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.zip"]


def test_unzip_keeps_a_non_empty_folder_unless_told_to_replace(tmp_path):
    archive = make_zip(tmp_path / "x.zip", {"top/new.txt": b"new"})
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.txt").write_text("old")
    with pytest.raises(NexusError):
        unzip_into(archive, tmp_path / "out")
    assert (tmp_path / "out" / "old.txt").exists()
    unzip_into(archive, tmp_path / "out", replace=True)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["new.txt"]


def test_the_client_module_needs_only_the_standard_library():
    source = (ROOT / "api" / "client.py").read_text()
    imported = {line.split()[1].split(".")[0] for line in source.splitlines()
                if line.startswith(("import ", "from "))}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported
