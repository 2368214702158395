"""The server mode on one machine for the fault suite: private PostgreSQL, Redis (AOF) and S3 (moto behind a proxy),
two generation workers (`celery worker -Q gpu --pool=solo`, as compose runs them) that are started again after
they die (compose's restart policy), and the scheduler (`celery worker -B` on the control queue: the reconciler).

This process configures Django against the same services (call `Cluster.start()` before importing models), submits
jobs through the generation service, and reads the rows to aim its faults and audit the outcome.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.chaos.servers import S3, Postgres, Redis
from tests.servers import ROOT

# a killed worker's job comes back within seconds; a few seconds of outage stays well within the retries
RECOVERY = {
    "T2I_JOB_LEASE_S": "4",
    "T2I_RECONCILE_INTERVAL_S": "1",
    "T2I_RECONCILE_QUEUED_AFTER_S": "3",
    "T2I_TRANSIENT_RETRY_S": "60",
}


class Worker:
    def __init__(self, name: str, command: list[str], env: dict[str, str], logs: Path):
        self.name, self.command, self.env = name, command, env
        self.log = open(logs / f"{name}.log", "ab")  # noqa: SIM115 (closed in Cluster.stop)
        self.process: subprocess.Popen | None = None
        self.restarts = 0

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process and self.process.poll() is None else None


class Cluster:
    def __init__(self, root: Path, tiny_model_dir: Path, workers: int = 2):
        self.root = root
        self.logs = root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.postgres = Postgres()
        self.redis = Redis(root / "redis")
        self.s3 = S3()
        self.env = {
            **{key: value for key, value in os.environ.items() if not key.startswith(("T2I_", "DJANGO_"))},
            "DJANGO_SETTINGS_MODULE": "t2i_site.settings.production",
            "DJANGO_SECRET_KEY": "chaos-suite-only",
            "DATABASE_URL": self.postgres.url,
            "REDIS_URL": self.redis.url,
            "T2I_S3_BUCKET": "studio-media",
            "T2I_S3_ENDPOINT_URL": self.s3.url,
            "AWS_ACCESS_KEY_ID": "chaos",
            "AWS_SECRET_ACCESS_KEY": "chaos",
            "AWS_DEFAULT_REGION": "us-east-1",
            "T2I_VAR_DIR": str(root / "var"),
            "T2I_MODEL_PATHS": f"diffusion={tiny_model_dir}",
            "T2I_BOOTSTRAP_BUNDLED": "false",
            "MLFLOW_TRACKING_URI": f"sqlite:///{root}/mlflow.db",
            "OMP_NUM_THREADS": "1",
            **RECOVERY,
        }
        celery = [sys.executable, "-m", "celery", "-A", "t2i_site", "worker", "--pool=solo", "--concurrency=1"]
        quiet = ["--without-gossip", "--without-mingle", "--loglevel=WARNING"]
        self.workers = [
            Worker(f"worker{i}", [*celery, "-Q", "gpu", "-n", f"worker{i}@chaos", *quiet], self.env, self.logs)
            for i in range(1, workers + 1)
        ]
        schedule = str(root / "celerybeat-schedule")
        self.scheduler = Worker(
            "scheduler", [*celery, "-B", "-s", schedule, "-Q", "studio-control", "-n", "scheduler@chaos", *quiet],
            self.env, self.logs,
        )  # fmt: skip
        self._supervising = threading.Event()

    def start(self) -> None:
        os.environ.update(self.env)
        import django

        django.setup()
        import boto3
        from django.core.management import call_command

        boto3.client("s3", endpoint_url=self.s3.direct_url).create_bucket(Bucket="studio-media")
        call_command("migrate", interactive=False, verbosity=0)
        from accounts.models import User
        from modelops.models import ModelVersion

        ModelVersion.objects.get_or_create(
            version_name="diffusion",
            defaults={"source": "diffusion", "supported_sizes": [[64, 64]], "default_steps": 8, "is_current": True}
            | {"sampler_name": "DPM++ 2M"},
        )
        self.user, _ = User.objects.get_or_create(username="chaos")
        for worker in [*self.workers, self.scheduler]:
            worker.start()
        self._supervising.set()
        threading.Thread(target=self._supervise, daemon=True).start()

    def _supervise(self) -> None:
        """compose's `restart: unless-stopped`: a worker that died is started again half a second later."""
        while self._supervising.is_set():
            for worker in [*self.workers, self.scheduler]:
                if worker.process.poll() is not None and self._supervising.is_set():
                    time.sleep(0.5)
                    worker.restarts += 1
                    worker.start()
            time.sleep(0.1)

    def worker_for_pid(self, pid: int) -> Worker | None:
        return next((worker for worker in self.workers if worker.pid == pid), None)

    def kill(self, worker: Worker) -> None:
        worker.process.send_signal(signal.SIGKILL)
        worker.process.wait()  # gone before the next target is chosen

    def stop(self) -> None:
        self._supervising.clear()
        for worker in [*self.workers, self.scheduler]:
            if worker.process and worker.process.poll() is None:
                worker.process.send_signal(signal.SIGTERM)
        for worker in [*self.workers, self.scheduler]:
            if worker.process:
                try:
                    worker.process.wait(15)
                except subprocess.TimeoutExpired:
                    worker.process.kill()
                    worker.process.wait()
            worker.log.close()
        from django.db import connections

        connections.close_all()
        self.s3.stop()
        self.redis.stop()
        self.postgres.stop()
