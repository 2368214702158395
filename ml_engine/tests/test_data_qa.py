"""The alignment QA report finds every fault planted in the tiny fixture sets (see caption_fixtures.py)."""

from __future__ import annotations

import json

import pytest

from ml_engine.data.real import load_caption_set
from ml_engine.data.real.qa import FILE_MISSING, NO_SUCH_IMAGE, CaptionLengths, OrphanCaption, alignment_report
from ml_engine.tests.caption_fixtures import WRITERS, write_images

# Per format: listed images, captions, the uncaptioned images and the orphan captions it must report.
EXPECTED = {
    "coco": (
        7,
        8,
        ["lonely.png"],
        [OrphanCaption(7, "A ghost caption", FILE_MISSING), OrphanCaption(99, "No such image", NO_SUCH_IMAGE)],
    ),
    "flickr30k-karpathy": (7, 7, ["lonely.png"], [OrphanCaption("ghost.jpg", "A ghost caption", FILE_MISSING)]),
    "flickr30k-token": (
        8,
        7,
        ["lonely.png", "stray.png"],
        [OrphanCaption("ghost.jpg", "A ghost caption", FILE_MISSING)],
    ),
}


@pytest.fixture(params=list(WRITERS))
def report(request, tmp_path):
    fixture = WRITERS[request.param](tmp_path)
    caption_set = load_caption_set(fixture.format, fixture.captions_file, fixture.images_dir)
    return alignment_report(caption_set, workers=1, progress=False)


def test_counts(report):
    n_images, n_captions, _, _ = EXPECTED[report.format]
    assert (report.n_images, report.n_captions, report.n_captioned_images) == (n_images, n_captions, 6)


def test_images_without_captions_are_listed(report):
    assert report.images_without_captions == EXPECTED[report.format][2]


def test_orphan_captions_name_their_reason(report):
    assert report.orphan_captions == EXPECTED[report.format][3]
    assert report.missing_files == ["ghost.jpg"]


def test_files_on_disk_missing_from_the_captions_file_are_listed(report):
    # the token format has no image list of its own: stray.png is an uncaptioned image there instead
    assert report.unlisted_files == ([] if report.format == "flickr30k-token" else ["stray.png"])


def test_truncated_png_and_jpeg_are_reported_not_raised(report):
    # broken.jpg passes PIL's verify(); only decoding every pixel finds it truncated
    assert [u.file_name for u in report.unreadable_images] == ["broken.png", "broken.jpg"]
    assert all("runcated" in u.error for u in report.unreadable_images)


def test_byte_identical_images_are_grouped_as_duplicates(report):
    assert report.duplicate_images == [["cat.png", "cat_copy.png"]]


def test_caption_length_statistics(report):
    lengths = report.caption_lengths
    # words: "A dog runs ." 4, "  A   brown DOG  on grass. " 5, then 3, 2, 3, 3, 3 (+ COCO's orphan, 3)
    assert (lengths.count, lengths.min, lengths.max, lengths.median) == (report.n_captions, 2, 5, 3.0)
    assert lengths.mean == pytest.approx((26 if report.format == "coco" else 23) / report.n_captions)
    assert lengths.histogram == {
        "0": 0,
        "1-4": report.n_captions - 1,
        "5-8": 1,
        "9-12": 0,
        "13-16": 0,
        "17-24": 0,
        "25+": 0,
    }


def test_problems_make_the_report_not_ok(report):
    assert not report.ok
    n_orphans = len(EXPECTED[report.format][3])
    n_uncaptioned = len(EXPECTED[report.format][2])
    n_unlisted = 0 if report.format == "flickr30k-token" else 1
    assert report.n_problems == n_uncaptioned + n_orphans + 1 + n_unlisted + 2 + 1


def test_json_form_holds_every_field_and_round_trips(report, tmp_path):
    report.write_json(tmp_path / "qa.json")
    data = json.loads((tmp_path / "qa.json").read_text())
    assert data["ok"] is False and data["n_problems"] == report.n_problems
    assert data["duplicate_images"] == [["cat.png", "cat_copy.png"]]
    assert data["unreadable_images"][0]["file_name"] == "broken.png"
    assert data["orphan_captions"][0]["reason"] == FILE_MISSING
    assert data["caption_lengths"]["max"] == 5
    assert {
        "format",
        "captions_file",
        "images_dir",
        "n_images",
        "n_captions",
        "n_captioned_images",
        "images_without_captions",
        "missing_files",
        "unlisted_files",
    } <= set(data)


def test_text_form_names_each_problem(report):
    text = report.to_text()
    for needle in ("lonely.png", "ghost.jpg", "broken.png", "broken.jpg", "cat.png = cat_copy.png", "median 3"):
        assert needle in text
    assert text.endswith(f"{report.n_problems} problems")


def test_a_clean_set_is_ok(tmp_path):
    images_dir = write_images(tmp_path / "images")
    token = tmp_path / "results.token"
    token.write_text(
        "".join(f"{n}#0\ta {n}\n" for n in ("dog.jpg", "cat.png", "lonely.png", "stray.png")), encoding="utf-8"
    )
    for name in ("cat_copy.png", "broken.png", "broken.jpg"):
        (images_dir / name).unlink()
    report = alignment_report(load_caption_set("flickr30k-token", token, images_dir), workers=1, progress=False)
    assert report.ok and report.n_problems == 0
    assert report.to_text().endswith("OK")


def test_empty_caption_counts_as_zero_words():
    assert CaptionLengths.of(["", "a b"]).histogram["0"] == 1
    assert CaptionLengths.of([]).count == 0
