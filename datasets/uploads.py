"""Receiving uploads safely, and opening them.

Every request streams into its own upload folder (upload_folders.py) and nowhere else (no Django
temp files in /tmp): the handler writes the bytes straight into that folder and stops the request
once it passes `NEXUS_MAX_UPLOAD_BYTES`, which is also checked against Content-Length before
anything is read. Zips are only ever opened through `ZipSource`, whose checks run before a
member is read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFilesSent
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.middleware.csrf import CsrfViewMiddleware

from annotations.formats.io.source import FolderSource, Source, UnsafeArchive, ZipSource

MULTIPART_MARGIN = 64 << 10  # boundaries and form fields on top of the files themselves
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


class UploadRefused(Exception):
    """Bad input, refused with a message for the user and an HTTP status (always 4xx)."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.message, self.status = message, status


@dataclass(frozen=True, slots=True)
class SavedFile:
    name: str  # the browser's file name, sanitised; a name to show and match, never a path
    path: Path
    size: int

    def close(self) -> None:
        """Django closes request.FILES at the end of the request; ours are closed already."""


def size_text(size: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size:,} bytes"


def too_large_message() -> str:
    return f"The upload is larger than the limit of {size_text(settings.NEXUS_MAX_UPLOAD_BYTES)}."


def limit_context() -> dict:
    """For upload pages: the script refuses a too-large upload before sending it."""
    return {"upload_limit": settings.NEXUS_MAX_UPLOAD_BYTES,
            "upload_limit_message": too_large_message()}


# --- receiving ----------------------------------------------------------------------------------

def safe_name(name: str) -> str:
    """A browser file name as a plain name: no folders, no control characters, not too long."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    if name in ("", ".", ".."):
        return "upload"
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[:190] + dot + ext[:9]) if dot and len(ext) < 10 else name[:200]
    return name


class LimitedUploadHandler(FileUploadHandler):
    """Writes every file of the request into one folder, counting bytes against a limit."""

    def __init__(self, folder: Path, limit: int, keep_names: bool) -> None:
        super().__init__()
        self.folder, self.limit, self.keep_names = folder, limit, keep_names
        self.total = 0
        self.saved: list[SavedFile] = []
        self.refusal: tuple[str, int] | None = None
        self._handle = None
        self._path: Path | None = None
        self._name = ""

    def _refuse(self, message: str, status: int) -> None:
        self.refusal = (message, status)
        self._close()
        raise StopUpload(connection_reset=True)

    def new_file(self, field_name, file_name, content_type, content_length, charset=None,
                 content_type_extra=None) -> None:
        super().new_file(field_name, file_name, content_type, content_length, charset,
                         content_type_extra)
        if content_length is not None and self.total + content_length > self.limit:
            self._refuse(too_large_message(), 413)
        self._name = safe_name(file_name)
        stored = self._name if self.keep_names else f"{len(self.saved):05d}"
        self._path = self.folder / stored
        if self._path.exists():
            self._refuse(f"Two files are called {self._name!r}; put them in a zip instead.", 400)
        self._handle = open(self._path, "xb")

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.total += len(raw_data)
        if self.total > self.limit:
            self._refuse(too_large_message(), 413)
        self._handle.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> SavedFile:
        self._close()
        saved = SavedFile(self._name, self._path, file_size)
        self.saved.append(saved)
        return saved

    def upload_interrupted(self) -> None:
        self._close()

    def _close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def receive_files(request: HttpRequest, folder: Path, *, field: str = "files",
                  keep_names: bool = False) -> list[SavedFile]:
    """Stream the request's files into `folder`; UploadRefused (413, 400) for what is refused.

    Call it before anything reads request.POST (views using it are csrf_exempt and call
    `csrf_rejection` afterwards)."""
    limit = settings.NEXUS_MAX_UPLOAD_BYTES
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit + MULTIPART_MARGIN:
        raise UploadRefused(too_large_message(), 413)  # refused before a byte is read
    handler = LimitedUploadHandler(folder, limit, keep_names)
    request.upload_handlers = [handler]
    try:
        files = request.FILES.getlist(field)
    except TooManyFilesSent:
        raise UploadRefused(f"At most {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files can be sent "
                            "at once; put more in a zip.", 400)
    except (MultiPartParserError, RequestDataTooBig, OSError) as exc:
        raise UploadRefused(f"The upload could not be read ({exc}).", 400)
    if handler.refusal is not None:
        raise UploadRefused(*handler.refusal)
    if not files:
        raise UploadRefused("Choose a file to upload.", 400)
    return files


def csrf_rejection(request: HttpRequest) -> HttpResponse | None:
    """The CSRF check a csrf_exempt upload view runs once its own handler has read the body."""
    return CsrfViewMiddleware(lambda r: HttpResponse()).process_view(request, None, (), {})


# --- opening ------------------------------------------------------------------------------------

def is_zip(path: Path) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(4)
    return head in ZIP_MAGIC or path.name.lower().endswith(".zip")


def open_zip(path: Path, name: str) -> ZipSource:
    """A checked zip (no traversal, links, duplicates, bombs; member and size limits)."""
    try:
        return ZipSource(path, max_members=settings.NEXUS_MAX_ZIP_MEMBERS,
                         max_total=settings.NEXUS_MAX_UNZIPPED_BYTES)
    except UnsafeArchive as exc:
        raise UploadRefused(f"{name}: {exc}.", 422)


def folder_size(folder: Path) -> int:
    return sum(os.path.getsize(p) for p in folder.rglob("*") if p.is_file())


class OneFile(Source):
    """A single annotation file (the shell command's path) seen as a source."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def files(self) -> list[str]:
        return [self.path.name]

    def read(self, path: str) -> bytes:
        if path != self.path.name:
            raise FileNotFoundError(path)
        return self.path.read_bytes()

    def open(self, path: str) -> BinaryIO:
        if path != self.path.name:
            raise FileNotFoundError(path)
        return open(self.path, "rb")

    def size(self, path: str) -> int:
        return self.path.stat().st_size


def open_upload(path: Path) -> tuple[Source, int]:
    """The files of an upload (a folder, one zip, or one file) and the bytes they expand to."""
    if path.is_dir():
        files = [p for p in path.iterdir() if p.is_file()]
        if len(files) != 1 or not is_zip(files[0]):
            return FolderSource(path), folder_size(path)
        path = files[0]
    if is_zip(path):
        source = open_zip(path, path.name)
        expanded = sum(source.size(name) for name in source.files())
        return source, max(path.stat().st_size, expanded)
    return OneFile(path), path.stat().st_size


def close_source(source: Source) -> None:
    if isinstance(source, ZipSource):
        source.close()


def is_script(request: HttpRequest) -> bool:
    """A request from htmx or the upload script: answer with the fragment, not the page."""
    return bool(request.htmx) or request.headers.get("X-Requested-With") == "XMLHttpRequest"
