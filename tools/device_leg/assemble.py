"""Here, after the leg: a model folder made of the shipped one with the UNet the GPU machine returned.

.venv/bin/python tools/device_leg/assemble.py RETURNED_DIR TARGET_DIR
"""

from __future__ import annotations

import glob
import os
import shutil
import sys

from safetensors.torch import load_file, save_file

SHIPPED = "ml_engine/weights/diffusion"


def main(returned: str, target: str) -> None:
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(SHIPPED, target)
    state = {}
    for path in sorted(glob.glob(os.path.join(returned, "unet-*.safetensors"))):
        state.update(load_file(path))
    unet_file = os.path.join(target, "unet", "diffusion_pytorch_model.safetensors")
    missing = set(load_file(unet_file)) ^ set(state)
    if missing:
        raise SystemExit(f"the returned UNet does not match the shipped one's tensors: {sorted(missing)[:5]}")
    save_file(state, unet_file, metadata={"format": "pt"})
    if os.path.isfile(os.path.join(returned, "training.json")):
        shutil.copy(os.path.join(returned, "training.json"), os.path.join(target, "training.json"))
    print("assembled", target)


if __name__ == "__main__":
    main(*sys.argv[1:3])
