"""Preprocess a real captioned set into the project's training layout (square images, clean captions).

Images: EXIF orientation applied, converted to RGB (an alpha channel is dropped), resized so
the shorter side is `size` (bicubic, which PIL antialiases when shrinking), then centre-cropped
to `size` x `size`, the usual text-to-image preprocessing (e.g. Rombach et al. 2022, LDM;
Saharia et al. 2022, Imagen), and saved as PNG.
Captions (`normalize_caption`): Unicode NFKC (full-width letters, ligatures, non-breaking spaces
become plain ones), lower case, every run of whitespace collapsed to one space, leading and
trailing whitespace removed, and trailing periods and spaces stripped ("A dog runs . " ->
"a dog runs"). Captions empty after that are dropped; an image's repeated captions are kept once.

The output is `out/images/000000000001.png`... and `out/captions.json` in the COCO captions
layout, the layout the Shapes writer uses, so training reads one format. Images that cannot be
read are skipped and listed in the returned summary (run `data qa` for the full report).

Run: `python -m ml_engine data prepare --format coco --captions captions_train2017.json --images train2017/ \
       --out data/coco64`
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageOps

from ml_engine.data.parallel import parallel_map
from ml_engine.data.real.coco import create_coco_layout, write_coco_json
from ml_engine.data.real.records import CaptionSet


def normalize_caption(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    return " ".join(text.split()).rstrip(" .")


def resize_and_center_crop(image: Image.Image, size: int) -> Image.Image:
    """Shorter side to `size`, then the central `size` x `size` square."""
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    width, height = image.size
    scale = size / min(width, height)
    new_width, new_height = max(size, round(width * scale)), max(size, round(height * scale))
    if (new_width, new_height) != (width, height):
        image = image.resize((new_width, new_height), Image.Resampling.BICUBIC)
    left, top = (new_width - size) // 2, (new_height - size) // 2
    return image.crop((left, top, left + size, top + size))


def _prepare_image(job: tuple[str, str, int]) -> str | None:
    """Write one preprocessed image; returns an error message instead of raising, so one bad file stops nothing."""
    source, target, size = job
    try:
        with Image.open(source) as image:
            # a JPEG can decode at 1/2, 1/4 or 1/8 scale for free; draft keeps both sides >= size
            image.draft("RGB", (size, size))
            image = ImageOps.exif_transpose(image).convert("RGB")
            resize_and_center_crop(image, size).save(target, format="PNG")
    except Exception as error:  # PIL raises OSError, SyntaxError, ValueError, DecompressionBombError...
        Path(target).unlink(missing_ok=True)
        return f"{type(error).__name__}: {error}"
    return None


@dataclass
class PreparedSet:
    captions_file: Path
    n_images: int
    n_captions: int
    skipped_images: list[tuple[str, str]] = field(default_factory=list)  # (source path, why)
    dropped_captions: int = 0  # empty after normalisation, or a repeat within its image


def prepare_caption_set(
    caption_set: CaptionSet, out_dir: str | Path, *, size: int = 64, workers: int | None = None, progress: bool = True
) -> PreparedSet:
    """Write `caption_set`'s captioned images, preprocessed, as a COCO captions set under `out_dir`."""
    captions_file, images_dir = create_coco_layout(out_dir)
    jobs, kept = [], []
    dropped = 0
    for index, record in enumerate(caption_set.records(), start=1):
        captions = list(dict.fromkeys(c for c in map(normalize_caption, record.captions) if c))
        dropped += len(record.captions) - len(captions)
        if not captions:
            continue
        file_name = f"{index:012d}.png"
        jobs.append((str(record.image_path), str(images_dir / file_name), size))
        kept.append((index, file_name, record, captions))

    errors = parallel_map(_prepare_image, jobs, workers=workers, desc="prepare", progress=progress)

    images, annotations, skipped = [], [], []
    for (image_id, file_name, record, captions), error in zip(kept, errors, strict=True):
        if error is not None:
            skipped.append((str(record.image_path), error))
            continue
        images.append(
            {
                "id": image_id,
                "file_name": file_name,
                "width": size,
                "height": size,
                "split": record.split,
                "source_id": record.image_id,
                "source_file": record.image_path.relative_to(caption_set.images_dir).as_posix(),
            }
        )
        for caption in captions:
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "caption": caption})
    info = {
        "description": f"{caption_set.format} ({caption_set.captions_file.name}), preprocessed to {size}x{size}",
        "version": "1.0",
        "source_format": caption_set.format,
        "size": size,
    }
    write_coco_json(captions_file, info=info, images=images, annotations=annotations)
    return PreparedSet(captions_file, len(images), len(annotations), skipped, dropped)
