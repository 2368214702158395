"""Shared test setup: one CPU thread, a tiny random model behind the name "diffusion", named users, clients.

Alice owns things, Bob is another signed-in user, Stella is staff; anonymous is an unauthenticated client.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import pytest  # noqa: E402

# the registry fixtures (champion, challenger_factory) serve modelops' tests and the system tests alike
pytest_plugins = ["modelops.tests.fixtures"]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A tiny random pipeline saved once per run; settings point the model name "diffusion" at it."""
    import torch

    torch.set_num_threads(1)
    from django.conf import settings

    from ml_engine.pipelines.tiny import save_tiny_pipeline

    folder = tmp_path_factory.mktemp("models") / "tiny"
    save_tiny_pipeline(str(folder))
    settings.T2I_MODEL_PATHS = {"diffusion": str(folder)}
    return folder


@pytest.fixture(scope="session")
def tiny_sd_dir(tmp_path_factory):
    """A tiny random Stable Diffusion folder (StableDiffusionPipeline, CLIP, safetensors), saved once per run: a
    user's own model folder in miniature. Copy it before writing into it."""
    from ml_engine.pipelines.tiny import save_tiny_stable_diffusion

    return save_tiny_stable_diffusion(tmp_path_factory.mktemp("models") / "tiny-sd")


@pytest.fixture(autouse=True)
def mlflow_store(tmp_path, settings):
    """Every test gets its own MLflow tracking store and model registry (SQLite, artifacts beside it), and its
    own cache of fetched registry copies (a test that tampers with one must not leak it to the next)."""
    uri = f"sqlite:///{tmp_path}/mlflow/mlflow.db"
    settings.MLFLOW_TRACKING_URI = uri
    settings.T2I_REGISTRY_CACHE = tmp_path / "registry-cache"
    return uri


@pytest.fixture(autouse=True)
def fresh_throttles():
    """Throttle counters live in the cache: each test starts with none spent."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def model_version(db, tiny_model_dir):
    from modelops.tests.factories import ModelVersionFactory

    return ModelVersionFactory()


@pytest.fixture
def alice(db):
    from accounts.tests.factories import UserFactory

    return UserFactory(username="alice")


@pytest.fixture
def bob(db):
    from accounts.tests.factories import UserFactory

    return UserFactory(username="bob")


@pytest.fixture
def staff(db):
    from accounts.models import User
    from accounts.tests.factories import UserFactory

    return UserFactory(username="stella", role=User.Role.ADMIN)


@pytest.fixture
def client_as(db):
    """client_as(user) -> a signed-in Django test client; client_as(None) -> anonymous."""
    from django.test import Client

    def make(user):
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    return make


@pytest.fixture
def api_as(db):
    """api_as(user) -> an APIClient sending `Authorization: Token <key>`; api_as(None) -> anonymous."""
    from rest_framework.test import APIClient

    from accounts.services import api_key_create

    def make(user):
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Token {api_key_create(user=user, name='test')[1]}")
        return client

    return make


@pytest.fixture(scope="session")
def celery_worker_session(django_db_setup, tiny_model_dir):
    """A real Celery worker (solo pool, in a thread of this process) consuming this run's queue on Redis."""
    from celery.contrib.testing.worker import start_worker
    from django.conf import settings

    from t2i_site.celery import app

    with start_worker(
        app,
        pool="solo",
        concurrency=1,
        perform_ping_check=False,
        queues=[settings.T2I_GPU_QUEUE],
        loglevel="WARNING",
        shutdown_timeout=30,
    ) as worker:
        yield worker


@pytest.fixture
def worker(transactional_db, celery_worker_session, model_version):
    """Tests that use the worker commit their rows (transactional_db): the worker thread must see them. Before the
    tables are flushed, the test's undelivered messages are dropped and the job in hand ends: a worker still
    inside a job's transaction would block the flush, and rows left behind would be queued in the next test."""
    yield celery_worker_session
    _worker_quiesce()


def _worker_quiesce(timeout: float = 30.0) -> None:
    import time

    import redis
    from celery.worker import state
    from django.conf import settings

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        client.delete(settings.T2I_GPU_QUEUE)
    finally:
        client.close()
    deadline = time.monotonic() + timeout
    while state.active_requests and time.monotonic() < deadline:
        time.sleep(0.05)


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.05):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


@pytest.fixture
def wait():
    return wait_for


class HeldEnqueue:
    def __init__(self):
        self.job_ids: list[int] = []

    def release(self):
        from generation.tasks import generation_job_run

        for job_id in self.job_ids:
            generation_job_run.delay(job_id)
        self.job_ids.clear()


@pytest.fixture
def held_enqueue(monkeypatch):
    """Jobs submitted in the test are not sent to the worker until `held_enqueue.release()`."""
    from generation.tasks import generation_job_run

    held = HeldEnqueue()
    monkeypatch.setattr(generation_job_run, "delay_on_commit", lambda job_id: held.job_ids.append(job_id))
    return held


def _reset_after_fork():
    """A forked child inherits thread pools whose threads it does not have (earlier async tests made them):
    give it fresh ones, and fresh channel layers, or its first database_sync_to_async call waits forever."""
    import weakref
    from concurrent.futures import ThreadPoolExecutor

    from asgiref.sync import SyncToAsync
    from channels.layers import channel_layers

    SyncToAsync.single_thread_executor = ThreadPoolExecutor(max_workers=1)
    SyncToAsync.context_to_thread_executor = weakref.WeakKeyDictionary()
    channel_layers.backends = {}


@pytest.fixture
def live_studio(transactional_db, worker):
    """daphne (HTTP + WebSockets) in a forked process on a free port, beside this process's Celery worker."""
    from channels.routing import get_default_application
    from daphne.testing import DaphneProcess
    from django.db import connections

    connections.close_all()  # the child must open its own connections, not share ours
    server = DaphneProcess("127.0.0.1", get_default_application, setup=_reset_after_fork)
    server.start()
    if not server.ready.wait(timeout=30):
        server.terminate()
        raise RuntimeError("daphne did not start")
    yield f"http://127.0.0.1:{server.port.value}"
    server.terminate()
    server.join(10)


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def browser_page():
    """Headless Debian Chromium driven by Playwright; no network beyond localhost."""
    import shutil

    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium` (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-sync",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(30_000)
        yield page
        browser.close()
