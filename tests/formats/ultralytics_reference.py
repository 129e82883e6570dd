"""Small independent ports of the two Ultralytics functions the YOLO segment / pose exports are
held to (ultralytics 8.4: `ultralytics/data/converter.py` `merge_multi_segment` and
`ultralytics/data/utils.py` `verify_image_label`), written from their published source so the
tests need neither Ultralytics nor OpenCV. Not the project's code: nothing here imports it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

IMG_FORMATS = {"bmp", "dng", "jpeg", "jpg", "mpo", "png", "tif", "tiff", "webp", "pfm", "heic"}


# --- converter.py -------------------------------------------------------------------------------

def merge_multi_segment(segments: list[list[float]]) -> list[float]:
    """Ultralytics' join of a shape's parts, step by step as 8.4.190 ships it (a middle part
    walked reversed has its indexes mapped into the reversed order), flattened to [x1, ...]."""
    pieces = []
    parts = [np.array(s, dtype=np.float64).reshape(-1, 2) for s in segments]
    idx_list: list[list[int]] = [[] for _ in parts]
    for i in range(1, len(parts)):
        dis = ((parts[i - 1][:, None, :] - parts[i][None, :, :]) ** 2).sum(-1)
        idx1, idx2 = np.unravel_index(np.argmin(dis, axis=None), dis.shape)
        idx_list[i - 1].append(int(idx1))
        idx_list[i].append(int(idx2))
    for i, idx in enumerate(idx_list):  # forward
        if len(idx) == 2 and idx[0] > idx[1]:
            idx = [len(parts[i]) - 1 - x for x in idx]
            parts[i] = parts[i][::-1, :]
        parts[i] = np.roll(parts[i], -idx[0], axis=0)
        parts[i] = np.concatenate([parts[i], parts[i][:1]])
        if i in {0, len(idx_list) - 1}:
            pieces.append(parts[i])
        else:
            pieces.append(parts[i][0:idx[1] - idx[0] + 1])
    for i in range(len(idx_list) - 1, -1, -1):  # and back
        if i not in {0, len(idx_list) - 1}:
            idx = idx_list[i]
            pieces.append(parts[i][abs(idx[1] - idx[0]):])
    return np.concatenate(pieces).reshape(-1).tolist()


# --- utils.py -----------------------------------------------------------------------------------

@dataclass
class Verified:
    """What verify_image_label counts for one image: missing, found, empty, corrupt labels."""
    missing: int = 0
    found: int = 0
    empty: int = 0
    corrupt: int = 0
    message: str = ""
    labels: np.ndarray | None = None  # (n, 5): class, x, y, w, h


def img2label_path(image: Path) -> Path:
    """The last `/images/` of the path becomes `/labels/`, the extension `.txt`."""
    text = str(image)
    head, sep, tail = text.rpartition("/images/")
    text = f"{head}/labels/{tail}" if sep else text
    return Path(text.rsplit(".", 1)[0] + ".txt")


def segments2boxes(segments: list[np.ndarray]) -> np.ndarray:
    boxes = []
    for s in segments:
        x, y = s.T
        boxes.append([x.min(), y.min(), x.max(), y.max()])
    xyxy = np.array(boxes)
    return np.stack([(xyxy[:, 0] + xyxy[:, 2]) / 2, (xyxy[:, 1] + xyxy[:, 3]) / 2,
                     xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]], axis=1)


def verify_image_label(im_file: Path, lb_file: Path, keypoint: bool, num_cls: int,
                       nkpt: int = 0, ndim: int = 0) -> Verified:
    """The image and label checks of Ultralytics' verify_image_label; a failed check is a
    corrupt label, as there, with its message."""
    result = Verified()
    try:
        _verify_image(im_file, result)
        if not lb_file.is_file():
            result.missing = 1
            return result
        result.found = 1
        text = lb_file.read_text(encoding="utf-8")
        rows = [x.split() for x in text.strip().splitlines() if len(x)]
        if any(len(x) > 6 for x in rows) and not keypoint:  # a segment file
            classes = np.array([x[0] for x in rows], dtype=np.float32)
            segments = [np.array(x[1:], dtype=np.float32).reshape(-1, 2) for x in rows]
            rows = np.concatenate((classes.reshape(-1, 1), segments2boxes(segments)), 1)
        lb = np.array(rows, dtype=np.float32)
        if not len(lb):
            result.empty = 1
            return result
        _check_rows(lb, keypoint, num_cls, nkpt, ndim, result, im_file)
    except Exception as e:  # noqa: BLE001 - Ultralytics turns every failure into "corrupt"
        result.corrupt = 1
        result.message = f"{im_file}: ignoring corrupt image/label: {e}"
    return result


def _verify_image(im_file: Path, result: Verified) -> None:
    im = Image.open(im_file)
    im.verify()
    width, height = im.size
    assert height > 9 and width > 9, f"image size {(height, width)} <10 pixels"
    assert im.format.lower() in IMG_FORMATS, f"invalid image format {im.format}"
    if im.format.lower() in {"jpg", "jpeg"}:
        with open(im_file, "rb") as f:
            f.seek(-2, 2)
            if f.read() != b"\xff\xd9":
                result.message = f"{im_file}: corrupt JPEG restored and saved"


def _check_rows(lb: np.ndarray, keypoint: bool, num_cls: int, nkpt: int, ndim: int,
                result: Verified, im_file: Path) -> None:
    if keypoint:
        assert lb.shape[1] == 5 + nkpt * ndim, f"labels require {5 + nkpt * ndim} columns each"
        points = lb[:, 5:].reshape(-1, ndim)[:, :2]
    else:
        assert lb.shape[1] == 5, f"labels require 5 columns, {lb.shape[1]} columns detected"
        points = lb[:, 1:]
    assert points.max() <= 1.01, f"non-normalized or out of bounds coordinates " \
                                 f"{points[points > 1.01]}"
    assert lb.min() >= -0.01, f"negative class labels or coordinate {lb[lb < -0.01]}"
    assert lb[:, 0].max() < num_cls, f"Label class {int(lb[:, 0].max())} exceeds dataset " \
                                     f"class count {num_cls}"
    _, unique = np.unique(lb, axis=0, return_index=True)
    if len(unique) < len(lb):
        result.message = f"{im_file}: {len(lb) - len(unique)} duplicate labels removed"
    result.labels = lb[:, :5]
