"""`make bench`: the studio's speed in one table, every figure from one run on this machine (prints; not a test).

For each bundled model:
- precision: its hot path timed in float32 and bfloat16 (what `--precision auto` chooses, and why), and the
  marginal time an image of `generate`'s batched call over 17 images in float32, bfloat16 and auto;
- one image: the warm bare pipeline call (with attention maps, as the worker makes it) against one job end to end
  through the real embedded studio (`manage.py runstudio`: daphne, the Celery worker, the filesystem broker and
  the SQLite channel layer): POST /api/jobs/ -> the `completed` event on the user's WebSocket;
- throughput: 1, 8 and 32 jobs submitted at once by two users, until the last `completed` event.

    .venv/bin/python bench/bench_studio.py [--models diffusion,gan] [--runs 5] [--workers 1] [--concurrency 1,8,32]

Bare calls and jobs alternate, one at a time, so both meet the same machine state; the bare call runs with the
worker's thread count. Timings are comparable only within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PROMPT = "a red circle above a blue square"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _environment(workers: int) -> dict:
    var = tempfile.mkdtemp(prefix="t2i-bench-")
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    env = {
        "DJANGO_SETTINGS_MODULE": "t2i_site.settings.local",
        "T2I_VAR_DIR": var,
        "OMP_NUM_THREADS": threads,
        "HF_HUB_OFFLINE": "1",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLFLOW_TRACKING_URI": f"sqlite:///{var}/mlflow.db",
        "T2I_QUOTA_ACTIVE_JOBS": "1000",
        "T2I_QUOTA_IMAGES_PER_DAY": "100000",
        "T2I_API_RATE_USER": "100000/m",
    }
    for name in ("REDIS_URL", "DATABASE_URL"):
        os.environ.pop(name, None)  # the embedded mode
    os.environ.update(env)
    return env


class Studio:
    """`manage.py runstudio` on a free port, up once every worker has loaded its model."""

    def __init__(self, workers: int):
        self.port = _free_port()
        self.workers = workers
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "runstudio", "--port", str(self.port), "--workers", str(workers)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        ready = 0
        for line in self.process.stdout:  # worker_ready fires after the model is loaded (generation.tasks)
            ready += " ready." in line
            if ready == workers:
                break
        else:
            raise RuntimeError("the studio exited before its workers were ready")
        import threading

        # keep reading its output, so that the pipe never fills and blocks the studio
        def drain():
            for line in self.process.stdout:
                if os.environ.get("BENCH_TRACE") and ("share their calls" in line or "a call of" in line):
                    print("  worker:", line.strip()[-60:], flush=True)

        threading.Thread(target=drain, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        import signal

        os.killpg(self.process.pid, signal.SIGINT)
        self.process.wait(60)


class Client:
    """One user of the studio: an API key for submissions, a session cookie for the WebSocket."""

    def __init__(self, studio: Studio, username: str):
        from django.test import Client as DjangoClient

        from accounts.models import User
        from accounts.services import api_key_create, user_create

        user = User.objects.filter(username=username).first() or user_create(
            username=username, password="bench-pw-1", email=f"{username}@example.com"
        )
        _, self.token = api_key_create(user=user, name="bench")
        django_client = DjangoClient()
        django_client.force_login(user)
        self.cookie = f"sessionid={django_client.cookies['sessionid'].value}"
        self.studio = studio

    async def open(self, session) -> None:
        self.socket = await session.ws_connect(
            f"ws://127.0.0.1:{self.studio.port}/ws/jobs/",
            headers={"Cookie": self.cookie, "Origin": self.studio.base},
        )
        self.done: dict[int, float] = {}
        self.arrived = asyncio.Condition()  # waiters sleep until an event comes: no polling beside the studio
        self.listener = asyncio.ensure_future(self._listen())

    async def _listen(self) -> None:
        async for message in self.socket:
            event = json.loads(message.data)
            if event.get("type") in ("completed", "failed", "cancelled"):
                if event["type"] != "completed":
                    raise RuntimeError(f"job {event['job']} {event['type']}: {event.get('error')}")
                self.done.setdefault(event["job"], time.perf_counter())
                async with self.arrived:
                    self.arrived.notify_all()

    async def submit(self, session, model: str, seed: int) -> int:
        async with session.post(
            f"{self.studio.base}/api/jobs/",
            json={"prompt": PROMPT, "seed": seed, "model": model},
            headers={"Authorization": f"Bearer {self.token}"},
        ) as response:
            body = await response.json()
            if response.status != 201:
                raise RuntimeError(f"submission refused: {response.status} {body}")
            return body["id"]

    async def finished(self, job_id: int) -> float:
        async with self.arrived:
            while job_id not in self.done:
                if self.listener.done():
                    self.listener.result()
                    raise RuntimeError("the WebSocket closed")
                await asyncio.wait_for(self.arrived.wait(), 120)
        return self.done[job_id]


async def _jobs_at_once(session, clients, model: str, count: int, seed: int) -> float:
    """Seconds from the first submission to the last completed event of `count` jobs, alternating users."""
    started = time.perf_counter()
    ids = await asyncio.gather(*(clients[i % 2].submit(session, model, seed + i) for i in range(count)))
    if os.environ.get("BENCH_TRACE"):
        print(f"  {count} submissions answered in {(time.perf_counter() - started) * 1000:.0f} ms", flush=True)
    ends = [await clients[i % 2].finished(job_id) for i, job_id in enumerate(ids)]
    if os.environ.get("BENCH_TRACE") and count == 1:
        from asgiref.sync import sync_to_async

        from generation.models import GenerationJob

        job = await sync_to_async(GenerationJob.objects.get)(pk=ids[0])
        print(
            f"  queued {job.queue_seconds * 1000:.0f} ms, ran {job.run_seconds * 1000:.0f} ms, "
            f"total {(max(ends) - started) * 1000:.0f} ms",
            flush=True,
        )
    return max(ends) - started


def _bare_call(pipe, seed: int) -> float:
    started = time.perf_counter()
    pipe(PROMPT, seed=seed, return_attention=True)
    return time.perf_counter() - started


def _generate_marginal(name: str, precision: str, rounds: int) -> tuple[float, str]:
    """Marginal seconds an image of generate's batched call (17 images against 1), and the precision it ran."""
    import torch

    from ml_engine.pipelines import load_pipeline

    pipe = load_pipeline(name, precision=precision)

    def batch(n: int) -> float:
        generators = [torch.Generator("cpu").manual_seed(s) for s in range(n)]
        started = time.perf_counter()
        pipe([PROMPT] * n, generator=generators)
        return time.perf_counter() - started

    batch(17)  # warm: traces, allocations
    marginal = [(batch(17) - batch(1)) / 16 for _ in range(rounds)]
    return statistics.median(marginal), pipe.precision


