"""The server-mode scenarios of the fault suite, run one after the other on one cluster (tests.chaos.cluster).

Each gives (scenario name, the audit of its jobs, its faults, the progress watch, its orphan files count): see
tests.chaos.run.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

from tests.chaos.audit import FINISHED, FaultLog, JobAudit, ProgressWatch, audit_jobs, orphan_files
from tests.chaos.cluster import Cluster

SETTLE_S = 180  # how long the jobs of a scenario get to end after its last fault before they count as stuck


class Harness:
    def __init__(self, cluster: Cluster, rng: random.Random):
        self.cluster, self.rng = cluster, rng
        self.wanted: dict[int, int] = {}
        self.watch = ProgressWatch(self.rows)
        self.watch.start()

    def db(self, query):
        """Run a read, waiting out a database restart."""
        from django.db import InterfaceError, OperationalError, connections

        while True:
            try:
                return query()
            except (OperationalError, InterfaceError):
                connections.close_all()
                time.sleep(0.2)

    def submit(self, n: int, *, steps: tuple[int, int] = (20, 60), images: tuple[int, int] = (1, 3)) -> list[int]:
        from generation.services import generation_job_submit

        ids = []
        for _ in range(n):
            num_images = self.rng.randint(*images)
            job = generation_job_submit(
                user=self.cluster.user,
                text=self.rng.choice(["a red circle", "two blue squares", "a green triangle left of a circle"]),
                steps=self.rng.randint(*steps),
                num_images=num_images,
                seed=self.rng.randrange(1_000_000),
                model="diffusion",
            )
            self.wanted[job.pk] = num_images
            ids.append(job.pk)
        self.watch.ids = list(self.wanted)
        return ids

    def rows(self, ids: list[int]) -> dict[int, dict]:
        from generation.models import GenerationJob

        fields = ("id", "status", "step", "total_steps", "attempts", "error", "lease_owner", "enqueued_at")
        return self.db(lambda: {row["id"]: row for row in GenerationJob.objects.filter(pk__in=ids).values(*fields)})

    def unfinished(self, ids: list[int]) -> list[int]:
        return [job_id for job_id, row in self.rows(ids).items() if row["status"] not in FINISHED]

    def settle(self, ids: list[int], timeout: float = SETTLE_S) -> None:
        deadline = time.monotonic() + timeout
        while self.unfinished(ids) and time.monotonic() < deadline:
            time.sleep(0.25)

    def running(self, ids: list[int], min_step: int = 1) -> list[dict]:
        return [row for row in self.rows(ids).values() if row["status"] == "running" and row["step"] >= min_step]

    def wait_running(self, ids: list[int], min_step: int = 5, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not self.running(ids, min_step) and time.monotonic() < deadline:
            time.sleep(0.05)

    def audit(self, ids: list[int]) -> tuple[list[JobAudit], int]:
        import boto3
        from django.conf import settings

        from generation.models import GeneratedImage

        rows = self.rows(ids)
        images: dict[int, list[tuple[int, str, str]]] = {job_id: [] for job_id in ids}
        found = GeneratedImage.objects.filter(job_id__in=ids).values_list("job_id", "index", "file", "attention_maps")
        for job_id, index, name, maps in self.db(lambda: list(found)):
            images[job_id].append((index, name, maps))
        s3 = boto3.client("s3", endpoint_url=self.cluster.s3.direct_url)
        stored = set()
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.S3_BUCKET, Prefix="images/"):
            stored |= {item["Key"] for item in page.get("Contents", [])}
        prefixes = tuple(f"job{job_id}-" for job_id in ids)
        stored = {key for key in stored if key.rpartition("/")[2].startswith(prefixes)}
        audits = audit_jobs(rows=rows, wanted={i: self.wanted[i] for i in ids}, images=images, stored=stored)
        return audits, len(orphan_files(images=images, stored=stored))


def worker_kills(harness: Harness, kills: int, deadline_s: float = 1200) -> tuple[list[int], FaultLog]:
    """SIGKILL a worker `kills` times at random points of random jobs: each attempt that starts is, by a coin
    toss, left alone or killed at a random step (now and then after its last step, while it saves). So about
    one job in eight is killed on all three of its attempts and fails, and the rest succeed."""
    cluster, rng, faults = harness.cluster, harness.rng, FaultLog()
    ids: list[int] = []
    decided: set[tuple[int, str]] = set()  # attempts (job, lease owner) already spared or chosen
    deadline = time.monotonic() + deadline_s
    while len(faults.events) < kills and time.monotonic() < deadline:
        if len(harness.unfinished(ids)) < 6:
            ids += harness.submit(4)
        fresh = [
            row
            for row in harness.running(ids, 0)
            if row["lease_owner"]
            and (row["id"], row["lease_owner"]) not in decided
            and cluster.worker_for_pid(int(row["lease_owner"].split(":")[1]))
        ]
        if not fresh:
            time.sleep(0.02)
            continue
        target = rng.choice(fresh)
        decided.add((target["id"], target["lease_owner"]))
        if rng.random() < 0.5:
            continue  # this attempt is spared
        at = rng.uniform(0.0, 1.0) * target["total_steps"]
        row = target
        while time.monotonic() < deadline:
            row = harness.rows([target["id"]])[target["id"]]
            if row["status"] != "running" or row["lease_owner"] != target["lease_owner"] or row["step"] >= at:
                break
            time.sleep(0.01)
        if row["status"] != "running" or row["lease_owner"] != target["lease_owner"]:
            continue  # it ended before the chosen point
        time.sleep(rng.uniform(0.0, 0.03))
        worker = cluster.worker_for_pid(int(target["lease_owner"].split(":")[1]))
        if worker is None:
            continue
        cluster.kill(worker)
        # the jobs sharing its pipeline call were running under the same worker: the kill hit them too
        process = target["lease_owner"].rsplit(":", 1)[0]  # host:pid
        held = [row["id"] for row in harness.running(ids, 0) if row["lease_owner"].rsplit(":", 1)[0] == process]
        faults.add("worker SIGKILL", jobs=sorted(set(held) | {target["id"]}))
    harness.settle(ids)
    return ids, faults


def redis_restart(harness: Harness, *, lose_data: bool) -> tuple[list[int], FaultLog]:
    faults = FaultLog()
    ids = harness.submit(10, steps=(30, 40), images=(1, 2))
    time.sleep(1.5)  # the AOF is written every second
    hit = harness.unfinished(ids)
    harness.cluster.redis.restart(lose_data=lose_data)
    faults.add("Redis SIGKILL + restart", jobs=hit)
    harness.settle(ids)
    return ids, faults


def postgres_restart(harness: Harness) -> tuple[list[int], FaultLog]:
    faults = FaultLog()
    ids = harness.submit(6, steps=(60, 80), images=(2, 3))
    harness.wait_running(ids, min_step=5)
    hit = harness.unfinished(ids)
    harness.cluster.postgres.restart()
    faults.add("PostgreSQL restart", jobs=hit)
    harness.settle(ids)
    return ids, faults


def s3_outage(harness: Harness, seconds: float = 5.0) -> tuple[list[int], FaultLog]:
    faults = FaultLog()
    ids = harness.submit(6, steps=(20, 30), images=(2, 3))
    harness.wait_running(ids, min_step=10)
    hit = harness.unfinished(ids)
    harness.cluster.s3.proxy.down()
    time.sleep(seconds)
    harness.cluster.s3.proxy.up()
    faults.add("S3 unreachable", jobs=hit)
    harness.settle(ids)
    return ids, faults


def _wait_workers_ready(harness: Harness, timeout: float = 120) -> None:
    """Until a first job has run: both workers and the scheduler are up."""
    ids = harness.submit(2, steps=(2, 2), images=(1, 1))
    harness.settle(ids, timeout)
    harness.wanted = {key: value for key, value in harness.wanted.items() if key not in ids}


def server_scenarios(root: Path, tiny_model_dir: Path, kills: int, seed: int):
    cluster = Cluster(root, tiny_model_dir)
    cluster.start()
    harness = Harness(cluster, random.Random(seed))
    results = []
    try:
        _wait_workers_ready(harness)
        scenarios = [
            (f"server: {kills} worker SIGKILLs", lambda: worker_kills(harness, kills)),
            ("server: Redis restart, from its AOF", lambda: redis_restart(harness, lose_data=False)),
            ("server: Redis restart, data lost", lambda: redis_restart(harness, lose_data=True)),
            ("server: PostgreSQL restart mid-job", lambda: postgres_restart(harness)),
            ("server: S3 down 5 s while saving", lambda: s3_outage(harness)),
        ]
        for name, scenario in scenarios:
            print(f"{name} ...", flush=True)
            ids, faults = scenario()
            audits, orphans = harness.audit(ids)
            results.append((name, audits, faults, harness.watch, orphans))
    finally:
        restarts = {worker.name: worker.restarts for worker in [*cluster.workers, cluster.scheduler]}
        print(f"worker restarts: {restarts}", flush=True)
        harness.watch.stopping.set()
        cluster.stop()
    return results
