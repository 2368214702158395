"""Tiny captioned image sets in each real format (COCO captions, Flickr30k Karpathy and token), built in a tmp dir.

Every set has the same images folder and the same faults, so a test can state what a loader or
the QA report must find:
- dog.jpg (30x20 JPEG) with two messy captions, cat.png (20x30 PNG) with one;
- cat_copy.png, byte-identical to cat.png, captioned: a duplicate;
- broken.png and broken.jpg, each the first half of a valid file, captioned: unreadable;
- lonely.png on disk and listed, with no caption;
- ghost.jpg listed and captioned but not on disk: its caption is an orphan;
- stray.png on disk but in no captions file (the token format lists the folder, so there it is
  an image without captions instead);
- COCO only: one annotation whose image id (99) no image has, another kind of orphan.
"""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

CAPTIONS = {  # file name -> captions, in listing order
    "dog.jpg": ["A dog runs .", "  A   brown DOG\u00a0 on grass. "],
    "cat.png": ["A cat sleeps."],
    "cat_copy.png": ["Another cat."],
    "broken.png": ["A broken picture"],
    "broken.jpg": ["A broken photo"],
    "lonely.png": [],
    "ghost.jpg": ["A ghost caption"],
}
COCO_ORPHAN = (99, "No such image")


@dataclass(frozen=True)
class FixtureSet:
    format: str
    captions_file: Path
    images_dir: Path


def _encoded(size: tuple[int, int], color: tuple[int, int, int], format: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=format)
    return buffer.getvalue()


def _noise(format: str) -> bytes:
    """An image of noise, so that cutting the file in half cuts through pixel data, not just headers."""
    pixels = np.random.default_rng(0).integers(0, 256, size=(40, 40, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=format)
    return buffer.getvalue()


def write_images(images_dir: Path) -> Path:
    """The shared images folder (idempotent, so several formats can share it)."""
    if images_dir.is_dir():
        return images_dir
    images_dir.mkdir(parents=True)
    (images_dir / "dog.jpg").write_bytes(_encoded((30, 20), (150, 100, 50), "JPEG"))
    (images_dir / "cat.png").write_bytes(_encoded((20, 30), (90, 90, 90), "PNG"))
    shutil.copyfile(images_dir / "cat.png", images_dir / "cat_copy.png")
    png, jpeg = _noise("PNG"), _noise("JPEG")
    (images_dir / "broken.png").write_bytes(png[: len(png) // 2])
    (images_dir / "broken.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (images_dir / "lonely.png").write_bytes(_encoded((16, 16), (200, 0, 200), "PNG"))
    (images_dir / "stray.png").write_bytes(_encoded((16, 16), (0, 200, 200), "PNG"))
    return images_dir


def write_coco_fixture(root: Path) -> FixtureSet:
    images_dir = write_images(root / "images")
    images, annotations = [], []
    for image_id, (name, captions) in enumerate(CAPTIONS.items(), start=1):
        images.append({"id": image_id, "file_name": name, "width": 30, "height": 20, "license": 1})
        for caption in captions:
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "caption": caption})
    annotations.append({"id": len(annotations) + 1, "image_id": COCO_ORPHAN[0], "caption": COCO_ORPHAN[1]})
    captions_file = root / "captions_train2017.json"
    captions_file.write_text(json.dumps({"info": {}, "licenses": [], "images": images, "annotations": annotations}))
    return FixtureSet("coco", captions_file, images_dir)


def write_karpathy_fixture(root: Path) -> FixtureSet:
    images_dir = write_images(root / "flickr30k-images")
    splits = ["train", "train", "val", "test", "train", "restval", "train"]
    images = [
        {
            "filename": name,
            "imgid": i,
            "split": split,
            "sentences": [
                {"raw": c, "tokens": c.lower().split(), "imgid": i, "sentid": 10 * i + j}
                for j, c in enumerate(captions)
            ],
        }
        for i, ((name, captions), split) in enumerate(zip(CAPTIONS.items(), splits, strict=True))
    ]
    captions_file = root / "dataset_flickr30k.json"
    captions_file.write_text(json.dumps({"images": images, "dataset": "flickr30k"}))
    return FixtureSet("flickr30k-karpathy", captions_file, images_dir)


def write_token_fixture(root: Path) -> FixtureSet:
    images_dir = write_images(root / "flickr30k-images")
    lines = [f"{name}#{j}\t{c}" for name, captions in CAPTIONS.items() for j, c in enumerate(captions)]
    captions_file = root / "results_20130124.token"
    captions_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return FixtureSet("flickr30k-token", captions_file, images_dir)


WRITERS = {
    "coco": write_coco_fixture,
    "flickr30k-karpathy": write_karpathy_fixture,
    "flickr30k-token": write_token_fixture,
}
