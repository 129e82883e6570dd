"""LabelMe's writer assembles each document from text (the generic encoder costs a few calls per
vertex); it must write exactly what `jsonio.dumps(document, number, indent=2)` writes."""

from __future__ import annotations

import math

import pytest

from annotations.formats import numbers
from annotations.formats.builtin import labelme
from annotations.formats.io import jsonio
from annotations.formats.records import Annotation, ImageRecord, Rle
from annotations.formats.spec import ExportSet


class _Out:
    def __init__(self) -> None:
        self.members: dict[str, str] = {}

    def add_bytes(self, path: str, data) -> None:
        self.members[path] = data


def _images() -> list[ImageRecord]:
    return [
        ImageRecord("a.jpg", 640, 480, [
            Annotation("car", "polygon", box=(1.0, 2.0, 30.0, 40.0),
                       polygon=[[1.0, 2.0, 30.5, 2.25, 30.0, 40.0], [0.0, -0.0, 5.0]]),
            Annotation("car", "box", box=(0.0, 0.0, 640.0, 480.0)),
            Annotation("per\"son ü", "polygon", box=(1.0, 1.0, 2.0, 2.0),
                       polygon=[[1, 1, 2.0, 1, 2, 2], [7.0], []]),
            Annotation("ints", "box", box=(1, 2, 3, True)),
            Annotation("m", "mask", box=(0.0, 0.0, 2.0, 2.0),
                       mask=Rle(height=4, width=4, counts="52203")),
            Annotation("m", "mask", box=(0.0, 0.0, 2.0, 2.0), polygon=[[1.0, 1.0, 2.0, 2.0]]),
            Annotation("nothing", "keypoints"),
            Annotation("tiny", "box", box=(1e-7, 0.123456789, 1e16, 2.675)),
        ], id=1),
        ImageRecord("empty.png", 10, 20, [], id=2),
        ImageRecord("odd \\ name.jpg", 3, 3, [Annotation("x", "box", box=(0.5, 0.5, 1.0, 1.0))],
                    id=3),
    ]


@pytest.mark.parametrize("normalized", [False, True])
def test_text_equals_the_generic_encoder(normalized):
    images = _images()
    export_set = ExportSet(name="train", folder="top/train/", labels=[], skeletons=[],
                           normalized=normalized, include_images=False, images=iter(images))
    out = _Out()
    labelme.write_set(export_set, out)
    number = numbers.formatter(normalized)
    for image in images:
        path = "top/train/" + image.file_name.rsplit(".", 1)[0] + ".json"
        expected = jsonio.dumps(labelme._document(image, export_set), number, indent=2) + "\n"
        assert out.members[path] == expected


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_still_refused(bad):
    image = ImageRecord("a.jpg", 10, 10, [Annotation("car", "polygon", box=(0.0, 0.0, 1.0, 1.0),
                                                     polygon=[[0.0, 0.0, bad, 1.0, 1.0, 1.0]])])
    export_set = ExportSet(name="train", folder="t/", labels=[], skeletons=[], normalized=False,
                           include_images=False, images=iter([image]))
    with pytest.raises(ValueError):
        labelme.write_set(export_set, _Out())
