"""The `manifest.json` at the top of a Nexus export, read back from an upload as a hint.

A missing or malformed manifest is no error: readers then do without it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from typing import Any

from annotations.formats.errors import FormatError
from annotations.formats.io.jsonio import loads_untrusted
from annotations.formats.io.source import Source


def manifests(source: Source) -> Iterator[dict[str, Any]]:
    """Each manifest at the upload's root or in a top folder (a zip may hold several exports)."""
    for path in source.files():
        if posixpath.basename(path) != "manifest.json" or path.count("/") > 1:
            continue
        try:
            manifest = loads_untrusted(source.read(path), path)
        except FormatError:
            continue
        if isinstance(manifest, dict):
            yield manifest


def manifest_list(manifest: dict[str, Any], key: str) -> list:
    """manifest[key] when it is a list, else []."""
    value = manifest.get(key)
    return value if isinstance(value, list) else []
