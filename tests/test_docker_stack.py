"""The Docker stack for real: `make compose-up` builds the images and starts web, worker, PostgreSQL, Redis, the S3
server and MLflow; a user made in the web container submits a job over the API, the worker container renders it
with the champion it fetched from the MLflow container's registry, the PNG comes back through the web and its
object lies in the S3 bucket; `make compose-down` then takes the stack down.

It runs where asked, T2I_DOCKER_TESTS=1 (.ci/run sets it once a Docker daemon answers), as its own compose
project on a free port, so a stack started by hand beside it is left alone:
    T2I_DOCKER_TESTS=1 .venv/bin/python -m pytest -m docker tests/test_docker_stack.py
"""

import json
import os
import shutil
import subprocess
import time
import urllib.request

import pytest

from tests.servers import ROOT, free_port

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(3000)]

PROJECT = "t2i-smoke"
# what reaches compose from this process: the stack's settings come from its env file, never from a test
# environment's DATABASE_URL or REDIS_URL
PASSED_ON = ("PATH", "HOME", "TORCH_WHEEL", "DOCKER_IMAGES", "DEBIAN_BASE_IMAGE", "PIP_CERT", "UP_TIMEOUT_S")


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=60).returncode == 0


class Stack:
    def __init__(self, env: dict, url: str):
        self.env, self.url = env, url

    def compose(self, *args: str, timeout: float = 120) -> str:
        done = subprocess.run(
            [str(ROOT / "deploy" / "compose.sh"), *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        assert done.returncode == 0, f"compose {args[:2]}: {done.stdout[-3000:]}{done.stderr[-3000:]}"
        return done.stdout

    def python(self, service: str, code: str) -> str:
        """Run Python in a running container of the stack; its last stdout line ("" when it printed none)."""
        lines = self.compose("exec", service, "python", "-c", code).strip().splitlines()
        return lines[-1] if lines else ""

    def api(self, method: str, path: str, *, token: str | None = None, body: dict | None = None):
        request = urllib.request.Request(
            self.url + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": "application/json", **({"Authorization": f"Token {token}"} if token else {})},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = response.read()
            return json.loads(payload) if response.headers.get_content_type() == "application/json" else payload


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    if os.environ.get("T2I_DOCKER_TESTS") != "1":
        pytest.skip("the Docker stack test runs with T2I_DOCKER_TESTS=1 (.ci/run sets it where dockerd starts)")
    if not _docker_answers():
        pytest.skip("no Docker daemon answers (`docker info` fails)")
    port = free_port()
    env = {key: os.environ[key] for key in PASSED_ON if key in os.environ}
    env |= {
        "COMPOSE_PROJECT_NAME": PROJECT,
        "COMPOSE_ENV_FILE": str(tmp_path_factory.mktemp("stack") / ".env"),  # written with fresh random secrets
        "WEB_PORT": str(port),
    }
    stack = Stack(env, f"http://127.0.0.1:{port}")
    started = time.monotonic()
    up = subprocess.run(["make", "-s", "compose-up"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=2400)
    timings = "\n".join(line for line in up.stderr.splitlines() if line.startswith(("compose:", "t2i-")))
    print(f"make compose-up: {time.monotonic() - started:.0f} s\n{timings}")
    try:
        assert up.returncode == 0, f"make compose-up failed:\n{up.stdout[-4000:]}\n{up.stderr[-4000:]}"
        yield stack
    finally:
        down = subprocess.run(["make", "-s", "compose-down"], cwd=ROOT, env=env, capture_output=True, text=True)
        assert down.returncode == 0, down.stderr[-3000:]


def test_a_job_submitted_to_the_stack_comes_back_as_a_png_from_s3_rendered_with_the_registry_champion(stack):
    stack.python(
        "web",
        "import django; django.setup(); from accounts.services import user_create; "
        "user_create(username='alice', password='alice-in-docker-7', email='alice@example.com')",
    )
    token = stack.api("POST", "/api/auth/token/", body={"username": "alice", "password": "alice-in-docker-7"})["token"]

    # the registry's versions, mirrored into the studio by the web container's bootstrap
    models = stack.api("GET", "/api/models/")
    (champion,) = [m for m in models if "champion" in m["aliases"]]
    assert champion["is_current"] and champion["registry_version"] >= 1

    job = stack.api("POST", "/api/jobs/", token=token, body={"prompt": "a red circle", "seed": 7})
    deadline = time.monotonic() + 600
    while job["status"] not in ("succeeded", "failed", "cancelled"):
        assert time.monotonic() < deadline, f"job still {job['status']} after 600 s"
        time.sleep(2)
        job = stack.api("GET", f"/api/jobs/{job['id']}/", token=token)
    assert job["status"] == "succeeded", job["error"]
    assert job["model"] == champion["version_name"]

    (image,) = job["images"]
    png = stack.api("GET", f"/api/images/{image['id']}/file/", token=token)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 200

    # the web container stored it in the S3 server's bucket, not on a disk of its own
    key = stack.python(
        "web",
        "import django; django.setup(); from generation.models import GeneratedImage; "
        f"print(GeneratedImage.objects.get(pk={image['id']}).file.name)",
    )
    keys = stack.python(
        "web",
        "import os, boto3; s3 = boto3.client('s3', endpoint_url=os.environ['T2I_S3_ENDPOINT_URL']); "
        "print([o['Key'] for o in s3.list_objects_v2(Bucket=os.environ['T2I_S3_BUCKET'])['Contents']])",
    )
    assert key in keys

    # the worker, which shares no volume with the web, holds the champion's hash-checked copy from MLflow
    registered = stack.python(
        "worker",
        "import django; django.setup(); from modelops.runtime import registry_client; "
        "v = registry_client().alias_version('champion'); print(f'{v.version}-{v.sha256[:16]}')",
    )
    assert registered.startswith(f"{champion['registry_version']}-")
    cached = stack.python("worker", "import os; print(os.listdir('/data/registry-cache/shapes-diffusion'))")
    assert registered in cached
