"""`make run`: migrate, register models, ensure the demo account, then serve daphne beside a Celery worker.

This command supervises both: a child that dies is started again after 1 s (doubling to 30 s while it keeps
dying within 15 s of its start, as a worker that cannot start does), so a killed worker never takes the web
down. The jobs a dead worker held are requeued at once, and a reconciler thread (generation.reconciler, every
T2I_RECONCILE_INTERVAL_S) catches every other lost job. Both children share this terminal's process group, so
Ctrl-C reaches them; this command then stops restarting, waits for both and kills what is left.

In the embedded mode (no REDIS_URL) the worker takes jobs from the filesystem broker under var/broker and sends
progress through the SQLite channel layer (var/channels.sqlite3) that daphne's consumers read: two processes,
no server.
"""

import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connections

from accounts.services import user_ensure_demo
from generation.leases import job_leases_expire_for_process
from generation.reconciler import generation_jobs_reconcile

logger = logging.getLogger(__name__)
FIRST_BACKOFF_S, MAX_BACKOFF_S, STABLE_AFTER_S = 1.0, 30.0, 15.0


class _Child:
    """One supervised process: started again with backoff whenever it exits while the studio runs."""

    def __init__(self, name: str, command: list[str], env: dict | None = None):
        self.name, self.command, self.env = name, command, env
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0
        self.backoff = FIRST_BACKOFF_S
        self.restart_at: float | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, env=self.env)
        self.started_at, self.restart_at = time.monotonic(), None

    def exited(self) -> int | None:
        """The pid of a process that has just exited (once), else None."""
        if self.process is None or self.restart_at is not None or self.process.poll() is None:
            return None
        if time.monotonic() - self.started_at > STABLE_AFTER_S:
            self.backoff = FIRST_BACKOFF_S
        self.restart_at = time.monotonic() + self.backoff
        self.backoff = min(self.backoff * 2, MAX_BACKOFF_S)
        return self.process.pid


class _Reconciler(threading.Thread):
    """Runs the reconciler every interval, and at once when a worker died (after ending its leases)."""

    def __init__(self):
        super().__init__(name="reconciler", daemon=True)
        self.dead_pids: queue.Queue[int] = queue.Queue()
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                pid = self.dead_pids.get(timeout=settings.T2I_RECONCILE_INTERVAL_S)
            except queue.Empty:
                pid = None
            try:
                if pid is not None:
                    job_leases_expire_for_process(pid=pid)
                generation_jobs_reconcile()
            except Exception:  # the database may be busy or away: the next pass tries again
                logger.warning("reconciling jobs failed", exc_info=True)
            finally:
                connections.close_all()


def _workers(python: str, count: int) -> list[_Child]:
    """`count` solo-pool workers, the machine's cores shared out between them (OMP_NUM_THREADS, unless set)."""
    worker = [python, "-m", "celery", "-A", "t2i_site", "worker", "--pool=solo", "--concurrency=1"]
    worker += ["-Q", settings.T2I_GPU_QUEUE, "--loglevel=INFO", "--without-gossip", "--without-mingle"]
    threads = os.environ.get("OMP_NUM_THREADS") or str(max(1, (os.cpu_count() or 1) // count))
    env = {**os.environ, "OMP_NUM_THREADS": threads}
    names = ["worker"] if count == 1 else [f"worker-{i + 1}" for i in range(count)]
    return [_Child(name, worker + ["-n", f"{name}@%h"], env) for name in names]


class Command(BaseCommand):
    help = "Run the whole studio (web + generation worker) on one machine."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-worker", action="store_true", help="web only: workers run elsewhere")
        parser.add_argument(
            "--workers", type=int, default=settings.T2I_WORKERS, help="generation worker processes (T2I_WORKERS)"
        )
        parser.add_argument("--debug", action="store_true", help="Django's debug pages (for developers only)")

    def handle(self, *args, host: str, port: int, no_worker: bool, workers: int = 1, debug: bool = False, **options):
        if debug:  # the children read it; a studio for people shows plain error pages
            os.environ["DJANGO_DEBUG"] = "true"
        call_command("migrate", interactive=False, verbosity=0)
        call_command("bootstrap_models", demo_fallback=True)
        user, _ = user_ensure_demo(username=settings.T2I_DEMO_USER, password=settings.T2I_DEMO_PASSWORD)
        connections.close_all()  # the reconciler thread opens its own
        python = sys.executable
        children = [_Child("web", [python, "-m", "daphne", "-b", host, "-p", str(port), "t2i_site.asgi:application"])]
        if not no_worker:
            children += _workers(python, max(1, workers))
        for child in children:
            child.start()
        reconciler = _Reconciler()
        reconciler.start()
        self.stdout.write(
            self.style.SUCCESS(
                f"\n  Shapes Studio: http://{host}:{port}/\n"
                f"  demo account: {user.username} / {settings.T2I_DEMO_PASSWORD}\n"
                f"  API docs:     http://{host}:{port}/api/docs/\n  Ctrl-C stops everything.\n"
            )
        )
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        while not stopping:
            for child in children:
                pid = child.exited()
                if pid is not None:
                    delay = child.restart_at - time.monotonic()
                    self.stderr.write(
                        f"{child.name} (pid {pid}) exited ({child.process.returncode}); restart in {delay:.0f} s"
                    )
                    if child.name.startswith("worker"):
                        reconciler.dead_pids.put(pid)
                elif child.restart_at is not None and time.monotonic() >= child.restart_at and not stopping:
                    child.start()
            time.sleep(0.2)
        reconciler.stopping.set()
        running = [child.process for child in children if child.process is not None and child.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        reconciler.join(timeout=5)
        self.stdout.write("stopped")
