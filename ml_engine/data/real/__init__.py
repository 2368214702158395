"""Real captioned image sets (COCO captions, Flickr30k): loaders, preprocessing and an alignment QA report.

`load_caption_set(format, captions_file, images_dir)` picks the loader by name; every loader
returns a `CaptionSet` (records.py). `preprocess.prepare_caption_set` writes a set in the same
COCO captions layout as the Shapes writer, so training reads one format; `qa.alignment_report`
checks that captions and image files agree. Only JSON, text and image files are ever read.

Run: `python -m ml_engine data prepare --help`, `python -m ml_engine data qa --help`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ml_engine.data.real.coco import load_coco
from ml_engine.data.real.flickr30k import load_flickr30k_karpathy, load_flickr30k_token
from ml_engine.data.real.records import CaptionSet

LOADERS = {
    "coco": load_coco,
    "flickr30k-karpathy": load_flickr30k_karpathy,
    "flickr30k-token": load_flickr30k_token,
}
# A Shapes set (ml_engine.data.shapes_dataset) is a COCO captions file under another name.
FORMATS = (*LOADERS, "shapes")


def load_caption_set(format: str, captions_file: str | Path, images_dir: str | Path) -> CaptionSet:
    if format == "shapes":
        return replace(load_coco(captions_file, images_dir), format="shapes")
    if format not in LOADERS:
        raise ValueError(f"unknown captions format {format!r}; expected one of {', '.join(FORMATS)}")
    return LOADERS[format](captions_file, images_dir)
