"""The deployment's MLflow setup, for real on loopback: `mlflow server` with a PostgreSQL backend store and
registry and artifacts in S3 (moto's standalone server), as docker-compose.yml runs it. A pipeline folder is
registered through the server, aliased, and fetched back hash-verified, as the web and worker containers do."""

import os
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest

from tests.servers import free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def mlflow_database():
    import psycopg

    name = f"mlflow_test_{uuid.uuid4().hex[:8]}"
    admin = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def mlflow_server(s3_server, mlflow_database, monkeypatch, tmp_path):
    import boto3

    credentials = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
    for key, value in credentials.items():
        monkeypatch.setenv(key, value)
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket="mlflow")
    port = free_port()
    env = {**os.environ, **credentials, "MLFLOW_S3_ENDPOINT_URL": s3_server, "MLFLOW_DISABLE_TELEMETRY": "true"}
    command = [
        sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--backend-store-uri", mlflow_database, "--artifacts-destination", "s3://mlflow/", "--serve-artifacts",
    ]  # fmt: skip
    log = open(tmp_path / "mlflow-server.log", "w")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{url}/health", timeout=2)
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                os.killpg(server.pid, 9)
                raise RuntimeError((tmp_path / "mlflow-server.log").read_text()[-3000:]) from None
            time.sleep(0.5)
    yield url, s3_server
    os.killpg(server.pid, 15)
    server.wait(20)
    log.close()


def test_a_pipeline_registered_through_the_server_lands_in_s3_and_comes_back_verified(
    mlflow_server, tiny_model_dir, tmp_path
):
    import boto3

    from ml_engine.registry import Registry, folder_sha256

    url, s3_url = mlflow_server
    registry = Registry(tracking_uri=url, model_name="shapes-diffusion")
    registered = registry.register_folder(tiny_model_dir, alias="champion", experiment="deploy-test")

    assert registry.alias_version("champion").version == registered.version == 1
    keys = [o["Key"] for o in boto3.client("s3", endpoint_url=s3_url).list_objects_v2(Bucket="mlflow")["Contents"]]
    assert any(key.endswith("pipeline/unet/diffusion_pytorch_model.safetensors") for key in keys)
    folder = registry.fetch(1, cache_dir=tmp_path / "cache")  # what a worker does, through the server
    assert folder_sha256(folder) == folder_sha256(tiny_model_dir)
