"""Deployment files: docker-compose.yml and its override files against the compose specification's JSON schema
(vendored, with its licence, by check-jsonschema), the services, health checks and secrets the studio relies on,
and the CI workflow against SchemaStore's GitHub workflow schema. tests/test_docker_stack.py runs the stack."""

import json
import re
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILES = ["docker-compose.yml", "deploy/docker-compose.debian.yml", "deploy/docker-compose.gpu.yml"]


def _vendored_schema(name: str) -> dict:
    folder = resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads((folder / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_compose_files_validate_against_the_compose_specification(name):
    validator = jsonschema.Draft7Validator(_vendored_schema("compose-spec"))
    errors = sorted(validator.iter_errors(yaml.safe_load((ROOT / name).read_text())), key=lambda e: list(e.path))
    assert errors == [], [f"{list(e.path)}: {e.message}" for e in errors]


def test_a_broken_compose_file_is_caught_by_the_same_check(compose):
    broken = {**compose, "services": {**compose["services"], "web": {**compose["services"]["web"], "ports": "8000"}}}
    assert list(jsonschema.Draft7Validator(_vendored_schema("compose-spec")).iter_errors(broken))


def test_compose_runs_every_service_the_studio_needs(compose):
    services = compose["services"]
    assert {"web", "worker", "postgres", "redis", "mlflow", "s3", "buckets"} <= set(services)
    assert "daphne" in services["web"]["command"] and "bootstrap_models" in services["web"]["command"]
    assert "-Q gpu" in services["worker"]["command"]
    assert "--appendonly yes" in services["redis"]["command"]
    mlflow = services["mlflow"]
    assert "--artifacts-destination s3://" in mlflow["command"]
    assert mlflow["environment"]["MLFLOW_BACKEND_STORE_URI"].startswith("postgresql+psycopg://")
    for name in ("web", "worker"):
        env = services[name]["environment"]
        assert env["MLFLOW_TRACKING_URI"].endswith("http://mlflow:5000}") and "T2I_S3_BUCKET" in env
        assert {"MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"} <= set(env)


def test_every_long_running_service_has_a_health_check_that_its_dependents_wait_for(compose):
    services = compose["services"]
    for name, service in services.items():
        if name != "buckets":  # a one-shot job: its dependents wait for it to complete
            assert "healthcheck" in service, name
        for dependency, condition in service.get("depends_on", {}).items():
            expected = "service_completed_successfully" if dependency == "buckets" else "service_healthy"
            assert condition == {"condition": expected}, (name, dependency)


def test_mlflow_is_behind_basic_auth_and_only_the_web_publishes_a_port(compose):
    assert "sh deploy/mlflow-server.sh" in compose["services"]["mlflow"]["command"]
    assert "--app-name basic-auth" in (ROOT / "deploy" / "mlflow-server.sh").read_text()
    published = {name: service["ports"] for name, service in compose["services"].items() if "ports" in service}
    assert published == {"web": ["${WEB_PORT:-8000}:8000"]}


def test_no_secret_has_a_default_and_env_example_names_every_required_variable():
    text = (ROOT / "docker-compose.yml").read_text()
    defaulted = re.findall(r"\$\{(\w*(?:PASSWORD|SECRET|_KEY)\w*):?-", text)
    assert defaulted == [], f"secrets with a default in docker-compose.yml: {defaulted}"
    required = set(re.findall(r"\$\{(\w+):\?", text))
    assert {"DJANGO_SECRET_KEY", "POSTGRES_PASSWORD", "S3_ACCESS_KEY", "S3_SECRET_KEY"} <= required
    example = {line.partition("=")[0] for line in (ROOT / ".env.example").read_text().splitlines() if "=" in line}
    assert required <= example, f"missing from .env.example: {required - example}"


def test_the_gpu_override_builds_a_cuda_worker_with_a_gpu_reserved():
    worker = yaml.safe_load((ROOT / "deploy" / "docker-compose.gpu.yml").read_text())["services"]["worker"]
    assert "cu" in worker["build"]["args"]["TORCH_INDEX_URL"] and worker["environment"]["T2I_DEVICE"] == "cuda"
    (device,) = worker["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]


def test_the_debian_override_builds_every_image_it_runs_on_the_host_network(compose):
    override = yaml.safe_load((ROOT / "deploy" / "docker-compose.debian.yml").read_text())["services"]
    assert set(override) == set(compose["services"])
    for name, service in override.items():
        assert service["build"]["network"] == "host", name
    assert "moto.server" in override["s3"]["command"]


def test_ci_workflow_validates_and_runs_make_test_with_postgres_and_redis():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    workflow["on"] = workflow.pop(True)  # YAML 1.1 reads the key `on` as a boolean; GitHub reads it as "on"
    validator = jsonschema.Draft7Validator(_vendored_schema("github-workflows"))
    assert [e.message for e in validator.iter_errors(workflow)] == []
    test = workflow["jobs"]["test"]
    assert {"postgres", "redis"} <= set(test["services"])
    assert any(step.get("run") == "make test" for step in test["steps"])
    assert "docker compose" in workflow["jobs"]["images"]["steps"][-1]["run"]
