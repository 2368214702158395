"""Benchmark the studio's job path against a bare pipeline call (prints figures; not a test).

- submission -> first progress event, with an idle worker that has already loaded the model;
- submission -> completed event (one job, end to end: queue, worker, steps, PNG, database, events);
- the bare `pipe(...)` call for the same prompt, steps and seed, in this process, in the same run.

It runs the embedded stack in a temporary folder (SQLite, filesystem broker, SQLite channel layer,
a real `celery worker --pool=solo` subprocess); with DATABASE_URL and REDIS_URL set it uses those instead.

    .venv/bin/python bench/bench_studio.py [--model PATH_OR_NAME] [--steps 20] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _prepare_environment(args) -> str:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ["DJANGO_SETTINGS_MODULE"] = "t2i_site.settings.local"
    os.environ["T2I_VAR_DIR"] = tempfile.mkdtemp(prefix="t2i-bench-")
    os.environ["T2I_GPU_QUEUE"] = f"bench-{os.getpid()}"
    model = args.model
    if model is None:
        from ml_engine.pipelines.loader import bundled_models

        if "diffusion" in bundled_models():
            model = "diffusion"
        else:
            from ml_engine.pipelines.tiny import save_tiny_pipeline

            model = save_tiny_pipeline(str(Path(os.environ["T2I_VAR_DIR"]) / "tiny"))
            print("no bundled model yet: using a tiny random pipeline")
    os.environ["T2I_MODEL_PATHS"] = f"bench={model}"
    os.environ["T2I_DEFAULT_MODEL"] = "bench"
    return model


def _start_worker() -> subprocess.Popen:
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "t2i_site",
            "worker",
            "--pool=solo",
            "-Q",
            os.environ["T2I_GPU_QUEUE"],
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    for line in worker.stdout:  # worker_ready fires after the model is loaded (generation.tasks)
        if " ready." in line:
            break
    else:
        raise RuntimeError("the worker exited before it was ready")
    return worker


async def _one_job(user, steps: int, seed: int) -> tuple[float, float]:
    from asgiref.sync import sync_to_async
    from channels.layers import get_channel_layer

    from generation.events import user_group
    from generation.services import generation_job_submit

    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(user_group(user.pk), channel)
    started = time.perf_counter()
    job = await sync_to_async(generation_job_submit)(
        user=user, text="a red circle above a blue square", steps=steps, seed=seed
    )
    first_progress = None
    while True:
        event = (await layer.receive(channel))["event"]
        if event.get("job") != job.pk:
            continue
        if event["type"] == "progress" and first_progress is None:
            first_progress = time.perf_counter() - started
        if event["type"] in ("completed", "failed", "cancelled"):
            if event["type"] != "completed":
                raise RuntimeError(f"job {job.pk} {event['type']}: {event.get('error')}")
            await layer.group_discard(user_group(user.pk), channel)
            return first_progress, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="bundled name or folder (default: diffusion, else tiny)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    model = _prepare_environment(args)

    import django

    django.setup()
    import torch
    from django.core.management import call_command

    from accounts.services import user_create
    from modelops.runtime import pipeline_load
    from modelops.services import model_version_register

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    call_command("migrate", verbosity=0)
    model_version_register(version_name="bench", source="bench", make_current=True)
    user = user_create(username=f"bench{os.getpid()}", password="bench-password-1")
    worker = _start_worker()
    try:
        results = []
        for run in range(args.runs):
            time.sleep(0.5)  # an idle worker, waiting on the broker
            results.append(asyncio.run(_one_job(user, args.steps, seed=run)))
    finally:
        worker.terminate()
        worker.wait(30)

    pipe = pipeline_load("bench")
    bare = []
    for run in range(args.runs):
        started = time.perf_counter()
        pipe("a red circle above a blue square", num_inference_steps=args.steps, seed=run)
        bare.append(time.perf_counter() - started)

    first = statistics.median(r[0] for r in results)
    whole = statistics.median(r[1] for r in results)
    bare_s = statistics.median(bare)
    broker = "redis" if os.environ.get("REDIS_URL") else "filesystem broker + SQLite channel layer"
    print(
        f"model {model}, {args.steps} steps, 1 image, {args.runs} runs (median), {broker}, "
        f"{torch.get_num_threads()} torch thread(s)"
    )
    print(f"  submission -> first progress event   {first * 1000:8.0f} ms")
    print(f"  submission -> completed (end to end) {whole * 1000:8.0f} ms")
    print(f"  bare pipeline call                   {bare_s * 1000:8.0f} ms")
    print(f"  studio overhead per job              {(whole - bare_s) * 1000:8.0f} ms ({whole / bare_s:.2f}x)")


if __name__ == "__main__":
    main()
