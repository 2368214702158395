"""Figure: which part of a diffusion image the noise decides and which the prompt decides.

Rows are initial-noise seeds, columns are prompts that ask for different relations and counts; one draw each
(`candidates=1`). If the words set the layout, a row would change its layout from column to column; in the
shipped Shapes model (v4) each row keeps one layout, and the prompt mostly changes which shapes and colours fill
it. That is why the model ranks several candidates an image (docs/shapes-model.md, "Why candidates").

    .venv/bin/python tools/layout_from_noise.py [--model diffusion] [--out docs/figures/diffusion-layout-from-noise.png]
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PROMPTS = {  # prompt: its column heading
    "a circle to the left of a square": ("circle", "left of", "square"),
    "a circle to the right of a square": ("circle", "right of", "square"),
    "a circle above a square": ("circle", "above", "square"),
    "a square above a circle": ("square", "above", "circle"),
    "two crosses": ("two", "crosses", ""),
    "four crosses": ("four", "crosses", ""),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="diffusion")
    parser.add_argument("--seeds", default="0,1,2,3")
    parser.add_argument("--out", default="docs/figures/diffusion-layout-from-noise.png")
    args = parser.parse_args()

    import torch
    from PIL import Image, ImageDraw

    from ml_engine.pipelines import load_pipeline

    pipe = load_pipeline(args.model)
    seeds = [int(s) for s in args.seeds.split(",")]
    cell, line, top = 64, 12, 40
    sheet = Image.new("RGB", (len(PROMPTS) * cell, top + len(seeds) * cell), "white")
    draw = ImageDraw.Draw(sheet)
    for column, heading in enumerate(PROMPTS.values()):
        for index, words in enumerate(heading):
            draw.text((column * cell + 4, 2 + index * line), words, fill="black")
    for row, seed in enumerate(seeds):
        generators = [torch.Generator().manual_seed(seed) for _ in PROMPTS]
        images = pipe(list(PROMPTS), generator=generators, candidates=1).images
        for column, image in enumerate(images):
            sheet.paste(image, (column * cell, top + row * cell))
    sheet = sheet.resize((sheet.width * 2, sheet.height * 2), Image.NEAREST)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    sheet.save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
