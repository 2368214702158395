"""Read captions in the COCO captions layout (captions_train2017.json and the sets this project writes).

Reference: the COCO captions annotation format (Chen et al. 2015, "Microsoft COCO Captions: Data
Collection and Evaluation Server"; cocodataset.org/#format-data): a JSON object with
`images` [{id, file_name, width, height, ...}] and `annotations` [{id, image_id, caption}].
`info` and `licenses` are optional here. Extra fields (this project's `scene`, `category`,
`split`) are kept in the raw JSON for whoever needs them and otherwise ignored.

Run: `python -m ml_engine data qa --format coco --captions captions_train2017.json --images train2017/`
"""

from __future__ import annotations

import json
from pathlib import Path

from ml_engine.data.real.records import Annotation, CaptionSet, ImageEntry, checked_file_name


def read_coco_json(captions_file: str | Path) -> dict:
    """The captions file as JSON, after checking that it has the layout's required fields."""
    captions_file = Path(captions_file)
    with captions_file.open(encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise ValueError(f"{captions_file}: not a COCO captions file (no 'images' list)")
    if not isinstance(data.get("annotations"), list):
        raise ValueError(f"{captions_file}: not a COCO captions file (no 'annotations' list)")
    for i, image in enumerate(data["images"]):
        if not isinstance(image, dict) or "id" not in image or "file_name" not in image:
            raise ValueError(f"{captions_file}: images[{i}] lacks 'id' or 'file_name'")
    for i, ann in enumerate(data["annotations"]):
        if not isinstance(ann, dict) or "image_id" not in ann or not isinstance(ann.get("caption"), str):
            raise ValueError(f"{captions_file}: annotations[{i}] lacks 'image_id' or a string 'caption'")
    return data


def caption_set_from_coco(data: dict, captions_file: str | Path, images_dir: str | Path) -> CaptionSet:
    """A `CaptionSet` from JSON already read by `read_coco_json`."""
    images, seen = [], set()
    for i, image in enumerate(data["images"]):
        if image["id"] in seen:
            raise ValueError(f"{captions_file}: image id {image['id']!r} is listed twice")
        seen.add(image["id"])
        name = checked_file_name(image["file_name"], f"{captions_file}: images[{i}]")
        images.append(ImageEntry(image["id"], name, image.get("split")))
    annotations = [Annotation(ann["image_id"], ann["caption"]) for ann in data["annotations"]]
    return CaptionSet("coco", Path(captions_file), Path(images_dir), images, annotations)


def load_coco(captions_file: str | Path, images_dir: str | Path) -> CaptionSet:
    """Read a COCO captions file whose `file_name`s are relative to `images_dir`."""
    return caption_set_from_coco(read_coco_json(captions_file), captions_file, images_dir)


def write_coco_json(captions_file: str | Path, *, info: dict, images: list[dict], annotations: list[dict]) -> Path:
    """Write a COCO captions file; written to a temporary name first, so a present file is a complete one."""
    captions_file = Path(captions_file)
    data = {"info": info, "licenses": [], "images": images, "annotations": annotations}
    partial = captions_file.with_name(captions_file.name + ".partial")
    with partial.open("w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False)
    partial.replace(captions_file)
    return captions_file


CAPTIONS_FILE = "captions.json"
IMAGES_DIR = "images"


def create_coco_layout(out_dir: str | Path) -> tuple[Path, Path]:
    """Create `out_dir/images/` for a new set; returns (captions file, images dir) paths.

    Refuses a non-empty `out_dir`, so that files of an earlier, larger set cannot linger."""
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir} is not empty; choose a new output folder")
    (out_dir / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    return out_dir / CAPTIONS_FILE, out_dir / IMAGES_DIR
