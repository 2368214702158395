"""The embedded mode under worker kills: `manage.py runstudio` (SQLite, filesystem broker) as `make run` starts it,
jobs submitted through the API, the generation worker SIGKILLed at random points of running jobs.

The jobs' rows are read straight from the studio's SQLite file, so the audit does not depend on the web; the web
is probed separately (GET / four times a second) to show it answers throughout.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.chaos.audit import FINISHED, FaultLog, JobAudit, ProgressWatch, audit_jobs, orphan_files
from tests.servers import ROOT, free_port

# fast recovery for a test: a killed worker's jobs come back within seconds
FAST_RECOVERY = {
    "T2I_JOB_LEASE_S": "5",
    "T2I_RECONCILE_INTERVAL_S": "1",
    "T2I_RECONCILE_QUEUED_AFTER_S": "3",
}


def group_processes(pgid: int) -> dict[int, str]:
    out = subprocess.run(["ps", "-o", "pid=,args=", "-g", str(pgid)], capture_output=True, text=True).stdout
    processes = {}
    for line in out.splitlines():
        pid, _, args = line.strip().partition(" ")
        processes[int(pid)] = args
    return processes


class WebProbe(threading.Thread):
    """GET / every 0.25 s; counts the answers that were not a 200."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url = url
        self.answered = 0
        self.failures: list[str] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                status = requests.get(self.url, timeout=5).status_code
                if status == 200:
                    self.answered += 1
                else:
                    self.failures.append(f"HTTP {status}")
            except requests.RequestException as exc:
                self.failures.append(type(exc).__name__)
            self.stopping.wait(0.25)


class EmbeddedStudio:
    def __init__(self, var_dir: Path, tiny_model_dir: Path, env: dict[str, str] | None = None):
        self.var_dir = var_dir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        services = ("DATABASE_URL", "REDIS_URL", "T2I_", "DJANGO_", "AWS_", "MLFLOW_")  # no server: embedded
        environ = {key: value for key, value in os.environ.items() if not key.startswith(services)}
        environ.update(
            DJANGO_SETTINGS_MODULE="t2i_site.settings.local",
            T2I_VAR_DIR=str(var_dir),
            T2I_MODEL_PATHS=f"diffusion={tiny_model_dir}",
            MLFLOW_TRACKING_URI=f"sqlite:///{var_dir}/mlflow.db",
            OMP_NUM_THREADS="1",
            **FAST_RECOVERY,
            **(env or {}),
        )
        self.log = open(var_dir.parent / "runstudio.log", "wb")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "runstudio", "--port", str(self.port)],
            cwd=ROOT,
            env=environ,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group, like a shell job
        )
        self.headers: dict[str, str] = {}

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if requests.get(self.base + "/", timeout=2).status_code == 200 and self.worker_pid():
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("the embedded studio did not start")
            time.sleep(0.5)
        r = requests.post(self.base + "/api/auth/token/", json={"username": "demo", "password": "studio-demo"})
        self.headers = {"Authorization": f"Token {r.json()['token']}"}

    def worker_pid(self) -> int | None:
        pids = [pid for pid, args in group_processes(self.process.pid).items() if "celery" in args and "worker" in args]
        return pids[0] if pids else None

    def submit(self, **fields) -> int:
        r = requests.post(self.base + "/api/jobs/", json=fields, headers=self.headers, timeout=10)
        r.raise_for_status()
        return r.json()["id"]

    def rows(self, sql: str, *args) -> list[tuple]:
        with sqlite3.connect(self.var_dir / "studio.sqlite3", timeout=20) as db:
            return db.execute(sql, args).fetchall()

    def jobs(self, ids: list[int]) -> dict[int, dict]:
        marks = ",".join("?" * len(ids))
        columns = "id, status, step, total_steps, attempts, error, lease_owner, enqueued_at"
        rows = self.rows(f"SELECT {columns} FROM generation_generationjob WHERE id IN ({marks})", *ids)
        return {row[0]: dict(zip(columns.split(", "), row, strict=True)) for row in rows}

    def stop(self) -> int:
        """Ctrl-C as a terminal sends it; returns runstudio's exit code and leaves nothing running."""
        try:
            os.killpg(self.process.pid, signal.SIGINT)
            code = self.process.wait(timeout=40)
            time.sleep(0.5)
            leftover = group_processes(self.process.pid)
            if leftover:
                raise AssertionError(f"left running after Ctrl-C: {leftover}")
            return code
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)
            self.log.close()


