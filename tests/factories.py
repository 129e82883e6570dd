"""Large datasets made quickly: image rows sharing one stored file, one box each (or on the first
image only). For tests that need many images, not many pictures."""

from __future__ import annotations

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from annotations.models import Annotation
from datasets.models import Dataset, Image


def stored_sample_image() -> str:
    """One real PNG in storage, for exports that include images."""
    from tests.formats.canonical import canonical_images, image_bytes

    return default_storage.save("images/shared.png",
                                ContentFile(image_bytes(canonical_images()[1])))


def dataset_with_boxes(owner, n: int, *, name: str = "Many images", file: str = "unused.jpg",
                       size: tuple[int, int] = (100, 80), boxes_on_every_image: bool = True,
                       boxes_per_image: int = 1) -> Dataset:
    dataset = Dataset.objects.create(owner=owner, name=name, slug=name.lower().replace(" ", "-"))
    label = dataset.labels.create(name="thing", position=1)
    digits = max(3, len(str(n - 1)))
    images = Image.objects.bulk_create(
        Image(dataset=dataset, file=file, original_name=f"img_{i:0{digits}d}.jpg", width=size[0],
              height=size[1], checksum=f"{i:064d}", position=i) for i in range(n))
    boxed = images if boxes_on_every_image else images[:1]
    Annotation.objects.bulk_create(
        (Annotation(image=img, label=label, kind="box", xmin=1 + k, ymin=2, xmax=30 + k, ymax=40)
         for img in boxed for k in range(boxes_per_image)), batch_size=5000)
    return dataset
