"""The common shape of a captioned image set, whatever file format it came from.

Every loader (`coco.py`, `flickr30k.py`) turns its captions file into a `CaptionSet`: the
images the file lists, the captions it gives, and the folder the image files live in. Nothing
is checked against the disk here; the QA report (`qa.py`) does that. `CaptionSet.records()`
gives what training and preprocessing want: one `CaptionRecord` (image path, captions, split)
per listed image that has at least one caption.

Run: nothing to run; see `python -m ml_engine data qa --help`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"})

ImageId = int | str  # COCO ids are ints; Flickr30k images are known by file name


@dataclass(frozen=True)
class ImageEntry:
    image_id: ImageId
    file_name: str  # relative to the set's images folder
    split: str | None = None  # "train", "val", "test", "restval" where the source says so


@dataclass(frozen=True)
class Annotation:
    image_id: ImageId  # may name no listed image: the QA report calls that an orphan
    caption: str


@dataclass(frozen=True)
class CaptionRecord:
    image_id: ImageId
    image_path: Path
    captions: tuple[str, ...]
    split: str | None = None


@dataclass
class CaptionSet:
    format: str  # "coco", "flickr30k-karpathy", "flickr30k-token"
    captions_file: Path
    images_dir: Path
    images: list[ImageEntry] = field(default_factory=list)
    annotations: list[Annotation] = field(default_factory=list)

    def image_path(self, entry: ImageEntry) -> Path:
        return self.images_dir / entry.file_name

    def captions_by_image(self) -> dict[ImageId, list[str]]:
        """Captions of each image id, in file order (ids of unlisted images included)."""
        grouped: dict[ImageId, list[str]] = defaultdict(list)
        for annotation in self.annotations:
            grouped[annotation.image_id].append(annotation.caption)
        return dict(grouped)

    def records(self) -> list[CaptionRecord]:
        """One record per listed image with at least one caption, in the file's image order."""
        grouped = self.captions_by_image()
        return [
            CaptionRecord(entry.image_id, self.image_path(entry), tuple(grouped[entry.image_id]), entry.split)
            for entry in self.images
            if grouped.get(entry.image_id)
        ]


def checked_file_name(name: object, where: str) -> str:
    """A relative file name from a captions file; refuses absolute paths and `..` so a file can't point outside."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where}: expected a file name, got {name!r}")
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts:
        raise ValueError(f"{where}: file name {name!r} must be relative to the images folder")
    return name


def image_files_on_disk(images_dir: Path) -> list[str]:
    """Image files under `images_dir` (recursively), as sorted POSIX paths relative to it."""
    if not images_dir.is_dir():
        raise NotADirectoryError(f"images folder {images_dir} does not exist")
    return sorted(
        p.relative_to(images_dir).as_posix()
        for p in images_dir.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
    )
