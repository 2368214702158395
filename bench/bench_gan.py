"""Benchmark the Shapes GAN on this machine (prints figures; not a test).

- median latency of one 64x64 image (one generator pass + decode, text encoding included);
- images/s in batches (the issue's target: >= 100 images/s on this CPU), fp32 throughout and with the
  decoder under bf16 autocast (the pipeline's `bf16_decode`, as shipped);
- images/s against the number of candidates ranked by the discriminator per image (the shipped
  `candidates` is the default of every call above);
- where the time goes in a batch: text encoder, generator, decoder.

    .venv/bin/python bench/bench_gan.py [--model gan] [--threads 2] [--batches 64,256] [--candidates 1,2,4,8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

PROMPTS = ["a red circle to the left of a blue square", "three crosses", "a small green triangle"]


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="gan")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batches", default="64,256")
    parser.add_argument("--candidates", default="1,2,4,8", help="draws per image to time, at batch 64")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from ml_engine.pipelines import load_pipeline

    pipe = load_pipeline(args.model)
    generator = sum(p.numel() for p in pipe.generator.parameters())
    decoder = sum(p.numel() for p in pipe.autoencoder.parameters())
    print(
        f"model {args.model}: generator {generator / 1e6:.2f}M, autoencoder {decoder / 1e6:.2f}M, "
        f"{args.threads} threads"
    )
    shipped = pipe.bf16_decode
    print(f"as shipped, the decoder runs in {'bf16' if shipped else 'fp32'}, {pipe.candidates} candidate(s) an image")
    one = timed(lambda: pipe(PROMPTS[0], seed=0), 15)
    print(f"one image: median {one * 1000:.1f} ms")
    for batch in [int(b) for b in args.batches.split(",")]:
        prompts = (PROMPTS * batch)[:batch]
        for label, bf16_decode in (("fp32 throughout", False), ("bf16 decoder", True)):
            pipe.register_to_config(bf16_decode=bf16_decode)
            seconds = timed(lambda prompts=prompts: pipe(prompts, seed=0), 3)
            print(f"batch {batch} {label}: {batch / seconds:.0f} images/s")
        pipe.register_to_config(bf16_decode=shipped)
    prompts = (PROMPTS * 64)[:64]
    if pipe.discriminator is not None:
        for k in [int(k) for k in args.candidates.split(",")]:
            seconds = timed(lambda k=k: pipe(prompts, seed=0, candidates=k), 3)
            print(f"batch 64, {k} candidate(s) an image: {64 / seconds:.0f} images/s")
    text = timed(lambda: pipe.text(prompts), 3)
    states, mask = pipe.text(prompts)
    noise = pipe.noise(list(range(64)))
    gen = timed(lambda: pipe.generator(noise, states, mask), 3)
    latents = pipe.generator(noise, states, mask)
    dec = timed(lambda: pipe.autoencoder.decode_normalized(latents), 3)  # fp32
    print(f"batch 64 split (ms): text encoder {text * 1000:.0f}, generator {gen * 1000:.0f}, decoder {dec * 1000:.0f}")


if __name__ == "__main__":
    with torch.no_grad():
        main()
