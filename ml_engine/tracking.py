"""Experiment tracking: MLflow (params, metric curves, images, artifacts) and TensorBoard events.

The tracking URI comes from MLFLOW_TRACKING_URI; by default a local SQLite store under the
project's data folder (T2I_DATA_DIR, default ./data), with artifacts beside it. Telemetry is off:
the product works offline. A disabled tracker (tests, `"mlflow": false`) does nothing.
"""

from __future__ import annotations

import os
from contextlib import suppress

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

DATA_DIR = os.path.abspath(os.environ.get("T2I_DATA_DIR", "data"))


def local_tracking_uri() -> str:
    return f"sqlite:///{os.path.join(DATA_DIR, 'mlflow', 'mlflow.db')}"


def default_tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or local_tracking_uri()


def ensure_experiment(name: str) -> str:
    """Experiment id for `name`, created with a local artifact root when the store is local."""
    import mlflow

    uri = default_tracking_uri()
    mlflow.set_tracking_uri(uri)  # note: this also sets MLFLOW_TRACKING_URI in the environment
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    artifact_location = None
    if uri == local_tracking_uri():  # keep artifacts beside the local store, not in ./mlruns of the cwd
        root = os.path.join(DATA_DIR, "mlflow", "artifacts")
        os.makedirs(root, exist_ok=True)
        artifact_location = "file://" + root
    return mlflow.create_experiment(name, artifact_location=artifact_location)


class Tracker:
    def __init__(self, enabled: bool, experiment: str, run_name: str, tensorboard_dir: str | None = None):
        self.enabled = enabled
        self.experiment, self.run_name = experiment, run_name
        self.run_id: str | None = None
        self._tb = None
        if tensorboard_dir and enabled:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(tensorboard_dir)

    def start(self, params: dict, resume_run_id: str | None = None, tags: dict | None = None) -> str | None:
        if not self.enabled:
            return None
        import mlflow

        os.makedirs(os.path.join(DATA_DIR, "mlflow"), exist_ok=True)
        experiment_id = ensure_experiment(self.experiment)
        run = mlflow.start_run(run_id=resume_run_id, experiment_id=experiment_id, run_name=self.run_name, tags=tags)
        self.run_id = run.info.run_id
        if resume_run_id is None:
            mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        return self.run_id

    def metrics(self, values: dict[str, float], step: int) -> None:
        if not self.enabled:
            return
        import mlflow

        mlflow.log_metrics({k: float(v) for k, v in values.items()}, step=step)
        if self._tb is not None:
            for k, v in values.items():
                self._tb.add_scalar(k, float(v), step)

    def image(self, image, name: str) -> None:
        if self.enabled:
            import mlflow

            mlflow.log_image(image, name)

    def artifact(self, path: str, artifact_path: str | None = None) -> None:
        if not self.enabled:
            return
        import mlflow

        if os.path.isdir(path):
            mlflow.log_artifacts(path, artifact_path)
        else:
            mlflow.log_artifact(path, artifact_path)

    def dict(self, data: dict, name: str) -> None:
        if self.enabled:
            import mlflow

            mlflow.log_dict(data, name)

    def end(self, status: str = "FINISHED") -> None:
        if self._tb is not None:
            self._tb.flush()
        if self.enabled:
            import mlflow

            with suppress(Exception):
                mlflow.end_run(status=status)
