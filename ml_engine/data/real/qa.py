"""Alignment QA of a captioned image set: do its captions and its image files agree?

The report (`alignment_report`) lists
- images without captions: listed images that no caption names;
- orphan captions: captions whose image id no listed image has, or whose image file is missing;
- missing files: listed images with no file on disk; unlisted files: image files on disk the
  captions file never names (the Flickr30k token format lists the folder itself, so it has none);
- unreadable images: files that PIL cannot verify and fully decode (a truncated PNG or JPEG
  passes `verify()` often enough that a full `load()` is needed as well);
- duplicate images: groups of files with the same SHA-256 of their bytes;
- caption length statistics in words (min, mean, median, max, histogram) and counts.
These are the mismatches that otherwise stop a training run midway or skew it silently; the
file formats are those of coco.py and flickr30k.py. Files are only hashed and decoded as
images; nothing is unpickled.

Run: `python -m ml_engine data qa --format flickr30k-karpathy --captions dataset_flickr30k.json \
       --images flickr30k-images/ --json qa.json`
"""

from __future__ import annotations

import hashlib
import io
import json
import statistics
from collections import defaultdict
from dataclasses import asdict, dataclass, field

from PIL import Image

from ml_engine.data.parallel import parallel_map
from ml_engine.data.real.records import CaptionSet, ImageId, image_files_on_disk

# Word-count buckets of the caption length histogram: (label, lowest, highest) inclusive.
LENGTH_BUCKETS = (
    ("0", 0, 0),
    ("1-4", 1, 4),
    ("5-8", 5, 8),
    ("9-12", 9, 12),
    ("13-16", 13, 16),
    ("17-24", 17, 24),
    ("25+", 25, 10**9),
)
SHOWN_IN_TEXT = 10  # examples of each problem printed by `to_text`; the JSON has them all

NO_SUCH_IMAGE = "no such image id"
FILE_MISSING = "image file missing"


@dataclass(frozen=True)
class OrphanCaption:
    image_id: ImageId
    caption: str
    reason: str  # NO_SUCH_IMAGE or FILE_MISSING


@dataclass(frozen=True)
class UnreadableImage:
    file_name: str
    error: str


@dataclass
class CaptionLengths:
    """Caption lengths in whitespace-separated words."""

    count: int = 0
    min: int = 0
    mean: float = 0.0
    median: float = 0.0
    max: int = 0
    histogram: dict[str, int] = field(default_factory=lambda: {label: 0 for label, _, _ in LENGTH_BUCKETS})

    @classmethod
    def of(cls, captions: list[str]) -> CaptionLengths:
        lengths = [len(c.split()) for c in captions]
        stats = cls()
        for n in lengths:
            label = next(label for label, low, high in LENGTH_BUCKETS if low <= n <= high)
            stats.histogram[label] += 1
        if lengths:
            stats.count, stats.min, stats.max = len(lengths), min(lengths), max(lengths)
            stats.mean, stats.median = statistics.fmean(lengths), float(statistics.median(lengths))
        return stats


