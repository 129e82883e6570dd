"""ZipOut writes exactly the bytes zipfile would, however its members were added."""

from __future__ import annotations

import io
import random
import shutil
import zipfile

import pytest

from annotations.formats import registry
from annotations.formats.io import zipout
from annotations.formats.io.zipout import FIXED_TIME, ZipOut, bytes_loader

from .canonical import export_canonical


def reference_zip(target, members: list[tuple[str, str, bytes]], level: int,
                  date_time=FIXED_TIME) -> None:
    """The previous implementation: zipfile, members sorted, writestr for small bytes,
    open(force_zip64=True) for spooled files (deflated) and images (stored), mkdir for
    directories."""
    with zipfile.ZipFile(target, "w", allowZip64=True) as archive:
        for path, kind, data in sorted(members):
            if kind == "directory":
                archive.mkdir(_directory_info(path, date_time))
                continue
            info = zipfile.ZipInfo(path, date_time=date_time)
            info.create_system = 3
            info.external_attr = 0o644 << 16
            if kind == "image":
                info.compress_type = zipfile.ZIP_STORED
                with archive.open(info, "w", force_zip64=True) as dst:
                    shutil.copyfileobj(io.BytesIO(data), dst, zipout.COPY_CHUNK)
                continue
            info.compress_type = zipfile.ZIP_DEFLATED
            info._compresslevel = level
            if kind == "bytes" and len(data) <= zipout.SPOOL_LIMIT:
                archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED,
                                 compresslevel=level)
            else:
                with archive.open(info, "w", force_zip64=True) as dst:
                    shutil.copyfileobj(io.BytesIO(data), dst, zipout.COPY_CHUNK)


def _directory_info(path: str, date_time) -> zipfile.ZipInfo:
    """The ZipInfo `ZipFile.mkdir(path)` makes (zipfile.py, 3.11), dated `date_time`."""
    info = zipfile.ZipInfo(path, date_time=date_time)
    info.compress_size = info.file_size = info.CRC = 0
    info.external_attr = ((0o40000 | 0o777) & 0xFFFF) << 16 | 0x10
    return info


def _text(rng: random.Random, size: int) -> bytes:
    words = [b"0 0.512345 0.250000 0.125000 0.062500\n", b'{"id": 1, "bbox": [1.5, 2]},\n',
             b"car", b"Bild \xc3\xbc", b"\n"]
    parts, total = [], 0
    while total < size:
        word = rng.choice(words)
        parts.append(word)
        total += len(word)
    return b"".join(parts)[:size]


def _members(seed: int) -> list[tuple[str, str, bytes]]:
    rng = random.Random(seed)
    members = [
        ("top/manifest.json", "bytes", b'{"a": 1}\n'),
        ("top/train/labels/empty.txt", "bytes", b""),
        ("top/train/labels/Bild \u00fc.txt", "bytes", _text(rng, 300)),  # UTF-8 name flag
        ("top/train/big.bin", "bytes", _text(rng, zipout.SPOOL_LIMIT + 10)),  # spooled by size
        ("top/train/_annotations.coco.json", "file", _text(rng, 3 * zipout.COPY_CHUNK + 17)),
        ("top/train/_annotations.csv", "file", _text(rng, zipout.COPY_CHUNK)),  # exactly 1 MiB
        ("top/test/_annotations.csv", "file", b""),
        ("top/train/images/a.jpg", "image", rng.randbytes(5000)),
        ("top/train/images/b\u00e9.png", "image", rng.randbytes(2 * zipout.COPY_CHUNK + 3)),
        ("top/train/car/", "directory", b""),  # Image Folders' class folders
        ("top/train/caf\u00e9/", "directory", b""),
        ("top/test/car/", "directory", b""),
        ("top/train/car/a.jpg", "image", rng.randbytes(300)),
    ]
    members += [(f"top/train/labels/{i:05d}.txt", "bytes", _text(rng, rng.randrange(0, 400)))
                for i in range(300)]
    rng.shuffle(members)  # writers add in any order
    return members


def _write(out: ZipOut, members: list[tuple[str, str, bytes]]) -> None:
    for path, kind, data in members:
        if kind == "bytes":
            out.add_bytes(path, data)
        elif kind == "directory":
            out.add_directory(path)
        elif kind == "file":
            with out.open_text(path) as handle:
                handle.write(data.decode("utf-8"))
        else:
            out.add_image(path, path)


