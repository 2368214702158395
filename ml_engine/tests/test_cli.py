"""The command-line contract that other parts of the product and outside checks rely on."""

import json
import subprocess
import sys

from PIL import Image

from ml_engine.cli import main


def test_generate_one_prompt_writes_a_png(tiny_pipeline_dir, tmp_path):
    out = tmp_path / "out.png"
    code = main(
        [
            "generate",
            "--prompt",
            "a red circle to the left of a blue square",
            "--seed",
            "0",
            "--steps",
            "3",
            "--out",
            str(out),
            "--model",
            tiny_pipeline_dir,
            "--guidance",
            "3",
        ]
    )
    assert code == 0 and Image.open(out).size == (64, 64)


def test_generate_prompts_file_writes_every_prompt_and_seed_and_a_manifest(tiny_pipeline_dir, tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a red circle\n\n# a comment\na blue square\n")
    out_dir = tmp_path / "images"
    code = main(
        [
            "generate",
            "--prompts-file",
            str(prompts),
            "--seeds",
            "0,1,2",
            "--out-dir",
            str(out_dir),
            "--steps",
            "2",
            "--model",
            tiny_pipeline_dir,
            "--batch-size",
            "4",
        ]
    )
    manifest = json.loads((out_dir / "manifest.json").read_text())
    assert code == 0 and len(manifest) == 6
    assert {(m["prompt"], m["seed"]) for m in manifest} == {
        (p, s) for p in ("a red circle", "a blue square") for s in (0, 1, 2)
    }
    assert all((out_dir / m["file"]).is_file() for m in manifest)


def test_batched_generation_matches_single_generation(tiny_pipeline_dir, tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a green cross\n")
    main(
        [
            "generate",
            "--prompts-file",
            str(prompts),
            "--seeds",
            "5",
            "--out-dir",
            str(tmp_path / "d"),
            "--steps",
            "2",
            "--model",
            tiny_pipeline_dir,
        ]
    )
    main(
        [
            "generate",
            "--prompt",
            "a green cross",
            "--seed",
            "5",
            "--steps",
            "2",
            "--out",
            str(tmp_path / "one.png"),
            "--model",
            tiny_pipeline_dir,
        ]
    )
    assert list(Image.open(tmp_path / "d" / "0000_seed5.png").getdata()) == list(
        Image.open(tmp_path / "one.png").getdata()
    )


def test_evaluate_prints_every_category_and_writes_json(tiny_pipeline_dir, tmp_path, capsys):
    report = tmp_path / "scores.json"
    code = main(
        [
            "evaluate",
            "--model",
            tiny_pipeline_dir,
            "--per-category",
            "2",
            "--seeds",
            "1",
            "--steps",
            "2",
            "--json",
            str(report),
        ]
    )
    printed = capsys.readouterr().out
    data = json.loads(report.read_text())
    assert code == 0
    for category in (
        "single_object",
        "two_object",
        "counting",
        "colors",
        "position",
        "color_attr",
        "size",
        "composite",
        "overall",
    ):
        assert category in printed and category in data["scores"]
    assert data["images"] == 16
    # an untrained tiny model fails most prompts: each failure is counted once, under its kind
    failed = sum(not image["passed"] for image in data["images_detail"])
    assert failed and sum(n for kinds in data["failures"].values() for n in kinds.values()) == failed
    assert "failures:" in printed


def test_evaluate_ceiling_scores_renders_at_the_top():
    code = subprocess.run(
        [
            sys.executable,
            "-m",
            "ml_engine",
            "evaluate",
            "--ceiling",
            "--per-category",
            "20",
            "--seeds",
            "1",
            "--json",
            "/dev/null",
        ],
        capture_output=True,
        text=True,
    )
    assert code.returncode == 0 and "overall          1.000" in code.stdout


def test_generate_rejects_a_missing_model_clearly(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ml_engine",
            "generate",
            "--prompt",
            "a circle",
            "--out",
            str(tmp_path / "x.png"),
            "--model",
            "no-such-model",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "no model 'no-such-model'" in result.stderr


def test_log_run_records_a_run_trained_without_mlflow(tmp_path, monkeypatch):
    import mlflow
    from mlflow.tracking import MlflowClient

    monkeypatch.setattr("ml_engine.tracking.DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")  # empty: the local default; restored after the test
    config = tmp_path / "gpu-run.json"
    config.write_text(json.dumps({"kind": "diffusion", "name": "gpu-run", "experiment": "test-offline"}))
    earlier = {"step": 3600, "images": 1000, "overall": 0.5}  # the curve of the model it continued from
    summary = {
        "images_seen_before": 1000,
        "curve": [
            earlier,
            {"step": 100, "images": 1100, "overall": 0.6},
            {"step": 200, "images": 1200, "overall": 0.7},
        ],
        "loss_curve": [[25, 0.2], [50, 0.1]],
    }
    (tmp_path / "training.json").write_text(json.dumps(summary))
    assert (
        main(["log-run", "--config", str(config), "--summary", str(tmp_path / "training.json"), "--note", "h200"]) == 0
    )
    client = MlflowClient(tracking_uri=mlflow.get_tracking_uri())
    (run,) = client.search_runs([client.get_experiment_by_name("test-offline").experiment_id])
    assert run.info.run_name == "gpu-run" and run.data.tags["note"] == "h200"
    history = client.get_metric_history(run.info.run_id, "eval/overall")
    assert [(m.step, m.value) for m in history] == [(100, 0.6), (200, 0.7)]
    assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == [25, 50]
    assert {a.path for a in client.list_artifacts(run.info.run_id)} == {"training.json"}