@dataclass
class AlignmentReport:
    format: str
    captions_file: str
    images_dir: str
    n_images: int  # listed images
    n_captions: int
    n_captioned_images: int  # listed images with at least one caption
    images_without_captions: list[str]  # file names
    orphan_captions: list[OrphanCaption]
    missing_files: list[str]
    unlisted_files: list[str]
    unreadable_images: list[UnreadableImage]
    duplicate_images: list[list[str]]  # each a group of file names with identical bytes
    caption_lengths: CaptionLengths

    @property
    def n_problems(self) -> int:
        problems = (
            self.images_without_captions,
            self.orphan_captions,
            self.missing_files,
            self.unlisted_files,
            self.unreadable_images,
            self.duplicate_images,
        )
        return sum(map(len, problems))

    @property
    def ok(self) -> bool:
        return self.n_problems == 0

    def to_json(self) -> dict:
        return {**asdict(self), "ok": self.ok, "n_problems": self.n_problems}

    def to_text(self) -> str:
        lengths = self.caption_lengths
        lines = [
            f"{self.format} set {self.captions_file} (images in {self.images_dir})",
            f"  {self.n_images} images listed, {self.n_captioned_images} with captions; {self.n_captions} captions",
            f"  words a caption: min {lengths.min}, mean {lengths.mean:.1f}, median {lengths.median:g}, "
            f"max {lengths.max}",
            "  histogram: " + ", ".join(f"{label}: {n}" for label, n in lengths.histogram.items()),
        ]
        problems = [
            ("images without captions", self.images_without_captions),
            ("orphan captions", [f"{o.image_id!r}: {o.caption!r} ({o.reason})" for o in self.orphan_captions]),
            ("listed files missing on disk", self.missing_files),
            ("image files not in the captions file", self.unlisted_files),
            ("unreadable images", [f"{u.file_name}: {u.error}" for u in self.unreadable_images]),
            ("groups of duplicate images", [" = ".join(group) for group in self.duplicate_images]),
        ]
        for title, items in problems:
            lines.append(f"  {title}: {len(items)}")
            lines += [f"    {item}" for item in items[:SHOWN_IN_TEXT]]
            if len(items) > SHOWN_IN_TEXT:
                lines.append(f"    ... and {len(items) - SHOWN_IN_TEXT} more (see --json)")
        lines.append("OK" if self.ok else f"{self.n_problems} problems")
        return "\n".join(lines)

    def write_json(self, path) -> None:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_json(), f, indent=2, ensure_ascii=False)


def inspect_image(path: str) -> tuple[str, str | None]:
    """(SHA-256 of the file's bytes, None) for a good image, or (hash, the error) for one PIL cannot decode."""
    with open(path, "rb") as f:
        data = f.read()
    digest = hashlib.sha256(data).hexdigest()
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()  # checksums and structure; leaves the image unusable, hence the second open
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # decodes every pixel: the only check that catches a truncated file
    except Exception as error:  # PIL raises OSError, SyntaxError, ValueError, DecompressionBombError...
        return digest, f"{type(error).__name__}: {error}"
    return digest, None


def alignment_report(caption_set: CaptionSet, *, workers: int | None = None, progress: bool = True) -> AlignmentReport:
    listed_ids = {entry.image_id for entry in caption_set.images}
    captioned_ids = {annotation.image_id for annotation in caption_set.annotations}
    present, missing = [], []
    for entry in caption_set.images:
        (present if caption_set.image_path(entry).is_file() else missing).append(entry)
    missing_ids = {entry.image_id for entry in missing}

    orphans = [
        OrphanCaption(a.image_id, a.caption, NO_SUCH_IMAGE if a.image_id not in listed_ids else FILE_MISSING)
        for a in caption_set.annotations
        if a.image_id not in listed_ids or a.image_id in missing_ids
    ]
    listed_names = {entry.file_name for entry in caption_set.images}
    unlisted = [name for name in image_files_on_disk(caption_set.images_dir) if name not in listed_names]

    paths = [str(caption_set.image_path(entry)) for entry in present]
    inspected = parallel_map(inspect_image, paths, workers=workers, desc="qa", progress=progress)
    unreadable, by_hash = [], defaultdict(list)
    for entry, (digest, error) in zip(present, inspected, strict=True):
        by_hash[digest].append(entry.file_name)
        if error is not None:
            unreadable.append(UnreadableImage(entry.file_name, error))

    return AlignmentReport(
        format=caption_set.format,
        captions_file=str(caption_set.captions_file),
        images_dir=str(caption_set.images_dir),
        n_images=len(caption_set.images),
        n_captions=len(caption_set.annotations),
        n_captioned_images=len(listed_ids & captioned_ids),
        images_without_captions=[e.file_name for e in caption_set.images if e.image_id not in captioned_ids],
        orphan_captions=orphans,
        missing_files=[entry.file_name for entry in missing],
        unlisted_files=unlisted,
        unreadable_images=unreadable,
        duplicate_images=[group for group in by_hash.values() if len(group) > 1],
        caption_lengths=CaptionLengths.of([a.caption for a in caption_set.annotations]),
    )
