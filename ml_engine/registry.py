"""The MLflow Model Registry for saved pipelines: register a folder, point aliases, fetch a verified copy.

A registered version is a diffusers `save_pretrained` folder (safetensors weights plus JSON configs)
logged as plain run artifacts and registered from that artifact URI: nothing is pickled, neither
the weights nor a pyfunc wrapper. Each version carries tags that let a caller use it without
loading torch: the folder's SHA-256 (`sha256`, checked on every fetch against the hash the caller pinned),
supported sizes, default
steps and guidance, sampler, and the alignment scores of its latest evaluation (`eval.<category>`).
`champion` and `challenger` are aliases (MLflow 3 deprecates stages), e.g. `models:/shapes-diffusion@champion`.

    from ml_engine.registry import Registry
    registry = Registry()                                   # MLFLOW_TRACKING_URI, else data/mlflow
    version = registry.register_folder("out/final", alias="challenger", run_id=run_id)
    folder = registry.fetch(version.version, cache_dir="var/registry")   # hash-verified copy

References: MLflow Model Registry (aliases), mlflow.org/docs/latest/ml/model-registry.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ml_engine.provenance import (  # noqa: F401 (re-exported)
    code_commit,
    files_fingerprint,
    folder_sha256,
    folder_sha256_checked,
)

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

DEFAULT_MODEL_NAME = os.environ.get("T2I_REGISTERED_MODEL", "shapes-diffusion")
CHAMPION, CHALLENGER = "champion", "challenger"
ARTIFACT_PATH = "pipeline"  # where the folder lies inside its run's artifacts
_PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".ckpt", ".pkl"}
# what a tag read back from the registry must look like before any of it reaches a file path
_SHA256 = re.compile(r"[0-9a-f]{64}")
_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class RegistryError(Exception):
    """A registry operation that cannot be done as asked (unknown version, hash mismatch, pickles)."""


def _refuse_pickles(folder: Path) -> None:
    pickles = [p for p in folder.rglob("*") if p.suffix in _PICKLE_SUFFIXES]
    if pickles:
        raise RegistryError(f"refusing pickle-format files in a registered model: {pickles[0]}")


@dataclass
class RegisteredVersion:
    name: str
    version: int
    run_id: str | None
    source: str
    aliases: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    created_ms: int = 0

    @property
    def sha256(self) -> str:
        return self.tags.get("sha256", "")

    @property
    def scores(self) -> dict[str, float]:
        """Alignment per category (and `overall`) from the latest evaluation, when there was one."""
        return {k.removeprefix("eval."): float(v) for k, v in self.tags.items() if k.startswith("eval.")}

    @property
    def metrics(self) -> dict[str, float]:
        """Other known metrics (loss, fid, kid, is, precision, recall) recorded as `metric.<name>` tags."""
        return {k.removeprefix("metric."): float(v) for k, v in self.tags.items() if k.startswith("metric.")}

    @property
    def pipeline_info(self) -> dict:
        return json.loads(self.tags.get("pipeline", "{}"))


def local_artifact_root(tracking_uri: str) -> str | None:
    """Artifacts of a local SQLite store live beside it (never in ./mlruns of whatever the cwd is)."""
    if tracking_uri.startswith("sqlite:///"):
        return "file://" + os.path.join(os.path.dirname(tracking_uri.removeprefix("sqlite:///")), "artifacts")
    return None


class Registry:
    """One registered model in one MLflow server or local store."""

    def __init__(self, tracking_uri: str | None = None, model_name: str = DEFAULT_MODEL_NAME):
        from mlflow.tracking import MlflowClient

        from ml_engine.tracking import default_tracking_uri

        self.tracking_uri = tracking_uri or default_tracking_uri()
        if self.tracking_uri.startswith("sqlite:///"):
            os.makedirs(os.path.dirname(self.tracking_uri.removeprefix("sqlite:///")), exist_ok=True)
        self.model_name = model_name
        self.client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    # experiments and runs ------------------------------------------------------------------------------
    def experiment_id(self, name: str) -> str:
        experiment = self.client.get_experiment_by_name(name)
        if experiment is not None:
            return experiment.experiment_id
        root = local_artifact_root(self.tracking_uri)
        return self.client.create_experiment(name, artifact_location=f"{root}/{name}" if root else None)

    def run_create(self, *, experiment: str, run_name: str, tags: dict[str, str] | None = None) -> str:
        run = self.client.create_run(self.experiment_id(experiment), run_name=run_name, tags=tags or {})
        return run.info.run_id

    def run_tag(self, run_id: str, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            self.client.set_tag(run_id, key, str(value))

    def run_url(self, run_id: str, ui_base: str | None) -> str:
        """A link to the run in the MLflow UI (needs the UI's base URL: the tracking URI may be a file)."""
        if not ui_base or not run_id:
            return ""
        run = self.client.get_run(run_id)
        return f"{ui_base.rstrip('/')}/#/experiments/{run.info.experiment_id}/runs/{run_id}"

    # registering -------------------------------------------------------------------------------------
    def _ensure_model(self) -> None:
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(self.model_name)
        except MlflowException:
            self.client.create_registered_model(
                self.model_name, description="Shapes text-to-image pipelines (diffusers folders, safetensors)"
            )

    def register_folder(
        self,
        folder: str | os.PathLike,
        *,
        run_id: str | None = None,
        alias: str | None = None,
        pipeline_info: dict | None = None,
        tags: dict[str, str] | None = None,
        experiment: str = "registry",
    ) -> RegisteredVersion:
        """Log `folder` as artifacts of `run_id` (or of a new run in `experiment`) and register it."""
        folder = Path(folder)
        if not (folder / "model_index.json").is_file():
            raise RegistryError(f"{folder} is not a saved pipeline (no model_index.json)")
        _refuse_pickles(folder)
        if run_id is None:
            run_id = self.run_create(experiment=experiment, run_name=f"register-{folder.name}")
            self.client.set_terminated(run_id)
        self.client.log_artifacts(run_id, str(folder), ARTIFACT_PATH)
        source = f"{self.client.get_run(run_id).info.artifact_uri.rstrip('/')}/{ARTIFACT_PATH}"
        all_tags = {"sha256": folder_sha256(folder), "folder_name": folder.name}
        if pipeline_info:
            all_tags["pipeline"] = json.dumps(pipeline_info)
        all_tags.update(tags or {})
        self._ensure_model()
        mv = self.client.create_model_version(self.model_name, source, run_id=run_id, tags=all_tags)
        if alias:
            self.alias_set(alias, int(mv.version))
        return self.version(int(mv.version))

    # reading -----------------------------------------------------------------------------------------
    def _wrap(self, mv) -> RegisteredVersion:
        return RegisteredVersion(
            name=mv.name,
            version=int(mv.version),
            run_id=mv.run_id,
            source=mv.source,
            aliases=sorted(getattr(mv, "aliases", []) or []),
            tags=dict(mv.tags or {}),
            created_ms=int(mv.creation_timestamp or 0),
        )

    def version(self, version: int) -> RegisteredVersion:
        from mlflow.exceptions import MlflowException

        try:
            return self._wrap(self.client.get_model_version(self.model_name, str(version)))
        except MlflowException as exc:
            raise RegistryError(f"{self.model_name} has no version {version}") from exc

    def versions(self) -> list[RegisteredVersion]:
        found = self.client.search_model_versions(f"name = '{self.model_name}'")
        # search results may omit aliases in some stores: read each version back
        return sorted((self.version(int(mv.version)) for mv in found), key=lambda v: v.version)

    def alias_version(self, alias: str) -> RegisteredVersion | None:
        from mlflow.exceptions import MlflowException

        try:
            return self._wrap(self.client.get_model_version_by_alias(self.model_name, alias))
        except MlflowException:
            return None

    # writing aliases and tags ------------------------------------------------------------------------
    def alias_set(self, alias: str, version: int) -> None:
        self.version(version)  # a clear error for an unknown version
        self.client.set_registered_model_alias(self.model_name, alias, str(version))

    def alias_delete(self, alias: str) -> None:
        if self.alias_version(alias) is not None:
            self.client.delete_registered_model_alias(self.model_name, alias)

    def version_tag(self, version: int, tags: dict[str, str | float]) -> None:
        for key, value in tags.items():
            self.client.set_model_version_tag(self.model_name, str(version), key, str(value))

    # fetching ----------------------------------------------------------------------------------------
    def _copy_folder(self, root: Path, version: int, tag: str) -> Path:
        """Where version `version` with hash `tag` is kept under `root`: keyed by the digest too, since two stores
        (or a re-created one) may both have a "version 1"; the path must stay inside the cache folder."""
        target = (root / self.model_name / f"{version}-{tag[:16]}").resolve()
        if root not in target.parents:
            raise RegistryError(f"{self.model_name} v{version}: cache path leaves the cache folder; refusing it")
        return target / ARTIFACT_PATH

    def fetch(self, version: int, *, cache_dir: str | os.PathLike, expected_sha256: str | None = None) -> Path:
        """A local copy of the version's folder, its SHA-256 checked on every call (a cached copy changed on disk
        is refused too) against `expected_sha256` (the hash the caller pinned when the version was registered)
        and, when it must be downloaded, against the registry's own tag. A local copy that holds the pinned hash
        is served without asking the registry (a worker does this before every job; it needs no MLflow then).

        The registry is not trusted to name files: the copy's path is built only from the validated model name,
        the integer version and a tag that must be 64 hex digits, and must stay inside `cache_dir`."""
        import mlflow.artifacts

        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise RegistryError(f"not a registry version number: {version!r}")
        if not _MODEL_NAME.fullmatch(self.model_name):
            raise RegistryError(f"not a registered model name this studio accepts: {self.model_name!r}")
        root = Path(cache_dir).resolve()
        if expected_sha256 is not None and _SHA256.fullmatch(expected_sha256):
            folder = self._copy_folder(root, version, expected_sha256)
            if folder.is_dir() and folder_sha256_checked(folder) == expected_sha256:
                _refuse_pickles(folder)
                return folder
        registered = self.version(version)
        tag = registered.sha256
        if not _SHA256.fullmatch(tag):
            raise RegistryError(f"{self.model_name} v{version}: its sha256 tag is not a SHA-256 digest; refusing it")
        if expected_sha256 is not None and tag != expected_sha256:
            raise RegistryError(
                f"{self.model_name} v{version}: the registry's hash {tag[:12]} is not the pinned {expected_sha256[:12]}"
            )
        folder = self._copy_folder(root, version, tag)
        target = folder.parent
        if not folder.is_dir():
            tmp = target.with_name(target.name + ".partial")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            mlflow.artifacts.download_artifacts(
                artifact_uri=registered.source, dst_path=str(tmp), tracking_uri=self.tracking_uri
            )
            shutil.rmtree(target, ignore_errors=True)
            os.replace(tmp, target)
        _refuse_pickles(folder)
        actual = folder_sha256_checked(folder)
        if actual != tag:
            raise RegistryError(
                f"{self.model_name} v{version}: artifact hash {actual[:12]} does not match the registered "
                f"{tag[:12]}; refusing to load it"
            )
        return folder


# the pipeline facts a registry version carries and a studio row mirrors (pipeline_info_of makes them)
PIPELINE_INFO_KEYS = ("supported_sizes", "default_steps", "default_guidance", "sampler_name", "samplers", "vocabulary")


def pipeline_info_of(pipe) -> dict:
    """What the web side needs to validate requests without loading torch. Sizes are [width, height], as the
    studio's rows keep them; a pipeline's `supported_sizes` are (height, width), as its arguments are."""
    return {
        "supported_sizes": [[int(width), int(height)] for height, width in pipe.supported_sizes],
        "default_steps": int(pipe.default_steps),
        "default_guidance": float(pipe.default_guidance),
        "sampler_name": str(pipe.sampler_name),
        "samplers": list(getattr(pipe, "samplers", ())),
        # the words it knows, grouped for the prompt guide; empty: an open vocabulary (a Stable Diffusion folder)
        "vocabulary": dict(getattr(pipe, "vocabulary", None) or {}),
    }
