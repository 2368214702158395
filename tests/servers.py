"""Real servers for the system tests: free loopback ports and an S3-compatible server (moto's standalone server
in a subprocess, as production would use any real S3)."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def embedded_studio_start(*, port: int, tmp: Path, model_dir) -> tuple[subprocess.Popen, dict]:
    """`make run`'s studio (runstudio: SQLite, files under tmp/var, the tiny model behind "diffusion", MLflow in
    tmp/mlflow) in its own process group, and the environment it runs with for manage.py calls beside it."""
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="t2i_site.settings.local",
        T2I_VAR_DIR=str(tmp / "var"),
        T2I_PREVIEW_EVERY_S="0",
        T2I_MODEL_PATHS=f"diffusion={model_dir}",
        MLFLOW_TRACKING_URI=f"sqlite:///{tmp}/mlflow/mlflow.db",  # bootstrap registers the champion here
        OMP_NUM_THREADS="1",
    )
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runstudio", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own group, like a shell job
    )
    return process, env


def wait_until_answers(url: str, process: subprocess.Popen, *, timeout: float = 30.0) -> None:
    """Poll `url` until it answers at all (any HTTP status); fail early if the server process has exited."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError(f"{url} did not answer within {timeout:.0f} s") from None
            time.sleep(0.2)


def s3_server_start() -> tuple[subprocess.Popen, str]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until_answers(url, server)
    return server, url
