"""`data render|prepare|qa` through argparse, as `python -m ml_engine data ...` will call them."""

from __future__ import annotations

import argparse
import json

import pytest
from PIL import Image

from ml_engine.cli.data_cmd import add_data_parser
from ml_engine.tests.caption_fixtures import write_coco_fixture, write_token_fixture


def run_data(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="ml_engine")
    add_data_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["data", *argv])
    return args.func(args)


def test_render_writes_a_shapes_set_and_qa_finds_it_clean(tmp_path, capsys):
    out = tmp_path / "shapes"
    assert (
        run_data("render", "--out", str(out), "--n", "12", "--seed", "4", "--captions-per-image", "2", "--workers", "1")
        == 0
    )
    printed = capsys.readouterr().out
    assert "wrote 12 images and " in printed and "canonical forms covered: " in printed
    assert len(list((out / "images").glob("*.png"))) == 12

    code = run_data(
        "qa",
        "--format",
        "shapes",
        "--captions",
        str(out / "captions.json"),
        "--images",
        str(out / "images"),
        "--strict",
        "--workers",
        "1",
    )
    assert code == 0 and capsys.readouterr().out.rstrip().endswith("OK")


def test_prepare_turns_a_flickr30k_token_set_into_the_training_layout(tmp_path, capsys):
    fixture = write_token_fixture(tmp_path / "src")
    out = tmp_path / "flickr16"
    code = run_data(
        "prepare",
        "--format",
        "flickr30k-token",
        "--captions",
        str(fixture.captions_file),
        "--images",
        str(fixture.images_dir),
        "--out",
        str(out),
        "--size",
        "16",
        "--workers",
        "1",
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert "wrote 3 16x16 images and 4 captions" in printed and "skipped 3 unreadable images" in printed
    data = json.loads((out / "captions.json").read_text())
    assert [a["caption"] for a in data["annotations"]] == [
        "a dog runs",
        "a brown dog on grass",
        "a cat sleeps",
        "another cat",
    ]
    with Image.open(out / "images" / data["images"][0]["file_name"]) as image:
        assert image.size == (16, 16)


def test_qa_prints_the_report_writes_json_and_fails_strict_runs_on_problems(tmp_path, capsys):
    fixture = write_coco_fixture(tmp_path)
    source = ["--format", "coco", "--captions", str(fixture.captions_file), "--images", str(fixture.images_dir)]
    assert run_data("qa", *source, "--json", str(tmp_path / "qa.json"), "--workers", "1") == 0
    printed = capsys.readouterr().out
    assert "orphan captions: 2" in printed and "cat.png = cat_copy.png" in printed
    report = json.loads((tmp_path / "qa.json").read_text())
    assert report["n_problems"] == 8 and report["unreadable_images"][1]["file_name"] == "broken.jpg"

    assert run_data("qa", *source, "--strict", "--workers", "1") == 1


def test_qa_rejects_an_unknown_format(tmp_path):
    with pytest.raises(SystemExit):
        run_data("qa", "--format", "laion", "--captions", "x", "--images", str(tmp_path))
