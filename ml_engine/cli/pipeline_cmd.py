"""`python -m ml_engine pipeline`: data -> train -> evaluate -> register as `challenger`, with a summary.

The MLOps loop in one command (`make pipeline`):
  1. data: render a captioned Shapes set (ml_engine.data.shapes_dataset) and fingerprint it; the
     training loops draw their scenes from the same renderer and seed, so the fingerprint names the
     data distribution a version was trained on.
  2. autoencoder: train one (`--autoencoder-config FILE`), or take the diffusion config's (by default the shipped
     model's, ml_engine/weights/diffusion) or `--autoencoder PATH`.
  3. diffusion: train the UNet (ml_engine.training.diffusion); MLflow + TensorBoard log as it goes;
     its run is tagged with the dataset fingerprint and the code commit, and gets the loss curve plot.
  4. evaluate: fresh canonical prompts per category (ml_engine.evaluation.tracked), logged as an
     evaluation run.
  5. register: the saved folder is logged as artifacts of the training run and registered in the
     MLflow Model Registry with alias `challenger` (never `champion`: that takes a promotion).

    python -m ml_engine pipeline --preset tiny --out /tmp/pipeline         # a minute on a CPU
    python -m ml_engine pipeline --diffusion-config configs/diffusion.json
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from dataclasses import dataclass, field

from ml_engine.config import AutoencoderConfig, DiffusionConfig, GANConfig


def tiny_autoencoder_config(out: str) -> AutoencoderConfig:
    return AutoencoderConfig(
        name="pipeline-ae-tiny",
        batch_size=16,
        max_steps=30,
        lr=2e-3,
        warmup_steps=5,
        log_every=5,
        checkpoint_every=1000,
        eval_every=1000,
        eval_images=16,
        encoder_widths=(16, 16, 16),
        decoder_widths=(16, 16, 16),
        decoder_blocks=1,
        mlflow=True,
        experiment="pipeline",
        output_dir=os.path.join(out, "autoencoder"),
    )


def tiny_diffusion_config(out: str, autoencoder: str) -> DiffusionConfig:
    return DiffusionConfig(
        name="pipeline-dm-tiny",
        autoencoder=autoencoder,
        batch_size=16,
        max_steps=30,
        lr=2e-3,
        warmup_steps=5,
        log_every=5,
        checkpoint_every=1000,
        eval_every=1000,
        eval_per_category=1,
        eval_seeds=1,
        eval_steps=2,
        scene_pool=64,
        block_out_channels=(32,),
        layers_per_block=1,
        attention_head_dim=16,
        mlflow=True,
        experiment="pipeline",
        output_dir=os.path.join(out, "diffusion"),
    )


def tiny_gan_config(out: str, autoencoder: str) -> GANConfig:
    return GANConfig(
        name="pipeline-gan-tiny",
        autoencoder=autoencoder,
        batch_size=16,
        max_steps=30,
        log_every=5,
        checkpoint_every=1000,
        eval_every=1000,
        eval_per_category=1,
        eval_seeds=1,
        scene_pool=64,
        noise_dim=16,
        generator_widths=(32, 32, 24),
        discriminator_widths=(32, 32),
        cond_dim=16,
        mlflow=True,
        experiment="pipeline",
        output_dir=os.path.join(out, "gan"),
    )


@dataclass
class PipelineConfig:
    out: str  # data, trained models and the summary go here
    diffusion: DiffusionConfig  # the training run; its output_dir defaults to <out>/diffusion
    autoencoder: AutoencoderConfig | None = None  # trained first when given; else diffusion.autoencoder is used
    data_images: int = 256  # scenes rendered (and fingerprinted) in the data step
    eval_per_category: int = 4  # fresh canonical prompts per category in the evaluation
    eval_seeds: int = 1
    eval_steps: int | None = None  # sampler steps (default: the model's)
    tracking_uri: str | None = None  # MLflow store (default: MLFLOW_TRACKING_URI, else data/mlflow)
    model_name: str | None = None  # registered model (default: T2I_REGISTERED_MODEL or shapes-diffusion)
    alias: str = "challenger"
    extra_tags: dict[str, str] = field(default_factory=dict)


@dataclass
class PipelineResult:
    version: int
    model_name: str
    folder: str
    scores: dict[str, float]
    loss: float | None
    training_run_id: str | None
    evaluation_run_id: str | None
    dataset_fingerprint: str
    code_commit: str
    seconds: dict[str, float]


class _Progress:
    def __init__(self, total: int, stream=None):
        # sys.stderr is looked up now, not at import: a default argument would pin whatever stream was current then
        self.total, self.index, self.stream = total, 0, stream or sys.stderr
        self.seconds: dict[str, float] = {}

    def step(self, name: str, what: str):
        self.index += 1
        print(f"[{self.index}/{self.total}] {what}", file=self.stream, flush=True)
        return _Timer(self, name)


class _Timer:
    def __init__(self, progress: _Progress, name: str):
        self.progress, self.name = progress, name

    def __enter__(self):
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc):
        took = time.monotonic() - self.started
        self.progress.seconds[self.name] = round(took, 1)
        if exc[0] is None:
            print(f"      done in {took:.1f} s", file=self.progress.stream, flush=True)


def training_run_id(config, *, rendered_set_fingerprint: str | None = None) -> str | None:
    """The MLflow run of a finished training run (its loop tagged the stream fingerprint and the code commit);
    the fingerprint of the rendered set that the pipeline checked is added beside them."""
    from ml_engine.registry import Registry

    run_id = _training_run_id(config) if config.mlflow else None
    if run_id and rendered_set_fingerprint:
        Registry().run_tag(run_id, {"rendered_set_fingerprint": rendered_set_fingerprint})
    return run_id


def _training_run_id(config) -> str | None:
    state = os.path.join(config.run_dir, "checkpoint", "state.json")
    if os.path.isfile(state):
        with open(state) as f:
            return json.load(f).get("run_id")
    return None


def pipeline_run(config: PipelineConfig) -> PipelineResult:
    from ml_engine.data.shapes_dataset import write_shapes_dataset
    from ml_engine.evaluation.tracked import evaluate_and_track, scores_record
    from ml_engine.pipelines import load_pipeline
    from ml_engine.registry import DEFAULT_MODEL_NAME, Registry, code_commit, files_fingerprint, pipeline_info_of
    from ml_engine.training.diffusion import train_diffusion

    os.makedirs(config.out, exist_ok=True)
    registry = Registry(tracking_uri=config.tracking_uri, model_name=config.model_name or DEFAULT_MODEL_NAME)
    os.environ["MLFLOW_TRACKING_URI"] = registry.tracking_uri  # the training loops log to the same store
    progress = _Progress(5)
    commit = code_commit()

    with progress.step("data", f"rendering {config.data_images} scenes"):
        data_dir = os.path.join(config.out, "data")
        if not os.path.isfile(os.path.join(data_dir, "captions.json")):
            write_shapes_dataset(data_dir, config.data_images, config.diffusion.seed, progress=False)
        from ml_engine.data import spec

        fingerprint = files_fingerprint([data_dir, spec.__file__])
        print(f"      dataset fingerprint {fingerprint[:16]}", file=sys.stderr)

    with progress.step("autoencoder", "autoencoder"):
        if config.autoencoder is not None:
            from ml_engine.training.autoencoder import train_autoencoder

            config.diffusion.autoencoder = train_autoencoder(config.autoencoder)
            training_run_id(config.autoencoder, rendered_set_fingerprint=fingerprint)
        else:
            print(f"      using {config.diffusion.autoencoder}", file=sys.stderr)

    with progress.step("train", f"training diffusion ({config.diffusion.max_steps} steps)"):
        if not config.diffusion.output_dir:
            config.diffusion.output_dir = os.path.join(config.out, "diffusion")
        folder = train_diffusion(config.diffusion)
        run_id = training_run_id(config.diffusion, rendered_set_fingerprint=fingerprint)
        with open(os.path.join(folder, "training.json")) as f:
            summary = json.load(f)
        loss = summary["loss_curve"][-1][1] if summary.get("loss_curve") else None
        if run_id:
            _log_curve_plot(registry, run_id, folder)

    with progress.step("evaluate", f"evaluating ({config.eval_per_category} prompts per category)"):
        pipe = load_pipeline(folder)
        evaluation = evaluate_and_track(
            pipe,
            registry=registry,
            per_category=config.eval_per_category,
            seeds=config.eval_seeds,
            steps=config.eval_steps,
            tensorboard_dir=os.path.join(config.diffusion.run_dir, "tb"),
        )
        print(f"      overall alignment {evaluation.scores.get('overall', 0.0):.3f}", file=sys.stderr)

    with progress.step("register", f"registering as {config.alias}"):
        tags = {"dataset_fingerprint": fingerprint, "code_commit": commit, **config.extra_tags}
        if loss is not None:
            tags["metric.loss"] = str(loss)
        registered = registry.register_folder(folder, run_id=run_id, pipeline_info=pipeline_info_of(pipe), tags=tags)
        scores_record(registry, version=registered.version, scores=evaluation.scores, run_id=evaluation.run_id)
        registry.alias_set(config.alias, registered.version)

    result = PipelineResult(
        version=registered.version,
        model_name=registry.model_name,
        folder=folder,
        scores=evaluation.scores,
        loss=loss,
        training_run_id=run_id,
        evaluation_run_id=evaluation.run_id,
        dataset_fingerprint=fingerprint,
        code_commit=commit,
        seconds=progress.seconds,
    )
    with open(os.path.join(config.out, "pipeline-summary.json"), "w") as f:
        json.dump(dataclasses.asdict(result), f, indent=1)
    return result


def _log_curve_plot(registry, run_id: str, folder: str) -> None:
    """The loss (and alignment) curve as a PNG artifact of the training run."""
    from ml_engine.evaluation.curves import plot_training

    path = os.path.join(folder, "..", "training-curves.png")
    try:
        plot_training(os.path.join(folder, "training.json"), path)
    except (KeyError, ValueError, IndexError):  # a run too short to plot is not worth failing the pipeline for
        return
    registry.client.log_artifact(run_id, path, "curves")


def format_summary(result: PipelineResult) -> str:
    from ml_engine.cli.evaluate_cmd import format_table

    lines = [
        "",
        f"registered {result.model_name} v{result.version} as challenger",
        f"  folder            {result.folder}",
        f"  final loss        {result.loss if result.loss is not None else '-'}",
        f"  training run      {result.training_run_id or '-'}",
        f"  evaluation run    {result.evaluation_run_id or '-'}",
        f"  dataset           {result.dataset_fingerprint[:16]}",
        f"  code commit       {result.code_commit}",
        "  time              " + ", ".join(f"{k} {v:.0f} s" for k, v in result.seconds.items()),
        "",
        format_table(result.scores),
        "",
        "promote it from the studio's model page (/modelops/) or POST /api/models/<id>/promote/",
    ]
    return "\n".join(lines)


def add_parser(sub) -> None:
    p = sub.add_parser("pipeline", help="data -> train -> evaluate -> register as challenger")
    p.add_argument("--out", default="data/pipeline", help="folder for data, models and the summary")
    p.add_argument("--preset", choices=("tiny", "config"), default="config", help="tiny: a one-minute smoke run")
    p.add_argument("--diffusion-config", default="configs/diffusion.json")
    p.add_argument("--autoencoder-config", help="train an autoencoder from this config first")
    p.add_argument("--autoencoder", help="an existing autoencoder folder (overrides the diffusion config's)")
    p.add_argument("--data-images", type=int, default=256)
    p.add_argument("--max-steps", type=int)
    p.add_argument("--max-minutes", type=float)
    p.add_argument("--device")
    p.add_argument("--per-category", type=int, default=4)
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--model-name", help="registered model name (default: shapes-diffusion)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ml_engine.config import load_config

    out = os.path.abspath(args.out)
    overrides = {"device": args.device, "max_steps": args.max_steps, "max_minutes": args.max_minutes}
    if args.preset == "tiny":
        autoencoder = None if args.autoencoder else tiny_autoencoder_config(out)
        diffusion = tiny_diffusion_config(out, args.autoencoder or "")
        for key, value in overrides.items():
            if value is not None:
                setattr(diffusion, key, value)
    else:
        # what the loop trains is a challenger in its own folder: never written over the bundled weights that the
        # rebuild configs name as their output
        diffusion = load_config(args.diffusion_config, **overrides, output_dir=os.path.join(out, "diffusion"))
        if args.autoencoder:
            diffusion.autoencoder = args.autoencoder
        autoencoder = None
        if args.autoencoder_config:
            autoencoder = load_config(args.autoencoder_config, output_dir=os.path.join(out, "autoencoder"))
    config = PipelineConfig(
        out=out,
        diffusion=diffusion,
        autoencoder=autoencoder,
        data_images=args.data_images,
        eval_per_category=args.per_category,
        eval_seeds=args.seeds,
        model_name=args.model_name,
    )
    print(format_summary(pipeline_run(config)))
    return 0
