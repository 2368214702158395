"""Deployment files: docker-compose.yml against the compose specification's JSON schema (vendored, with its
licence, by check-jsonschema), the services and GPU reservation the studio relies on, and the CI workflow
against SchemaStore's GitHub workflow schema."""

import json
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _vendored_schema(name: str) -> dict:
    folder = resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads((folder / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_file_validates_against_the_compose_specification(compose):
    validator = jsonschema.Draft7Validator(_vendored_schema("compose-spec"))
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.path))
    assert errors == [], [f"{list(e.path)}: {e.message}" for e in errors]


def test_a_broken_compose_file_is_caught_by_the_same_check(compose):
    broken = {**compose, "services": {**compose["services"], "web": {**compose["services"]["web"], "ports": "8000"}}}
    assert list(jsonschema.Draft7Validator(_vendored_schema("compose-spec")).iter_errors(broken))


def test_compose_runs_every_service_the_studio_needs(compose):
    services = compose["services"]
    assert {"web", "worker", "postgres", "redis", "mlflow", "minio"} <= set(services)
    assert "daphne" in services["web"]["command"] and "bootstrap_models" in services["web"]["command"]
    assert "-Q gpu" in services["worker"]["command"]
    (device,) = services["worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
    mlflow = services["mlflow"]["command"]
    assert "--backend-store-uri postgresql" in mlflow and "--artifacts-destination s3://" in mlflow
    for name in ("web", "worker"):
        env = services[name]["environment"]
        assert env["MLFLOW_TRACKING_URI"].endswith("http://mlflow:5000}") and "T2I_S3_BUCKET" in env


def test_ci_workflow_validates_and_runs_make_test_with_postgres_and_redis():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    workflow["on"] = workflow.pop(True)  # YAML 1.1 reads the key `on` as a boolean; GitHub reads it as "on"
    validator = jsonschema.Draft7Validator(_vendored_schema("github-workflows"))
    assert [e.message for e in validator.iter_errors(workflow)] == []
    test = workflow["jobs"]["test"]
    assert {"postgres", "redis"} <= set(test["services"])
    assert any(step.get("run") == "make test" for step in test["steps"])
    assert "docker compose build" in workflow["jobs"]["images"]["steps"][-1]["run"]
