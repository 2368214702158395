"""`python -m ml_engine data render|prepare|qa`: build the Shapes set, preprocess real data, check alignment.

- `data render --out DIR --n N --seed S [--captions-per-image K]`: the captioned Shapes set
  (ml_engine.data.shapes_dataset) in the COCO captions layout.
- `data prepare --format coco|flickr30k-karpathy|flickr30k-token --captions FILE --images DIR --out DIR
  [--size 64]`: a real set resized, centre-cropped and with normalised captions, in the same layout
  (ml_engine.data.real.preprocess).
- `data qa --format coco|flickr30k-karpathy|flickr30k-token|shapes --captions FILE --images DIR
  [--json OUT] [--strict]`: the alignment report (ml_engine.data.real.qa); `--strict` exits 1 on problems.

Run `python -m ml_engine data <command> --help` for the options.
"""

from __future__ import annotations

import argparse

PREPARE_FORMATS = ("coco", "flickr30k-karpathy", "flickr30k-token")
QA_FORMATS = (*PREPARE_FORMATS, "shapes")


def add_data_parser(subparsers) -> None:
    data = subparsers.add_parser("data", help="render the Shapes set, prepare real captioned data, check alignment")
    commands = data.add_subparsers(dest="data_command", required=True)

    render = commands.add_parser("render", help="render and caption a Shapes set (COCO captions layout)")
    render.add_argument("--out", required=True, help="new (or empty) output folder")
    render.add_argument("--n", type=int, required=True, help="number of images")
    render.add_argument("--seed", type=int, required=True, help="same seed, same set")
    render.add_argument("--captions-per-image", type=int, default=5, help="training captions an image (default 5)")
    _add_workers(render)
    render.set_defaults(func=run_render)

    prepare = commands.add_parser("prepare", help="resize, centre-crop and normalise a real captioned set")
    prepare.add_argument("--format", required=True, choices=PREPARE_FORMATS)
    _add_source(prepare)
    prepare.add_argument("--out", required=True, help="new (or empty) output folder")
    prepare.add_argument("--size", type=int, default=64, help="side of the square output images (default 64)")
    _add_workers(prepare)
    prepare.set_defaults(func=run_prepare)

    qa = commands.add_parser("qa", help="report how captions and image files line up")
    qa.add_argument("--format", required=True, choices=QA_FORMATS)
    _add_source(qa)
    qa.add_argument("--json", help="also write the full report as JSON to this file")
    qa.add_argument("--strict", action="store_true", help="exit with status 1 when the report finds problems")
    _add_workers(qa)
    qa.set_defaults(func=run_qa)


def _add_source(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--captions", required=True, help="captions file (JSON, or the Flickr30k .token text)")
    parser.add_argument("--images", required=True, help="folder of the image files")


def _add_workers(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, help="worker processes (default: the CPU count, at most 8)")


def run_render(args: argparse.Namespace) -> int:
    from ml_engine.data.shapes_dataset import write_shapes_dataset

    written = write_shapes_dataset(args.out, args.n, args.seed, args.captions_per_image, workers=args.workers)
    print(f"wrote {written.n_images} images and {written.n_captions} captions to {written.captions_file}")
    print("captions by category: " + ", ".join(f"{k} {v}" for k, v in written.captions_by_category.items()))
    print(f"canonical forms covered: {written.forms_covered}/{written.forms_total}")
    return 0


def run_prepare(args: argparse.Namespace) -> int:
    from ml_engine.data.real import load_caption_set
    from ml_engine.data.real.preprocess import prepare_caption_set

    caption_set = load_caption_set(args.format, args.captions, args.images)
    prepared = prepare_caption_set(caption_set, args.out, size=args.size, workers=args.workers)
    print(
        f"wrote {prepared.n_images} {args.size}x{args.size} images and {prepared.n_captions} captions "
        f"to {prepared.captions_file}"
    )
    print(f"dropped {prepared.dropped_captions} empty or repeated captions")
    print(f"skipped {len(prepared.skipped_images)} unreadable images")
    for path, error in prepared.skipped_images[:10]:
        print(f"  {path}: {error}")
    return 0


def run_qa(args: argparse.Namespace) -> int:
    from ml_engine.data.real import load_caption_set
    from ml_engine.data.real.qa import alignment_report

    report = alignment_report(load_caption_set(args.format, args.captions, args.images), workers=args.workers)
    print(report.to_text())
    if args.json:
        report.write_json(args.json)
        print(f"report written to {args.json}")
    return 1 if args.strict and not report.ok else 0
