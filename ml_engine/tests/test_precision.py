"""Precision by measurement: the faster of float32 and bfloat16 on this machine, timed once and cached."""

import time

import pytest

from ml_engine import precision
from ml_engine.pipelines.tiny import build_tiny_ranked_pipeline


@pytest.fixture(autouse=True)
def cache_file(tmp_path, monkeypatch):
    path = tmp_path / "precision.json"
    monkeypatch.setenv("T2I_PRECISION_CACHE", str(path))
    return path


def sleeper(float32_s: float, bfloat16_s: float, calls: list):
    def probe(chosen: str) -> None:
        calls.append(chosen)
        time.sleep(float32_s if chosen == precision.FLOAT32 else bfloat16_s)

    return probe


@pytest.mark.parametrize("float32_s, bfloat16_s, expected", [(0.02, 0.005, "bfloat16"), (0.005, 0.02, "float32")])
def test_auto_keeps_the_faster_and_says_by_how_much(float32_s, bfloat16_s, expected, cache_file):
    calls = []
    choice = precision.choose_precision(sleeper(float32_s, bfloat16_s, calls), model_key="m")
    assert choice.precision == expected and choice.how == "measured"
    assert calls.count("float32") == calls.count("bfloat16") >= 2  # a warm-up each, then interleaved rounds
    assert choice.float32_ms == pytest.approx(float32_s * 1000, abs=15)
    assert choice.bfloat16_ms == pytest.approx(bfloat16_s * 1000, abs=15)
    assert expected in choice.describe() and "ms in float32" in choice.describe()
    assert cache_file.exists()


def test_a_machine_measures_once_per_model_architecture():
    first = precision.choose_precision(sleeper(0.02, 0.005, []), model_key="m")
    calls = []
    again = precision.choose_precision(sleeper(0.005, 0.02, calls), model_key="m")
    assert calls == [] and again.how == "cached" and again.precision == first.precision
    other = precision.choose_precision(sleeper(0.005, 0.02, calls), model_key="another")
    assert calls and other.precision == "float32"


def test_a_requested_precision_is_not_timed_and_a_model_without_a_bf16_path_runs_float32():
    calls = []
    assert precision.choose_precision(sleeper(0.02, 0.0, calls), requested="float32").precision == "float32"
    assert precision.choose_precision(sleeper(0.0, 0.02, calls), requested="bfloat16").precision == "bfloat16"
    assert calls == []
    assert precision.choose_precision(None).how == "no bfloat16 path"
    with pytest.raises(ValueError, match="precision must be one of auto, float32, bfloat16"):
        precision.choose_precision(None, requested="half")


def test_a_read_only_cache_still_gives_a_choice(monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("T2I_PRECISION_CACHE", str(blocker / "precision.json"))  # its folder is a file
    assert precision.choose_precision(sleeper(0.01, 0.001, []), model_key="m").precision == "bfloat16"


def test_a_pipeline_times_its_own_call_when_it_has_a_bfloat16_path():
    pipe = build_tiny_ranked_pipeline()
    pipe.precision_set("auto", model_key="tiny")
    assert pipe.precision_choice.how == "no bfloat16 path" and pipe.precision == "float32"
    pipe.register_to_config(bf16_candidates=True, candidates=4, pruning=[[1, 2]])
    pipe.precision_set("auto", model_key="tiny")
    assert pipe.precision_choice.how == "measured" and pipe.precision in ("float32", "bfloat16")
    assert pipe.precision_choice.float32_ms > 0 and pipe.precision_choice.bfloat16_ms > 0
    pipe.precision_set("bfloat16")
    assert pipe.runs_bfloat16 and "in bf16 until then" in pipe.sampler_name
