"""Which precision a model runs in on this machine, float32 or bfloat16: chosen by timing it here.

Why measure: whether bfloat16 pays depends on the chip, not on its instruction-set family. Where the CPU has
avx512_bf16 or AMX, or on a CUDA GPU, a bf16 matmul is native and these models ran 1.4-2x faster under autocast.
On an AVX-512 Xeon without them PyTorch emulates bf16: a 256x512 @ 512x512 matmul took 2.26 ms against 0.48 ms in
float32, and the diffusion model ran twice as slow as in float32. On AVX2 a critic training step took 52 s against
6 s. So nothing is assumed from the CPU's name or flags:

- a pipeline with a bfloat16 path (the Shapes model's candidate steps, the GAN's decoder) times its own call in
  both precisions, interleaved, and keeps the faster (`choose_precision`); the figures are cached per machine and
  model architecture (`T2I_PRECISION_CACHE`, default ~/.cache/t2i/precision.json), so a worker measures once;
- training loops ask `bf16_pays`, a matmul of the models' size timed once per process (a few milliseconds);
- `precision="float32"` or `"bfloat16"` (the CLI's `--precision`, a worker's `T2I_PRECISION`) skips the timing.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

log = logging.getLogger(__name__)

AUTO, FLOAT32, BFLOAT16 = "auto", "float32", "bfloat16"
PRECISIONS = (AUTO, FLOAT32, BFLOAT16)


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    return precision


def _median_ms(run: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def timed_pair(float32: Callable[[], object], bfloat16: Callable[[], object], rounds: int = 3) -> tuple[float, float]:
    """Median milliseconds of each call, after one warm-up each, the rounds interleaved so that a machine that
    speeds up or slows down meanwhile favours neither."""
    float32(), bfloat16()
    f32, b16 = [], []
    for _ in range(rounds):
        f32.append(_median_ms(float32, 1))
        b16.append(_median_ms(bfloat16, 1))
    return statistics.median(f32), statistics.median(b16)


@functools.cache
def bf16_pays(device: str | torch.device) -> bool:
    """Whether a bf16 matmul of these models' size beats float32 on `device`: timed once per process."""
    device = str(device)
    if device.startswith("cuda"):
        return True
    a, b = torch.randn(256, 512), torch.randn(512, 512)
    a16, b16 = a.bfloat16(), b.bfloat16()

    def matmuls(x, y):
        return lambda: [x @ y for _ in range(20)]

    f32_ms, bf16_ms = timed_pair(matmuls(a, b), matmuls(a16, b16), rounds=5)
    return bf16_ms < 0.9 * f32_ms


def bf16_autocast(device: str | torch.device, enabled: bool):
    """bfloat16 autocast on `device` when `enabled`, as the caller decided."""
    device_type = "cuda" if str(device).startswith("cuda") else "cpu"
    return torch.autocast(device_type=device_type, dtype=torch.bfloat16, enabled=enabled)


def autocast(device: str | torch.device, enabled: bool):
    """bf16 autocast for a training step when the config asks for it and the device runs bf16 fast."""
    return bf16_autocast(device, enabled and bf16_pays(device))


@dataclass(frozen=True)
class PrecisionChoice:
    precision: str  # float32 or bfloat16
    how: str  # measured, cached, requested, or "no bfloat16 path"
    float32_ms: float | None = None
    bfloat16_ms: float | None = None

    def describe(self) -> str:
        if self.float32_ms is None:
            return f"{self.precision} ({self.how})"
        return (
            f"{self.precision} ({self.how}: one image {self.float32_ms:.0f} ms in float32, "
            f"{self.bfloat16_ms:.0f} ms in bfloat16)"
        )

    def as_dict(self) -> dict:
        return asdict(self)


def _cache_path() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "t2i" / "precision.json"
    return Path(os.environ.get("T2I_PRECISION_CACHE", default))


@functools.cache
def machine_key(device: str) -> str:
    """What the timings depend on: the chip (its model and flags), the threads, torch, the device."""
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            lines = [line for line in f if line.startswith(("model name", "flags", "Features"))]
        cpu = "".join(dict.fromkeys(lines))  # every core's lines are the same: keep one of each
    except OSError:
        cpu = platform.processor()
    if device.startswith("cuda") and torch.cuda.is_available():
        cpu += torch.cuda.get_device_name(torch.device(device))
    parts = (platform.machine(), cpu, torch.__version__, str(torch.get_num_threads()), device)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _read_cache(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _write_cache(path: Path, key: str, choice: PrecisionChoice) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        entries = _read_cache(path)
        entries[key] = choice.as_dict()
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(entries, indent=1, sort_keys=True))
        temporary.replace(path)
    except OSError as error:  # a read-only home: measure again next time
        log.warning("could not cache the precision choice in %s: %s", path, error)


def choose_precision(
    probe: Callable[[str], object] | None, *, requested: str = AUTO, model_key: str = "", device: str = "cpu"
) -> PrecisionChoice:
    """The precision to run in: `requested` unless it is auto; else the faster of `probe(FLOAT32)` and
    `probe(BFLOAT16)` (one representative call each) on this machine, timed once and cached. No probe: the model
    has no bfloat16 path, so float32."""
    check_precision(requested)
    if requested != AUTO:
        return PrecisionChoice(requested, "requested")
    if probe is None:
        return PrecisionChoice(FLOAT32, "no bfloat16 path")
    key, path = f"{machine_key(str(device))}:{model_key}", _cache_path()
    cached = _read_cache(path).get(key)
    if cached:
        return PrecisionChoice(**{**cached, "how": "cached"})
    f32_ms, bf16_ms = timed_pair(lambda: probe(FLOAT32), lambda: probe(BFLOAT16))
    choice = PrecisionChoice(BFLOAT16 if bf16_ms < f32_ms else FLOAT32, "measured", round(f32_ms, 1), round(bf16_ms, 1))
    _write_cache(path, key, choice)
    log.info("precision for %s on this machine: %s", model_key, choice.describe())
    return choice


def architecture_key(folder: str | os.PathLike) -> str:
    """A model folder's architecture and settings (its configs, not its weights): what its timing depends on."""
    folder = Path(folder)
    digest = hashlib.sha256()
    for config in sorted(folder.glob("*.json")) + sorted(folder.glob("*/config.json")):
        digest.update(config.relative_to(folder).as_posix().encode())
        digest.update(config.read_bytes())
    return digest.hexdigest()[:16]
