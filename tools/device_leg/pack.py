"""On the GPU machine: the trained UNet back as two fp32 halves (the tool returns files of at most 16 MiB),
with its config and curve; the last checkpoint's EMA weights if the run stopped before its final save.

    python3 tools/device_leg/pack.py FINAL_DIR OUT_DIR RUN_DIR
"""

from __future__ import annotations

import json
import os
import shutil
import sys

from safetensors.torch import load_file, save_file


def main(final: str, out: str, run_dir: str) -> None:
    weights = os.path.join(final, "unet", "diffusion_pytorch_model.safetensors")
    if not os.path.isfile(weights):
        weights = os.path.join(run_dir, "checkpoint", "ema.safetensors")
        print("no final model; packing", weights)
    state = load_file(weights)
    keys = sorted(state)
    for i, part in enumerate((keys[: len(keys) // 2], keys[len(keys) // 2 :])):
        tensors = {k: state[k].contiguous() for k in part}
        save_file(tensors, os.path.join(out, f"unet-{i}.safetensors"), metadata={"format": "pt"})
    for name in ("training.json", "unet/config.json"):
        if os.path.isfile(os.path.join(final, name)):
            shutil.copy(os.path.join(final, name), os.path.join(out, name.replace("/", "_")))
    state_file = os.path.join(run_dir, "checkpoint", "state.json")
    if os.path.isfile(state_file):
        with open(state_file) as f:
            info = json.load(f)
        with open(os.path.join(out, "checkpoint_state.json"), "w") as f:
            json.dump({k: info.get(k) for k in ("step", "curve", "loss_curve")}, f)
    print(sorted(os.listdir(out)))


if __name__ == "__main__":
    main(*sys.argv[1:4])
