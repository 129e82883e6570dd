"""The upload fixtures (a dataset, the upload folder, "nothing changed" checks) serve the dataset
tests too: image uploads and the dataset pages are the datasets app's."""

from ..uploads.conftest import dataset, unchanged, upload_dir  # noqa: F401