async def _studio_figures(studio, model: str, pipe, clients, runs: int, concurrency: list[int]) -> dict:
    import aiohttp

    for seed in range(3):
        _bare_call(pipe, seed)
    async with aiohttp.ClientSession() as session:
        for client in clients:
            await client.open(session)
        await _jobs_at_once(session, clients, model, 1, 0)  # warm the web side
        bare, whole = [], []
        for run in range(runs):
            # both meet an idle worker, waiting on the broker (it scores a job's images just after the job)
            await asyncio.sleep(0.3)
            bare.append(_bare_call(pipe, 100 + run))
            await asyncio.sleep(0.3)
            whole.append(await _jobs_at_once(session, clients, model, 1, 100 + run))
        throughput = {}
        for count in concurrency:
            await asyncio.sleep(0.3)
            throughput[count] = await _jobs_at_once(session, clients, model, count, 1000 * count)
        for client in clients:
            await client.socket.close()
    return {
        "bare_s": statistics.median(bare),
        "job_s": statistics.median(whole),
        "ratio": statistics.median(w / b for w, b in zip(whole, bare, strict=True)),  # pair by pair
        "at_once_s": throughput,
        "precision": pipe.precision_choice.describe() if pipe.precision_choice else "float32",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="diffusion,gan")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument("--skip-precision", action="store_true", help="leave out generate's precision figures")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    models = [m for m in args.models.split(",") if m]
    concurrency = [int(c) for c in args.concurrency.split(",")]
    env = _environment(args.workers)

    import django

    django.setup()
    import torch
    from django.core.management import call_command

    torch.set_num_threads(int(env["OMP_NUM_THREADS"]))
    precision = {}
    if not args.skip_precision:
        for model in models:
            precision[model] = {p: _generate_marginal(model, p, 3) for p in ("float32", "bfloat16", "auto")}
    call_command("migrate", verbosity=0)
    studio = Studio(args.workers)
    try:
        from modelops.runtime import pipeline_load
        from modelops.selectors import model_version_get

        clients = [Client(studio, name) for name in ("bench-a", "bench-b")]
        figures = {}
        for model in models:
            # the bare call's pipeline, loaded as the worker loads it: the same precision, traced
            pipe = pipeline_load(model_version_get(version_name=model).source)
            figures[model] = asyncio.run(_studio_figures(studio, model, pipe, clients, args.runs, concurrency))
    finally:
        studio.stop()
    _print_table(models, figures, precision, args, env)
    if args.json:
        Path(args.json).write_text(json.dumps({"figures": figures, "precision": precision}, indent=1, default=str))


def _print_table(models, figures, precision, args, env) -> None:
    cores, threads = os.cpu_count(), env["OMP_NUM_THREADS"]
    print(f"\nembedded studio, {args.workers} worker(s) x {threads} thread(s), {cores} cores; median of {args.runs}")
    for model in models:
        f = figures[model]
        print(f"\n{model}: runs in {f['precision']}")
        if model in precision:
            p = precision[model]
            fastest = min(p["float32"][0], p["bfloat16"][0])
            print(
                "  generate, marginal an image over 17: "
                f"float32 {p['float32'][0] * 1000:.0f} ms, bfloat16 {p['bfloat16'][0] * 1000:.0f} ms, "
                f"auto {p['auto'][0] * 1000:.0f} ms ({p['auto'][1]}; {p['auto'][0] / fastest:.2f}x the faster)"
            )
        print(f"  one image, bare pipeline call      {f['bare_s'] * 1000:8.0f} ms")
        print(
            f"  one job, submission -> completed   {f['job_s'] * 1000:8.0f} ms   "
            f"({f['ratio']:.2f}x the bare call, median of each run's ratio)"
        )
        one = f["at_once_s"].get(1, f["job_s"])
        for count, seconds in f["at_once_s"].items():
            print(
                f"  {count:3d} jobs at once (2 users)        {seconds * 1000:8.0f} ms   "
                f"{count / seconds:6.1f} jobs/s   ({seconds / one:.2f}x one job)"
            )


if __name__ == "__main__":
    main()
