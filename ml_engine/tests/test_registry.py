"""The registry and the pipeline command: a tiny run ends as a hash-verified `challenger` version with its
scores, dataset fingerprint and code commit; a tampered copy is refused; pickles are never registered."""

import json

import pytest

from ml_engine.registry import Registry, RegistryError, folder_sha256


@pytest.fixture
def registry(tmp_path):
    return Registry(tracking_uri=f"sqlite:///{tmp_path}/mlflow/mlflow.db", model_name="test-model")


def test_registered_folder_is_fetched_back_byte_identical_with_its_alias(registry, tiny_pipeline_dir, tmp_path):
    version = registry.register_folder(tiny_pipeline_dir, alias="champion", pipeline_info={"default_steps": 20})

    assert registry.alias_version("champion").version == version.version == 1
    folder = registry.fetch(1, cache_dir=tmp_path / "cache")
    assert folder_sha256(folder) == folder_sha256(tiny_pipeline_dir) == version.sha256
    assert not list(folder.rglob("*.pkl"))  # artifacts are the safetensors folder, no pickled wrapper
    assert registry.version(1).pipeline_info == {"default_steps": 20}


def test_a_tampered_cached_copy_is_refused(registry, tiny_pipeline_dir, tmp_path):
    registry.register_folder(tiny_pipeline_dir)
    folder = registry.fetch(1, cache_dir=tmp_path / "cache")
    (folder / "model_index.json").write_text((folder / "model_index.json").read_text() + " ")

    with pytest.raises(RegistryError, match="does not match"):
        registry.fetch(1, cache_dir=tmp_path / "cache")


@pytest.mark.parametrize(
    "crafted",
    [
        "../../../../../../tmp/escaped" + "0" * 40,  # climbs out of the cache folder
        "/" + "a" * 63,  # an absolute path
        "A" * 64,  # not lowercase hex
        "",
    ],
)
def test_a_crafted_sha256_tag_touches_nothing_outside_the_cache(registry, tiny_pipeline_dir, tmp_path, crafted):
    registry.register_folder(tiny_pipeline_dir)
    registry.version_tag(1, {"sha256": crafted})
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("precious")
    cache = outside / "cache"
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if "mlflow" not in p.parts)

    with pytest.raises(RegistryError, match="not a SHA-256"):
        registry.fetch(1, cache_dir=cache)
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if "mlflow" not in p.parts)
    assert after == before and (outside / "keep.txt").read_text() == "precious"  # nothing made, moved or removed


def test_a_version_whose_hash_differs_from_the_pinned_one_is_refused(registry, tiny_pipeline_dir, tmp_path):
    version = registry.register_folder(tiny_pipeline_dir)
    with pytest.raises(RegistryError, match="not the pinned"):
        registry.fetch(1, cache_dir=tmp_path / "cache", expected_sha256="0" * 64)
    assert not (tmp_path / "cache").exists()  # refused before anything was downloaded
    assert registry.fetch(1, cache_dir=tmp_path / "cache", expected_sha256=version.sha256).is_dir()


def test_a_folder_with_pickle_weights_is_not_registered(registry, tiny_pipeline_dir, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(tiny_pipeline_dir, bad)
    (bad / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"not really a pickle")
    with pytest.raises(RegistryError, match="pickle"):
        registry.register_folder(bad)


def test_moving_an_alias_leaves_one_version_holding_it(registry, tiny_pipeline_dir):
    registry.register_folder(tiny_pipeline_dir, alias="champion")
    registry.register_folder(tiny_pipeline_dir, alias="challenger")
    registry.alias_set("champion", 2)

    assert [(v.version, v.aliases) for v in registry.versions()] == [(1, []), (2, ["challenger", "champion"])]


@pytest.mark.slow
def test_pipeline_command_trains_evaluates_and_registers_a_challenger(tmp_path, monkeypatch, capsys):
    from mlflow.tracking import MlflowClient

    from ml_engine.cli import main

    monkeypatch.setattr("ml_engine.config.CACHE_ROOT", str(tmp_path / "cache"))
    monkeypatch.setattr("ml_engine.tracking.DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")
    out = tmp_path / "run"

    assert main(["pipeline", "--preset", "tiny", "--out", str(out), "--data-images", "16", "--per-category", "1"]) == 0

    printed = capsys.readouterr()
    assert "[5/5] registering as challenger" in printed.err and "registered shapes-diffusion v1" in printed.out
    summary = json.loads((out / "pipeline-summary.json").read_text())
    registry = Registry(tracking_uri=f"sqlite:///{tmp_path}/data/mlflow/mlflow.db")
    version = registry.alias_version("challenger")
    assert version.version == summary["version"] == 1
    assert set(version.scores) >= {"overall", "counting", "position"}  # the gate compares these
    assert version.tags["dataset_fingerprint"] == summary["dataset_fingerprint"]
    client = MlflowClient(tracking_uri=registry.tracking_uri)
    training = client.get_run(version.run_id)
    assert training.data.tags["code_commit"] == summary["code_commit"] != ""
    assert [m.step for m in client.get_metric_history(version.run_id, "loss")][-1] == 30
    assert {a.path for a in client.list_artifacts(version.run_id)} >= {"pipeline", "curves"}
    evaluation = client.get_run(summary["evaluation_run_id"])
    assert "eval/overall" in evaluation.data.metrics
    assert list((tmp_path / "cache" / "runs" / "pipeline-dm-tiny" / "tb").glob("events.out.tfevents.*"))
