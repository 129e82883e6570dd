"""The upload fixtures (a dataset of three images, the "nothing changed" check) for the YOLO
tests that import through the browser upload. Those modules import the autouse `upload_dir`
(an upload folder per test) themselves, so the other format tests stay free of Django."""

from ..uploads.conftest import dataset, unchanged  # noqa: F401
