"""Loaders of COCO captions and Flickr30k (both files), and preprocessing to the training layout."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from PIL import Image

from ml_engine.data.real import load_caption_set
from ml_engine.data.real.coco import load_coco, read_coco_json
from ml_engine.data.real.flickr30k import load_flickr30k_karpathy, load_flickr30k_token
from ml_engine.data.real.preprocess import normalize_caption, prepare_caption_set, resize_and_center_crop
from ml_engine.tests.caption_fixtures import (
    write_coco_fixture,
    write_images,
    write_karpathy_fixture,
    write_token_fixture,
)

CAPTIONED_ON_DISK_OR_NOT = ["dog.jpg", "cat.png", "cat_copy.png", "broken.png", "broken.jpg", "ghost.jpg"]


def _records_by_name(caption_set):
    return {r.image_path.name: r for r in caption_set.records()}


def test_coco_records_group_captions_by_image_and_skip_uncaptioned_images(tmp_path):
    fixture = write_coco_fixture(tmp_path)
    caption_set = load_coco(fixture.captions_file, fixture.images_dir)

    records = _records_by_name(caption_set)
    assert list(records) == CAPTIONED_ON_DISK_OR_NOT  # file order kept; lonely.png has no caption
    assert records["dog.jpg"].captions == ("A dog runs .", "  A   brown DOG\u00a0 on grass. ")
    assert records["dog.jpg"].image_path == fixture.images_dir / "dog.jpg"
    assert records["dog.jpg"].image_id == 1 and records["dog.jpg"].split is None
    # the orphan annotation stays in the set for the QA report, but belongs to no record
    assert any(a.image_id == 99 for a in caption_set.annotations)
    assert sum(len(r.captions) for r in records.values()) == len(caption_set.annotations) - 1


def test_karpathy_records_carry_the_split_and_raw_sentences(tmp_path):
    fixture = write_karpathy_fixture(tmp_path)
    records = _records_by_name(load_flickr30k_karpathy(fixture.captions_file, fixture.images_dir))

    assert list(records) == CAPTIONED_ON_DISK_OR_NOT
    assert records["dog.jpg"].captions == ("A dog runs .", "  A   brown DOG\u00a0 on grass. ")
    assert [records[n].split for n in ("dog.jpg", "cat_copy.png", "broken.png")] == ["train", "val", "test"]
    assert records["dog.jpg"].image_id == "dog.jpg"


def test_token_file_lists_the_folder_so_unnamed_files_are_uncaptioned_images(tmp_path):
    fixture = write_token_fixture(tmp_path)
    caption_set = load_flickr30k_token(fixture.captions_file, fixture.images_dir)

    assert [e.file_name for e in caption_set.images] == [*CAPTIONED_ON_DISK_OR_NOT, "lonely.png", "stray.png"]
    records = _records_by_name(caption_set)
    assert list(records) == CAPTIONED_ON_DISK_OR_NOT
    assert records["dog.jpg"].captions == ("A dog runs .", "  A   brown DOG\u00a0 on grass. ")
    assert records["dog.jpg"].split is None


def test_token_caption_may_contain_hashes_and_tabs(tmp_path):
    write_images(tmp_path / "images")
    token = tmp_path / "results.token"
    token.write_text("dog.jpg#0\tA dog #1 in the\tpark\n\ndog.jpg#1\tAnother\n", encoding="utf-8")
    records = load_flickr30k_token(token, tmp_path / "images").records()
    assert records[0].captions == ("A dog #1 in the\tpark", "Another")


@pytest.mark.parametrize("line", ["dog.jpg#0 A dog without a tab", "dog.jpg\tno caption index", "dog.jpg#x\tbad index"])
def test_malformed_token_line_is_an_error_naming_the_line(tmp_path, line):
    token = tmp_path / "results.token"
    token.write_text(f"cat.png#0\tfine\n{line}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"results\.token:2"):
        load_flickr30k_token(token, write_images(tmp_path / "images"))


def test_coco_file_without_annotations_is_rejected(tmp_path):
    path = tmp_path / "captions.json"
    path.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.png"}]}))
    with pytest.raises(ValueError, match="annotations"):
        read_coco_json(path)


@pytest.mark.parametrize("name", ["../outside.png", "/etc/passwd", "a/../../b.png"])
def test_file_names_pointing_outside_the_images_folder_are_rejected(tmp_path, name):
    path = tmp_path / "captions.json"
    path.write_text(json.dumps({"images": [{"id": 1, "file_name": name}], "annotations": []}))
    with pytest.raises(ValueError, match="relative to the images folder"):
        load_coco(path, tmp_path)


class _WritesAFileWhenUnpickled:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_a_pickle_given_as_captions_file_is_never_unpickled(tmp_path):
    target = tmp_path / "unpickled"
    payload = tmp_path / "captions.json"
    payload.write_bytes(pickle.dumps(_WritesAFileWhenUnpickled(str(target))))
    for format in ("coco", "flickr30k-karpathy", "flickr30k-token"):
        with pytest.raises(ValueError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            load_caption_set(format, payload, write_images(tmp_path / "images"))
    assert not target.exists()


def test_unknown_format_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="unknown captions format"):
        load_caption_set("laion", tmp_path / "x", tmp_path)


# ---------------------------------------------------------------- preprocessing


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("A dog runs .", "a dog runs"),
        ("  A   brown DOG\u00a0 on grass. ", "a brown dog on grass"),
        ("\uff21 \ufb01sh\tswims...", "a fish swims"),  # full-width A and the "fi" ligature
        ("Mr. Smith's dog.", "mr. smith's dog"),  # only trailing periods go
        (" . ", ""),
    ],
)
def test_caption_normalisation(raw, clean):
    assert normalize_caption(raw) == clean


def _three_bands(width: int, height: int, horizontal: bool) -> Image.Image:
    """Red | green | blue bands (quarter, half, quarter) across the longer side."""
    long_side = width if horizontal else height
    colors = np.zeros((long_side, 3), dtype=np.uint8)
    colors[: long_side // 4] = (255, 0, 0)
    colors[long_side // 4 : 3 * long_side // 4] = (0, 255, 0)
    colors[3 * long_side // 4 :] = (0, 0, 255)
    pixels = (
        np.broadcast_to(colors[None, :, :], (height, width, 3))
        if horizontal
        else (np.broadcast_to(colors[:, None, :], (height, width, 3)))
    )
    return Image.fromarray(np.ascontiguousarray(pixels))


@pytest.mark.parametrize(("width", "height", "horizontal"), [(200, 100, True), (100, 200, False), (64, 128, False)])
def test_centre_crop_keeps_the_middle_half_of_the_longer_side(width, height, horizontal):
    # The centre square of a 2:1 image is exactly its green middle half; an off-centre crop shows red or blue.
    out = np.asarray(resize_and_center_crop(_three_bands(width, height, horizontal), 64)).astype(int)
    assert out.shape == (64, 64, 3)
    assert np.abs(out[2:-2, 2:-2] - (0, 255, 0)).max() <= 3
    # the bicubic rim blends at most slightly with the neighbouring bands, and symmetrically
    red_side, blue_side = (out[:, 0], out[:, -1]) if horizontal else (out[0], out[-1])
    assert red_side[:, 0].max() < 60 and blue_side[:, 2].max() < 60
    assert abs(int(red_side[:, 0].mean()) - int(blue_side[:, 2].mean())) <= 2


def test_small_image_is_upscaled_to_the_requested_size():
    assert resize_and_center_crop(Image.new("RGB", (10, 30), "red"), 64).size == (64, 64)


def test_prepare_writes_square_images_and_normalised_captions_in_coco_layout(tmp_path):
    fixture = write_karpathy_fixture(tmp_path / "src")
    caption_set = load_flickr30k_karpathy(fixture.captions_file, fixture.images_dir)
    prepared = prepare_caption_set(caption_set, tmp_path / "out", size=24, workers=1, progress=False)

    # broken.png, broken.jpg (truncated) and ghost.jpg (missing) are skipped; lonely.png has no caption
    assert sorted(p.rsplit("/", 1)[-1] for p, _ in prepared.skipped_images) == ["broken.jpg", "broken.png", "ghost.jpg"]
    assert (prepared.n_images, prepared.n_captions, prepared.dropped_captions) == (3, 4, 0)

    prepared_set = load_coco(prepared.captions_file, tmp_path / "out" / "images")
    records = prepared_set.records()
    assert [r.captions for r in records] == [
        ("a dog runs", "a brown dog on grass"),
        ("a cat sleeps",),
        ("another cat",),
    ]
    data = json.loads(prepared.captions_file.read_text())
    assert set(data) == {"info", "licenses", "images", "annotations"}
    assert [(i["source_file"], i["split"]) for i in data["images"]] == [
        ("dog.jpg", "train"),
        ("cat.png", "train"),
        ("cat_copy.png", "val"),
    ]
    assert len({a["id"] for a in data["annotations"]}) == len(data["annotations"])
    for record in records:
        with Image.open(record.image_path) as image:
            assert (image.size, image.mode, image.format) == ((24, 24), "RGB", "PNG")
    with Image.open(records[0].image_path) as image:  # dog.jpg was a flat (150, 100, 50)
        assert np.abs(np.asarray(image).astype(int) - (150, 100, 50)).max() <= 4


def test_prepare_drops_empty_and_repeated_captions(tmp_path):
    write_images(tmp_path / "images")
    token = tmp_path / "results.token"
    token.write_text("dog.jpg#0\tA dog.\ndog.jpg#1\ta DOG \ndog.jpg#2\t . \ncat.png#0\t...\n", encoding="utf-8")
    caption_set = load_flickr30k_token(token, tmp_path / "images")
    prepared = prepare_caption_set(caption_set, tmp_path / "out", size=8, workers=1, progress=False)

    assert (prepared.n_images, prepared.n_captions, prepared.dropped_captions) == (1, 1, 3)  # cat.png lost its only one
    data = json.loads(prepared.captions_file.read_text())
    assert [a["caption"] for a in data["annotations"]] == ["a dog"]


def test_prepare_refuses_a_non_empty_output_folder(tmp_path):
    fixture = write_coco_fixture(tmp_path / "src")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.png").write_bytes(b"")
    with pytest.raises(FileExistsError):
        prepare_caption_set(load_coco(fixture.captions_file, fixture.images_dir), tmp_path / "out", progress=False)