@pytest.mark.parametrize("level", [1, 6])
@pytest.mark.parametrize("seed", [1, 2])
def test_zip_bytes_equal_zipfiles(tmp_path, seed, level):
    members = _members(seed)
    images = {path: data for path, kind, data in members if kind == "image"}
    out = ZipOut(tmp_path / "new.zip", image_loader=bytes_loader(images), work_dir=str(tmp_path),
                 compresslevel=level)
    _write(out, members)
    seen = []
    out.close(on_member=lambda path, kind: seen.append(path))
    reference_zip(tmp_path / "old.zip", members, level)
    assert seen == sorted(path for path, _, _ in members)
    assert (tmp_path / "new.zip").read_bytes() == (tmp_path / "old.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "new.zip") as archive:
        assert archive.testzip() is None
        assert {i.filename: archive.read(i) for i in archive.infolist()} == \
            {path: data for path, _, data in members}


def test_every_member_carries_the_date_given_as_zipfile_writes_it(tmp_path):
    members = _members(3)
    images = {path: data for path, kind, data in members if kind == "image"}
    when = (2026, 12, 6, 11, 51, 7)  # odd seconds: zip dates step by two
    out = ZipOut(tmp_path / "new.zip", image_loader=bytes_loader(images), work_dir=str(tmp_path),
                 date_time=when)
    _write(out, members)
    out.close()
    reference_zip(tmp_path / "old.zip", members, 6, date_time=when)
    assert (tmp_path / "new.zip").read_bytes() == (tmp_path / "old.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "new.zip") as archive:
        assert {i.date_time for i in archive.infolist()} == {(2026, 12, 6, 11, 51, 6)}


def test_many_members_use_zip64_end_records_as_zipfile_does(tmp_path):
    members = [(f"top/labels/{i:06d}.txt", "bytes", b"0 0.5 0.5 0.1 0.1\n")
               for i in range(zipfile.ZIP_FILECOUNT_LIMIT + 5)]
    out = ZipOut(tmp_path / "new.zip", image_loader=bytes_loader({}), work_dir=str(tmp_path))
    for path, _, data in members:
        out.add_bytes(path, data)
    out.close()
    reference_zip(tmp_path / "old.zip", members, zipout.DEFAULT_LEVEL)
    assert (tmp_path / "new.zip").read_bytes() == (tmp_path / "old.zip").read_bytes()


def test_a_directory_entry_is_what_zipfile_mkdir_writes(tmp_path):
    out = ZipOut(tmp_path / "new.zip", image_loader=bytes_loader({}), work_dir=str(tmp_path))
    out.add_directory("top/train/caf\u00e9")  # no slash given: added, as mkdir adds it
    out.add_bytes("top/manifest.json", b"{}\n")
    out.close()
    with zipfile.ZipFile(tmp_path / "old.zip", "w") as archive:
        archive.writestr(_file_info("top/manifest.json"), b"{}\n",
                         compress_type=zipfile.ZIP_DEFLATED, compresslevel=zipout.DEFAULT_LEVEL)
        archive.mkdir("top/train/caf\u00e9")  # after: members are written in path order
    assert (tmp_path / "new.zip").read_bytes() == (tmp_path / "old.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "new.zip") as archive:
        info = archive.getinfo("top/train/caf\u00e9/")
        assert info.is_dir() and (info.file_size, info.CRC) == (0, 0)


def _file_info(path: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(path, date_time=FIXED_TIME)
    info.create_system, info.external_attr = 3, 0o644 << 16
    return info


def test_a_path_added_twice_is_refused(tmp_path):
    out = ZipOut(tmp_path / "x.zip", image_loader=bytes_loader({}), work_dir=str(tmp_path))
    out.add_bytes("a.txt", b"1")
    with pytest.raises(ValueError, match="two members"):
        out.add_bytes("a.txt", b"2")
    with pytest.raises(ValueError, match="two members"):
        out.open_text("a.txt")
    out.discard()


@pytest.mark.parametrize("run_size", [1, 7, 100])
def test_an_index_written_in_sorted_runs_gives_the_same_bytes(tmp_path, monkeypatch, run_size):
    # A million label files, scaled down: the index goes to many run files, merged at close.
    monkeypatch.setattr(zipout, "RUN_SIZE", run_size)
    monkeypatch.setattr(zipout, "_RUN_BLOCK", 3)
    members = _members(3)
    images = {path: data for path, kind, data in members if kind == "image"}
    out = ZipOut(tmp_path / "new.zip", image_loader=bytes_loader(images), work_dir=str(tmp_path),
                 compresslevel=1)
    _write(out, members)
    spooled = [data for _, kind, data in members
               if kind == "file" or (kind == "bytes" and len(data) > zipout.SPOOL_LIMIT)]
    assert out.work_units() == len(members) - len(spooled) + sum(  # one per started MiB
        max(1, -(-len(data) // zipout.COPY_CHUNK)) for data in spooled)
    assert out.paths() == sorted(path for path, _, _ in members)
    seen = []
    out.close(on_member=lambda path, kind: seen.append(path))
    reference_zip(tmp_path / "old.zip", members, 1)
    assert seen == sorted(path for path, _, _ in members)
    assert (tmp_path / "new.zip").read_bytes() == (tmp_path / "old.zip").read_bytes()
    assert not list(tmp_path.glob("zipout-*"))  # runs and central directory went with the work


def test_a_path_added_twice_in_different_runs_is_refused_at_close(tmp_path, monkeypatch):
    monkeypatch.setattr(zipout, "RUN_SIZE", 2)
    out = ZipOut(tmp_path / "x.zip", image_loader=bytes_loader({}), work_dir=str(tmp_path))
    for path in ("a.txt", "b.txt", "c.txt", "a.txt"):
        out.add_bytes(path, b"1")
    with pytest.raises(ValueError, match="two members"):
        out.close()
    assert not list(tmp_path.glob("zipout-*"))


@pytest.mark.parametrize("size", [0, 300, zipout.SPOOL_LIMIT + 10])
def test_a_work_file_is_laid_out_as_add_bytes_lays_out_its_bytes(tmp_path, size):
    data = _text(random.Random(size), size)
    out = ZipOut(tmp_path / "new.zip", image_loader=bytes_loader({}), work_dir=str(tmp_path))
    spool = out.new_work_path()
    with open(spool, "wb") as handle:
        handle.write(data)
    out.add_work_file("top/train/ImageSets/Main/train.txt", spool)
    out.close()
    reference_zip(tmp_path / "old.zip", [("top/train/ImageSets/Main/train.txt", "bytes", data)],
                  zipout.DEFAULT_LEVEL)
    assert (tmp_path / "new.zip").read_bytes() == (tmp_path / "old.zip").read_bytes()


@pytest.mark.parametrize("format_id", [f for f in registry.format_ids()
                                       if not f.endswith("tfrecord")])
def test_an_export_indexed_in_many_runs_is_the_same_zip(tmp_path, monkeypatch, format_id):
    options = dict(split_ratio=0.5, shuffle=True, seed=3, include_images=True)
    export_canonical(format_id, str(tmp_path / "one-run.zip"), **options)
    monkeypatch.setattr(zipout, "RUN_SIZE", 2)
    export_canonical(format_id, str(tmp_path / "runs.zip"), **options)
    assert (tmp_path / "one-run.zip").read_bytes() == (tmp_path / "runs.zip").read_bytes()


def test_a_text_member_that_cannot_be_written_fails_the_writer_without_hanging(
        tmp_path, monkeypatch):
    # The deflating thread's work file cannot be opened (as with a full disk): the writer's
    # next write or its close raises that error; the thread never leaves it blocked.
    out = ZipOut(tmp_path / "x.zip", image_loader=bytes_loader({}), work_dir=str(tmp_path))
    monkeypatch.setattr(out, "_spool_path", lambda: str(tmp_path))  # a folder: open() fails
    with pytest.raises(IsADirectoryError):
        with out.open_text("big.csv") as handle:
            for _ in range(200):  # far more than the queue holds
                handle.write("x" * 100_000)
    assert "big.csv" not in out.paths()
    out.discard()


class _Trickle(io.RawIOBase):
    """An unbuffered file that hands over at most 1000 bytes a read (as a pipe or a network
    file system may): the images must still be copied whole."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        piece = self.data[self.at:self.at + min(len(buffer), 1000)]
        buffer[:len(piece)] = piece
        self.at += len(piece)
        return len(piece)


def test_images_from_a_file_that_returns_short_reads_are_copied_whole(tmp_path):
    rng = random.Random(7)
    images = {"a/small.jpg": rng.randbytes(9_000),
              "a/large.png": rng.randbytes(2 * zipout.COPY_CHUNK + 12_345)}
    out = ZipOut(tmp_path / "new.zip", image_loader=lambda ref: _Trickle(images[ref]),
                 work_dir=str(tmp_path))
    for path in images:
        out.add_image(path, path)
    out.close()
    reference_zip(tmp_path / "old.zip", [(p, "image", d) for p, d in images.items()], 6)
    assert (tmp_path / "new.zip").read_bytes() == (tmp_path / "old.zip").read_bytes()
