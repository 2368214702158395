"""Whether bfloat16 autocast pays on a device.

On a CUDA GPU and on a CPU with AVX-512 it does (1.4-2x for these models on AMD EPYC CPUs with AVX-512).
On a CPU with only AVX2 it costs: PyTorch emulates bfloat16 there, and a LatentCritic training step took 52 s under
autocast against 6 s in float32. So a config's `bf16: true` means "where it pays".
"""

from __future__ import annotations

import torch


def bf16_pays(device: str | torch.device) -> bool:
    if str(device).startswith("cuda"):
        return True
    capability = torch.backends.cpu.get_cpu_capability()  # "AVX2", "AVX512", "AMX"... on x86
    return "AVX512" in capability or "AMX" in capability


def autocast(device: str | torch.device, enabled: bool):
    """bf16 autocast when the caller asks for it and the device runs it fast."""
    device_type = "cuda" if str(device).startswith("cuda") else "cpu"
    return torch.autocast(device_type=device_type, dtype=torch.bfloat16, enabled=enabled and bf16_pays(device))
