"""Fixtures of the system tests: servers that run as separate processes. The shared fixtures (users, the tiny
model, the Celery worker, the live studio, the browser) come from the repository's root conftest."""

import pytest

from tests.servers import s3_server_start


@pytest.fixture(scope="module")
def s3_server():
    server, url = s3_server_start()
    yield url
    server.terminate()
    server.wait(10)


@pytest.fixture
def s3_env(s3_server, monkeypatch):
    import boto3

    for key, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket="studio-media")
    return {"T2I_S3_BUCKET": "studio-media", "T2I_S3_ENDPOINT_URL": s3_server}
