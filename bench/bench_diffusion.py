"""Benchmark the Shapes diffusion model on this machine (prints figures; not a test).

- training throughput (images/s) of the shipped UNet config, batch 128, bf16 autocast where it pays (precision.py);
- median latency of one 64x64 image with guidance at the given step counts (batch of one), and with the DAAM
  attention maps that the studio asks for with every image;
- the UNet call traced (pipelines/traced_unet.py, the default) or eager (`--eager`);
- `--interleaved A,B,...`: several models (a name or folder; NAME:eager for its eager UNet) timed in turn in one
  process, round after round, so that a CPU whose speed drifts (it does here, by up to 2x within a session) treats
  them alike: the way to compare settings on this machine;
- images/s when generating in batches;
- with a critic: both again for each number of ranked candidates (the model's own by default), ranked on the
  finished latents or pruned along the way (`--pruning 8@1,2@3,1@5`; the model's own by default).

    .venv/bin/python bench/bench_diffusion.py [--model diffusion] [--steps 20,10] [--candidates 1,4] [--pruning S]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402


def train_throughput(pipe, batch: int = 128, steps: int = 6) -> float:
    import torch.nn.functional as F

    from ml_engine.precision import autocast
    from ml_engine.schedulers import training_scheduler

    unet = pipe.unet
    unet.train()
    scheduler = training_scheduler(1000, "squaredcos_cap_v2", "v_prediction")
    optimizer = torch.optim.AdamW(unet.parameters(), lr=1e-6)
    states, mask = pipe.text(["a red circle to the left of a blue square"] * batch)
    latents = torch.randn(batch, unet.config.in_channels, 8, 8)
    timings = []
    for _ in range(steps):
        start = time.perf_counter()
        t = torch.randint(0, 1000, (batch,))
        noise = torch.randn_like(latents)
        with autocast("cpu", True):  # as training runs it
            pred = unet(scheduler.add_noise(latents, noise, t), t, encoder_hidden_states=states,
                        encoder_attention_mask=mask).sample  # fmt: skip
        loss = F.mse_loss(pred.float(), scheduler.get_velocity(latents, noise, t))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        timings.append(time.perf_counter() - start)
    unet.eval()
    return batch / statistics.median(timings[1:])


def latency(
    pipe, steps: int, guidance: float, candidates: int, pruning: tuple, attention: bool = False, repeats: int = 9
) -> float:
    times = []
    for i in range(repeats + 1):  # the first call is a warm-up (it traces the UNet for this layout)
        start = time.perf_counter()
        pipe("a red circle to the left of a blue square", seed=i, num_inference_steps=steps, guidance_scale=guidance,
             candidates=candidates, pruning=pruning, return_attention=attention)  # fmt: skip
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def batch_rate(pipe, steps: int, guidance: float, batch: int, candidates: int, pruning: tuple) -> float:
    prompts = ["a red circle to the left of a blue square", "three crosses", "a small green triangle"] * batch
    options = {"num_inference_steps": steps, "guidance_scale": guidance, "candidates": candidates,
               "pruning": pruning}  # fmt: skip
    pipe(prompts[:batch], seed=0, **options)  # warm-up
    start = time.perf_counter()
    pipe(prompts[:batch], seed=1, **options)
    return batch / (time.perf_counter() - start)


def interleaved(specs: list[str], rounds: int, attention: bool) -> None:
    """Median and quartiles of one image's latency (each model's shipped defaults), the models timed in turn."""
    from ml_engine.pipelines import load_pipeline

    pipes = {}
    for spec in specs:
        name, _, mode = spec.partition(":")
        pipes[spec] = load_pipeline(name)
        pipes[spec].trace_unet = mode != "eager"
    prompt = "a red circle to the left of a blue square"
    times: dict[str, list[float]] = {spec: [] for spec in specs}
    for i in range(rounds + 1):  # round 0 warms up (and traces)
        for spec, pipe in pipes.items():
            start = time.perf_counter()
            pipe(prompt, seed=i, return_attention=attention)
            if i:
                times[spec].append(time.perf_counter() - start)
    what = "with attention maps" if attention else "without attention maps"
    for spec, pipe in pipes.items():
        q1, median, q3 = (1000 * q for q in statistics.quantiles(times[spec], n=4))
        print(f"{spec}: {pipe.default_steps} steps, {pipe.sampler_name}, {what}: median {median:.0f} ms "
              f"(quartiles {q1:.0f}-{q3:.0f}, {rounds} rounds)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="diffusion")
    parser.add_argument("--steps", default="20,10")
    parser.add_argument("--guidance", type=float, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batches", default="16,64")
    parser.add_argument("--candidates", default="", help="ranked candidates per image to time (default: the model's)")
    parser.add_argument("--pruning", help="keep@step stages, e.g. 8@1,2@3,1@5 (default: the model's)")
    parser.add_argument("--eager", action="store_true", help="run the UNet eagerly, not traced")
    parser.add_argument("--interleaved", help="models to time in turn (NAME or NAME:eager, comma-separated)")
    parser.add_argument("--rounds", type=int, default=20, help="rounds of --interleaved")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.interleaved:
        for attention in (False, True):
            interleaved(args.interleaved.split(","), args.rounds, attention)
        return

    from ml_engine.pipelines import load_pipeline

    pipe = load_pipeline(args.model)
    pipe.trace_unet = not args.eager
    guidance = pipe.default_guidance if args.guidance is None else args.guidance
    params = sum(p.numel() for p in pipe.unet.parameters()) / 1e6
    print(f"model {args.model}: UNet {params:.2f}M params, guidance {guidance}, {torch.get_num_threads()} threads")
    print(f"as shipped: {pipe.default_steps} steps, {pipe.sampler_name}; UNet {'eager' if args.eager else 'traced'}")
    ks = [int(k) for k in args.candidates.split(",")] if args.candidates else [pipe.candidates]
    from ml_engine.pipelines.pruning import format_pruning, parse_pruning, rows_steps

    pruning = pipe.pruning if args.pruning is None else parse_pruning(args.pruning)
    for steps in [int(s) for s in args.steps.split(",")]:
        for k in ks:
            ms = latency(pipe, steps, guidance, k, pruning) * 1000
            work = rows_steps(k, pruning, steps) * (2 if guidance > 1 else 1)  # guidance doubles a row
            when = f", pruned {format_pruning(pruning)}" if k > 1 and pruning else ""
            when += f" ({work} UNet rows x steps)"
            print(f"latency, 1 image, {steps} steps with guidance, {k} candidate(s){when}: median {ms:.0f} ms")
            ms = latency(pipe, steps, guidance, k, pruning, attention=True) * 1000
            print(f"  with its attention maps (as the studio asks): median {ms:.0f} ms")
            for batch in [int(b) for b in args.batches.split(",")]:
                print(f"  batch {batch}: {batch_rate(pipe, steps, guidance, batch, k, pruning):.1f} images/s")
    print(f"training throughput (bf16, batch 128): {train_throughput(pipe):.0f} images/s")


if __name__ == "__main__":
    main()
