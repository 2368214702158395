import os

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_pipeline_dir(tmp_path_factory):
    """A tiny randomly initialised ShapesDiffusionPipeline saved with save_pretrained."""
    from ml_engine.pipelines.tiny import save_tiny_pipeline

    return save_tiny_pipeline(str(tmp_path_factory.mktemp("tiny") / "pipe"))


@pytest.fixture(scope="session")
def tiny_pipeline(tiny_pipeline_dir):
    from ml_engine.pipelines import load_pipeline

    return load_pipeline(tiny_pipeline_dir)
