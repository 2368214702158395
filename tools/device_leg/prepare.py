"""Pack what a training leg on a lent GPU machine needs into .devcarry/ (ignored, carried by the device tool).

That machine has PyTorch and transformers but not diffusers or the MiniLM package, and a call carries at most
64 MiB in all. So this writes: the diffusers wheel; MiniLM with its encoder layers in fp16 and only the
word-embedding rows that Shapes captions use (1.4k of 30.5k; states agree to 0.3% of their range, finer than
the bf16 the CPU run's caption cache stores); the shipped UNet in fp16 (the start of a continued run).

    .venv/bin/python tools/device_leg/prepare.py
"""

from __future__ import annotations

import ast
import glob
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoTokenizer

from ml_engine.data.captions import caption_text, training_requirement
from ml_engine.data.scene import sample_scene
from ml_engine.evaluation.prompts import prompt_set
from ml_engine.text.encoder import bundled_encoder_path

CARRY = ".devcarry"
UNET = "ml_engine/weights/diffusion/unet/diffusion_pytorch_model.safetensors"


def caption_vocabulary(tokenizer) -> list[int]:
    """Word-piece ids of every string in ml_engine's code and of many sampled training and evaluation captions."""
    texts: set[str] = set()
    for path in glob.glob("ml_engine/**/*.py", recursive=True):
        with open(path) as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) < 200:
                texts.add(node.value)
    rng = np.random.default_rng(123)
    with open("configs/diffusion-v4.json") as f:
        weights = json.load(f)["category_weights"]
    for _ in range(60_000):
        scene = sample_scene(rng)
        for paraphrase in (0.0, 1.0):
            texts.add(caption_text(training_requirement(scene, rng, weights), rng, paraphrase))
            texts.add(caption_text(training_requirement(scene, rng, None), rng, paraphrase))
    for seed in range(5):
        for paraphrase in (False, True):
            texts.update(p.text for p in prompt_set(25, seed=seed, paraphrase=paraphrase))
    ids = set(tokenizer.all_special_ids)
    for text in texts:
        ids.update(tokenizer(text)["input_ids"])
    return sorted(ids)


def main() -> None:
    os.makedirs(os.path.join(CARRY, "minilm"), exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
            CARRY,
            "diffusers==0.42.1",
        ],
        check=True,
    )
    source = str(bundled_encoder_path())
    ids = caption_vocabulary(AutoTokenizer.from_pretrained(source))
    packed = {}
    for key, value in load_file(os.path.join(source, "model.safetensors")).items():
        if key.endswith("word_embeddings.weight"):
            packed["__word_ids"] = torch.tensor(ids, dtype=torch.int64)
            packed["__word_rows"] = value[ids].contiguous()
            packed["__word_shape"] = torch.tensor(list(value.shape))
            packed["__word_key"] = torch.tensor(list(key.encode()), dtype=torch.uint8)
        else:
            packed[key] = value.half().contiguous() if value.dtype == torch.float32 else value.contiguous()
    save_file(packed, os.path.join(CARRY, "minilm", "model.safetensors"))
    for path in glob.glob(os.path.join(source, "*.json")) + [os.path.join(source, "vocab.txt")]:
        shutil.copy(path, os.path.join(CARRY, "minilm"))
    save_file(
        {k: v.half().contiguous() for k, v in load_file(UNET).items()}, os.path.join(CARRY, "unet-fp16.safetensors")
    )
    print(f"{CARRY}: {len(ids)} word pieces kept")


if __name__ == "__main__":
    main()
