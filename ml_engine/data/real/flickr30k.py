"""Read Flickr30k captions, in either of the two files it is distributed with.

References: Young et al. 2014, "From image descriptions to visual denotations" (Flickr30k);
Karpathy & Fei-Fei 2015, "Deep Visual-Semantic Alignments" (the train/val/test split file).

- The Karpathy split file `dataset_flickr30k.json`: {"images": [{"filename", "imgid", "split",
  "sentences": [{"raw", "tokens", ...}], ...}], "dataset": "flickr30k"}. Captions are `raw`.
- The original `results_20130124.token`: one caption a line, `1000092795.jpg#0<TAB>caption`.
  It lists no images of its own, so every image file in the folder counts as listed; a file
  that no line names is then an image without captions.

Images live in one folder (`flickr30k-images/`). Run:
`python -m ml_engine data qa --format flickr30k-token --captions results_20130124.token --images flickr30k-images/`
"""

from __future__ import annotations

import json
from pathlib import Path

from ml_engine.data.real.records import Annotation, CaptionSet, ImageEntry, checked_file_name, image_files_on_disk


def load_flickr30k_karpathy(split_file: str | Path, images_dir: str | Path) -> CaptionSet:
    """Read `dataset_flickr30k.json`; images are known by file name, with the Karpathy split."""
    split_file = Path(split_file)
    with split_file.open(encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise ValueError(f"{split_file}: not a Karpathy split file (no 'images' list)")
    images, annotations, seen = [], [], set()
    for i, image in enumerate(data["images"]):
        where = f"{split_file}: images[{i}]"
        if not isinstance(image, dict) or not isinstance(image.get("sentences"), list):
            raise ValueError(f"{where} lacks a 'sentences' list")
        # the COCO variant of the file (dataset_coco.json) puts images in subfolders named by 'filepath'
        name = checked_file_name("/".join(filter(None, (image.get("filepath"), image.get("filename")))), where)
        if name in seen:
            raise ValueError(f"{where}: {name!r} is listed twice")
        seen.add(name)
        images.append(ImageEntry(name, name, image.get("split")))
        for j, sentence in enumerate(image["sentences"]):
            if not isinstance(sentence, dict) or not isinstance(sentence.get("raw"), str):
                raise ValueError(f"{where}.sentences[{j}] lacks a string 'raw'")
            annotations.append(Annotation(name, sentence["raw"]))
    return CaptionSet("flickr30k-karpathy", split_file, Path(images_dir), images, annotations)


def load_flickr30k_token(token_file: str | Path, images_dir: str | Path) -> CaptionSet:
    """Read `results_20130124.token`; the listed images are the folder's files plus every file a line names."""
    token_file, images_dir = Path(token_file), Path(images_dir)
    annotations, named = [], {}
    with token_file.open(encoding="utf-8") as f:
        for line_number, line in enumerate(f, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            key, tab, caption = line.partition("\t")
            name, hash_sign, index = key.rpartition("#")
            if not tab or not hash_sign or not index.isdigit():
                raise ValueError(f"{token_file}:{line_number}: expected 'NAME.jpg#N<TAB>caption', got {line!r}")
            name = checked_file_name(name, f"{token_file}:{line_number}")
            named.setdefault(name, None)
            annotations.append(Annotation(name, caption))
    names = list(named) + [n for n in image_files_on_disk(images_dir) if n not in named]
    images = [ImageEntry(n, n) for n in names]
    return CaptionSet("flickr30k-token", token_file, images_dir, images, annotations)
