"""TFRecord Polygon / Masks: the `tfrecord` layout plus one full-image PNG mask per object.

    <top>/train/train.tfrecord      the `tfrecord` keys, plus image/object/mask: one PNG per object,
                                    image-sized, mode L, 0 = background, 1 = object (the OD API's
                                    PNG_MASKS input: it decodes them and keeps value > 0)
    <top>/train/label_map.pbtxt

Polygons are rasterised (pixel centres inside) and boxes filled by the pipeline, in pixels,
before coordinates are normalised; masks are decoded from their RLE. On
import every object comes back as a mask: a PNG cannot say which shape it was drawn from.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from annotations.formats.builtin.tfrecord import read_boxes
from annotations.formats.families import rle, tfrecord_reader, tfrecord_writer
from annotations.formats.families.tfrecord_reader import LabelNames, RecordView
from annotations.formats.io.source import Source
from annotations.formats.records import Annotation, ImageRecord, ReadResult
from annotations.formats.spec import ExportSet, ReadContext, ZipSink, tfrecord_format

if TYPE_CHECKING:  # numpy loads where a mask is handled: detecting a format must not load it
    import numpy as np

SPEC = tfrecord_format(
    "polygon_tfrecord", "TFRecord Polygon / Masks", "polygons",
    "tf.train.Example records with the images embedded and one PNG instance mask per "
    "object; the TensorFlow Object Detection API trains Mask R-CNN on them.",
    writes={"box": "mask", "polygon": "mask", "mask": "mask"},  # one PNG mask per object
    normalized_warning=tfrecord_writer.NORMALIZED_WARNING,
)
MASK_KEY = "image/object/mask"


def write_set(export_set: ExportSet, out: ZipSink) -> None:
    tfrecord_writer.write_records(export_set, out, _object_features)


def _object_features(image: ImageRecord, export_set: ExportSet) -> tfrecord_writer.Features:
    features = tfrecord_writer.box_features(image.annotations, export_set)
    features[MASK_KEY] = ("bytes", [png_bytes(object_mask(a, image))
                                    for a in image.annotations])
    return features


def object_mask(a: Annotation, image: ImageRecord) -> np.ndarray:
    """The object as a (height, width) 0/1 array over the whole image; the pipeline rasterised
    boxes and polygons already, in pixels (SPEC.writes)."""
    return _fit(rle.decode(a.mask), image.width, image.height)


def _fit(mask: np.ndarray, width: int, height: int) -> np.ndarray:
    """A mask stored at another size is cut or padded to the image (the OD API needs image size)."""
    import numpy as np

    if mask.shape == (height, width):
        return mask
    grid = np.zeros((height, width), dtype=np.uint8)
    h, w = min(height, mask.shape[0]), min(width, mask.shape[1])
    grid[:h, :w] = mask[:h, :w]
    return grid


def png_bytes(grid: np.ndarray) -> bytes:
    import numpy as np
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(grid, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def detect(source: Source) -> int:
    return tfrecord_writer.detect_variant(source, SPEC.id)


def read(source: Source, context: ReadContext) -> ReadResult:
    return tfrecord_reader.read_variant(source, context, _fill)


def _fill(view: RecordView, names: LabelNames, image: ImageRecord) -> None:
    pngs = view.values(MASK_KEY, "bytes")
    if not pngs and view.values(MASK_KEY, "float"):
        raise view.error(f"{MASK_KEY} holds numerical masks; only PNG masks are read")
    boxes = read_boxes(view, names)
    if len(pngs) != len(boxes):
        raise view.error(f"{len(boxes)} objects but {len(pngs)} masks in {MASK_KEY}")
    image.annotations = [
        Annotation(label=label, kind="mask", box=box,
                   mask=rle.encode(_decode_png(view, png, index, image)))
        for index, ((label, box), png) in enumerate(zip(boxes, pngs), start=1)]


def _decode_png(view: RecordView, data: bytes, index: int, image: ImageRecord) -> np.ndarray:
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        png = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError):
        raise view.error(f"mask {index} is not a readable PNG") from None
    if image.width <= 0 or image.height <= 0:
        image.width, image.height = png.size
    if png.size != (image.width, image.height):  # from the header: refused before decoding
        raise view.error(f"mask {index} is {png.size[0]}x{png.size[1]}, the image is "
                         f"{image.width}x{image.height}")
    try:
        return (np.asarray(png.convert("L")) > 0).astype(np.uint8)
    except (OSError, SyntaxError, ValueError):
        raise view.error(f"mask {index} is not a readable PNG") from None
