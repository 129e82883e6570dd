from __future__ import annotations

import io
import zipfile

import pytest
from django.contrib.auth import get_user_model

from annotations.demo import build_demo_dataset


@pytest.fixture(autouse=True)
def _forget_kept_reads():
    """The preview keeps reads per (dataset id, annotations version) in the process; a rolled
    back test database hands the same ids out again, so each test starts with none kept."""
    from annotations import mapping

    mapping._kept.clear()


@pytest.fixture
def owner(db):
    return get_user_model().objects.create_user("owner", password="pw-owner-123")


@pytest.fixture
def stranger(db):
    return get_user_model().objects.create_user("stranger", password="pw-stranger-123")


@pytest.fixture
def demo(owner):
    return build_demo_dataset(owner)


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def stranger_client(client, stranger):
    client.force_login(stranger)
    return client


def read_zip(data_or_path) -> dict[str, bytes]:
    source = io.BytesIO(data_or_path) if isinstance(data_or_path, bytes) else data_or_path
    with zipfile.ZipFile(source) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.fixture
def qclusters(tmp_path):
    """Start real `qcluster` processes (each call one more, with extra environment); all are
    stopped when the test ends. Their logs are tmp_path/qcluster-N.log."""
    from .worker import start_qcluster, stop

    started = []

    def start(**env: str):
        process = start_qcluster(tmp_path / f"qcluster-{len(started)}.log", **env)
        started.append(process)
        return process

    yield start
    for process in started:
        stop(process)


@pytest.fixture
def quick_staleness(settings):
    """This process (the reaper, the views) takes a job over after STALE seconds too."""
    from .worker import STALE

    settings.NEXUS_HEARTBEAT_STALE_SECONDS = STALE


@pytest.fixture
def clusters(qclusters):
    """`qclusters` with QUICK_WORKER_ENV: progress often, jobs taken over after STALE seconds."""
    from .worker import QUICK_WORKER_ENV

    return lambda **extra: qclusters(**{**QUICK_WORKER_ENV, **extra})