def _image_rows(studio: EmbeddedStudio, job_ids: list[int]) -> dict[int, list[tuple[int, str, str]]]:
    marks = ",".join("?" * len(job_ids))
    sql = f'SELECT job_id, "index", file, attention_maps FROM generation_generatedimage WHERE job_id IN ({marks})'
    images: dict[int, list[tuple[int, str, str]]] = {job_id: [] for job_id in job_ids}
    for job_id, index, name, maps in studio.rows(sql, *job_ids):
        images[job_id].append((index, name, maps))
    return images


@dataclass
class EmbeddedRun:
    audits: list[JobAudit]
    faults: FaultLog
    watch: ProgressWatch
    orphans: set[str]
    web_answered: int
    web_failures: list[str]
    exit_code: int


def embedded_worker_kills(
    *, var_dir: Path, tiny_model_dir: Path, jobs: int = 4, kills: int = 3, seed: int = 0, timeout: float = 240
) -> EmbeddedRun:
    """Run `jobs` jobs through runstudio, SIGKILL its worker `kills` times, each time caught at a random step of a
    running job no kill has targeted yet; then Ctrl-C. Returns the audit of every job, the faults, the web's
    answers and runstudio's exit code."""
    rng = random.Random(seed)
    var_dir.mkdir(parents=True, exist_ok=True)
    # a kill can land in the one call several jobs share: one attempt per kill and one more keeps every job alive;
    # kills are placed by the step the row shows, so it is written every 20 ms rather than a few times a second
    env = {"T2I_JOB_MAX_ATTEMPTS": str(kills + 1), "T2I_PROGRESS_WRITE_S": "0.02"}
    studio = EmbeddedStudio(var_dir, tiny_model_dir, env=env)
    faults = FaultLog()
    try:
        studio.wait_ready()
        probe = WebProbe(studio.base + "/")
        probe.start()
        wanted = {}
        for i in range(jobs):
            num_images = 1 + i % 2
            job_id = studio.submit(prompt=f"a red circle {i}", steps=40, seed=100 + i, num_images=num_images)
            wanted[job_id] = num_images
        ids = list(wanted)
        watch = ProgressWatch(studio.jobs)
        watch.ids = ids
        watch.start()
        hit: set[int] = set()
        deadline = time.monotonic() + timeout
        while len(faults.events) < kills and time.monotonic() < deadline:
            # a job that no kill has hit yet, caught at a random point of its run
            at = rng.uniform(0.1, 0.8)
            target = None
            while target is None and time.monotonic() < deadline:
                for job_id, row in studio.jobs(ids).items():
                    running = row["status"] == "running" and row["total_steps"]
                    if running and job_id not in hit and row["step"] >= at * row["total_steps"]:
                        target = job_id
                if all(row["status"] in FINISHED for row in studio.jobs(ids).values()):
                    break
                time.sleep(0.02)
            pid = studio.worker_pid()
            if target is None or pid is None:
                break
            os.kill(pid, signal.SIGKILL)
            hit.add(target)
            # queued jobs with the same settings share one pipeline call, so the kill hits every job whose row the
            # dead worker left running (their leases run for seconds, so none is reset yet)
            dead = [job_id for job_id, row in studio.jobs(ids).items() if row["status"] == "running"]
            faults.add("worker SIGKILL", jobs=dead)
            while studio.worker_pid() in (None, pid) and time.monotonic() < deadline:
                time.sleep(0.1)  # until runstudio has started another worker
        while time.monotonic() < deadline:
            rows = studio.jobs(ids)
            if all(row["status"] in FINISHED for row in rows.values()):
                break
            time.sleep(0.2)
        rows = studio.jobs(ids)
        images = _image_rows(studio, ids)
        media = var_dir / "media"
        stored = {str(path.relative_to(media)) for path in media.rglob("*.png")} if media.exists() else set()
        audits = audit_jobs(rows=rows, wanted=wanted, images=images, stored=stored)
        probe.stopping.set()
        watch.stopping.set()
        probe.join(5)
        watch.join(5)
        code = studio.stop()
    finally:
        if studio.process.poll() is None:
            os.killpg(studio.process.pid, signal.SIGKILL)
    orphans = orphan_files(images=images, stored=stored)
    return EmbeddedRun(audits, faults, watch, orphans, probe.answered, probe.failures, code)
