"""`make run`: migrate, register models, ensure the demo account, then serve daphne beside a Celery worker.

Both children share this terminal's process group, so Ctrl-C reaches them; this command then waits
for both, and stops the other if either dies. In the embedded mode (no REDIS_URL) the worker takes
jobs from the filesystem broker under var/broker and sends progress through the SQLite channel
layer (var/channels.sqlite3) that daphne's consumers read: two processes, no server.
"""

import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from accounts.services import user_ensure_demo


class Command(BaseCommand):
    help = "Run the whole studio (web + generation worker) on one machine."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-worker", action="store_true", help="web only: workers run elsewhere")

    def handle(self, *args, host: str, port: int, no_worker: bool, **options):
        call_command("migrate", interactive=False, verbosity=0)
        call_command("bootstrap_models", demo_fallback=True)
        user, _ = user_ensure_demo(username=settings.T2I_DEMO_USER, password=settings.T2I_DEMO_PASSWORD)
        commands = [[sys.executable, "-m", "daphne", "-b", host, "-p", str(port), "t2i_site.asgi:application"]]
        if not no_worker:
            commands.append(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "t2i_site",
                    "worker",
                    "--pool=solo",
                    "--concurrency=1",
                    "-Q",
                    settings.T2I_GPU_QUEUE,
                    "--loglevel=INFO",
                    "--without-gossip",
                    "--without-mingle",
                ]
            )
        children = [subprocess.Popen(command) for command in commands]
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
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.3)
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        self.stdout.write("stopped")
