"""Training configurations as dataclasses; a JSON file names its `kind` and overrides fields.

python -m ml_engine train --config configs/autoencoder.json
python -m ml_engine train --config configs/diffusion.json --device cuda
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field

CACHE_ROOT = os.path.expanduser(os.environ.get("T2I_CACHE", "~/.cache/t2i"))


@dataclass
class CommonConfig:
    name: str = "run"  # run name: checkpoints live in <cache>/runs/<name>, MLflow run name
    seed: int = 0  # seeds torch, numpy and the scene stream
    device: str = "cpu"  # "cpu" or "cuda"; the same code runs on both
    bf16: bool = True  # bf16 autocast where it pays (CUDA, AVX-512 CPUs: 1.4-2x; emulated on AVX2: precision.py)
    threads: int = 0  # torch CPU threads; 0 leaves torch's default
    batch_size: int = 128
    lr: float = 1e-3
    warmup_steps: int = 200  # linear warm-up, then the schedule below
    min_lr_ratio: float = 1.0  # final lr / lr under cosine decay; 1.0 keeps it constant (long CPU runs want lr kept up)
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    max_steps: int = 1000
    max_minutes: float = (
        0.0  # stop (after a checkpoint) once this much wall time passed in this invocation; 0 = no limit
    )
    decay_by_time: bool = False  # with max_minutes: the cosine decay ends with whichever budget, steps or
    # minutes, runs out first (a run on a lent GPU of unknown speed still ends at its lowest learning rate)
    checkpoint_every: int = 250  # steps; checkpoints go outside the repository
    eval_every: int = 500  # steps; evaluation is logged as a curve
    log_every: int = 25
    output_dir: str = ""  # where the final save_pretrained model goes (default: <run dir>/final)
    mlflow: bool = True  # log params, metrics and images to MLflow (tracking URI from the environment)
    experiment: str = "shapes"

    @property
    def run_dir(self) -> str:
        return os.path.join(CACHE_ROOT, "runs", self.name)


@dataclass
class AutoencoderConfig(CommonConfig):
    kind: str = "autoencoder"
    latent_channels: int = 16
    encoder_widths: tuple[int, ...] = (48, 96, 128)
    decoder_widths: tuple[int, ...] = (160, 112, 64)
    decoder_blocks: int = 2
    ring_weight: float = 4.0  # extra loss weight on background pixels within 2 px of an object: halos join objects
    foreground_weight: float = 1.0  # extra loss weight on object pixels
    latent_noise: float = 0.1  # Gaussian noise (relative to the latent std) added in training: robust decoding
    eval_images: int = 512  # fresh scenes whose reconstructions the evaluator scores


@dataclass
class DiffusionConfig(CommonConfig):
    kind: str = "diffusion"
    autoencoder: str = "ml_engine/weights/diffusion"  # a ShapesAutoencoder folder, or a pipeline folder holding one
    init_from: str = ""  # a ShapesDiffusionPipeline folder whose UNet starts this run (e.g. the shipped model)
    # (its training.json curve and images seen carry over, so the curve of a continued model is continuous)
    block_out_channels: tuple[int, ...] = (64, 128)  # UNet widths per level on 8x8 latents
    layers_per_block: int = 2
    attention_head_dim: int = 32
    transformer_layers: int = 1  # with init_from: more than the loaded UNet has adds zero-initialised layers
    num_train_timesteps: int = 1000
    beta_schedule: str = "squaredcos_cap_v2"
    prediction_type: str = "v_prediction"
    min_snr_gamma: float = 5.0  # min-SNR loss weighting (Hang et al., 2023); 0 disables
    caption_dropout: float = 0.1  # share of empty captions, for classifier-free guidance
    paraphrase_prob: float = 0.3  # share of captions reworded outside the canonical grammar
    category_weights: dict[str, float] = field(default_factory=dict)  # overrides captions.TRAINING_CATEGORY_WEIGHTS
    scene_pool: int = 100_000  # scenes rendered and encoded to latents once; captions are drawn per step
    whole_scenes: float = 0.0  # share of the pool drawn for a caption that names every object (data/whole_scenes.py)
    ema_decay: float = 0.999
    eval_per_category: int = 8  # fresh canonical prompts per category in the periodic evaluation
    eval_seeds: int = 2
    eval_steps: int = 20  # sampler steps in evaluation
    guidance_scale: float = 4.0


@dataclass
class GANConfig(CommonConfig):
    kind: str = "gan"
    autoencoder: str = "ml_engine/weights/diffusion"  # the frozen autoencoder whose latents the GAN paints
    # a ShapesGANPipeline folder whose generator starts this run (e.g. the shipped `gan`), with its discriminator
    # when the folder has one (GAN v3 on). Beside a generator that already draws realistic scenes, a fresh
    # discriminator stayed flat for 500 steps (docs/technical-report.md, section 3)
    init_from: str = ""
    noise_dim: int = 64
    generator_widths: tuple[int, ...] = (192, 128, 96)  # 4x4 stage, then 8x8 stages with word attention
    discriminator_widths: tuple[int, ...] = (96, 192)
    spectral_norm: bool = True  # in the discriminator
    cond_dim: int = 128  # sentence embedding projected to this before it joins the noise in the affines
    lr: float = 1e-4  # generator
    d_lr: float = 4e-4  # discriminator (two time-scale update rule, as DF-GAN)
    betas: tuple[float, float] = (0.0, 0.9)
    gp_weight: float = 2.0  # MA-GP: k * mean(||grad D(x, s)||^p), DF-GAN's k = 2, p = 6
    gp_power: float = 6.0
    mismatch_weight: float = 0.5  # real image with a caption it does not satisfy counts as fake
    hard_negative_prob: float = 0.0  # share of those mismatches that are near misses of its own caption
    hard_negative_warmup: int = 0  # steps over which that share ramps up from 0 (a fresh D learns the easy ones first)
    near_miss_margin: float = 0.0  # generator: D(fake, caption) should beat D(fake, near miss) by this (0: off)
    near_miss_weight: float = 1.0
    candidates: int = 1  # the saved pipeline's generator draws per image, ranked by the discriminator
    paraphrase_prob: float = 0.3
    category_weights: dict[str, float] = field(default_factory=dict)  # overrides captions.TRAINING_CATEGORY_WEIGHTS
    scene_pool: int = 80_000
    whole_scenes: float = 0.0  # share of the pool drawn for a caption that names every object (data/whole_scenes.py)
    pool_seed: int = -1  # seed of the scene pool (-1: `seed`); equal pools share their cached latents
    ema_decay: float = 0.999
    eval_per_category: int = 8
    eval_seeds: int = 2


@dataclass
class CriticConfig(CommonConfig):
    kind: str = "critic"
    autoencoder: str = "ml_engine/weights/diffusion"  # the frozen autoencoder whose latents it judges
    width: int = 128  # models/critic.py
    layers: int = 4
    heads: int = 4
    relative_bias: bool = False  # a learned attention bias per cell-to-cell offset (added at zero to an init_from)
    word_positions: bool = False  # a learned embedding per token index: MiniLM's states carry little word order
    caption_reader_from: str = ""  # a pre-trained CaptionReader folder the critic reads the words through, frozen
    relation_heads: int = 0  # the relation term: side asked for . place found, per word and head (models/critic.py)
    lr: float = 3e-4
    weight_decay: float = 0.01
    near_miss_prob: float = 1.0  # share of scenes that also get a near-miss false caption (data/negatives.py)
    other_image_weight: float = 0.5  # loss weight of "this caption, another scene's latent" (where it is false)
    latent_noise: float = 0.3  # Gaussian noise up to this std (latents are unit-variance): generated latents
    # are never quite clean, and the critic ranks generated latents
    paraphrase_prob: float = 0.3
    category_weights: dict[str, float] = field(default_factory=dict)  # overrides captions.TRAINING_CATEGORY_WEIGHTS
    scene_pool: int = 100_000
    whole_scenes: float = 0.0
    pool_seed: int = -1  # seed of the scene pool (-1: `seed`); equal pools share their cached latents
    eval_scenes: int = 2048  # held-out scenes (a pool of their own seed) for the periodic accuracy
    init_from: str = ""  # a LatentCritic folder this run starts from
    redrawn_model: str = ""  # a diffusion model folder: part of each batch comes from scenes it redraws
    # (training/redrawn.py), labelled latents that look like its samples; "" trains on clean latents only
    redrawn_scenes: int = 12_000  # how many of the pool's scenes are redrawn (and of the held-out ones, all)
    redrawn_start: int = 3  # the sampler step the redrawing starts from (of the model's default steps)
    redrawn_share: float = 0.5  # share of steps whose batch comes from the redrawn scenes
    counterfactual_prob: float = 0.0  # share of scenes that also get a counterfactual scene (data/counterfactuals.py):
    # the true caption on the scene edited until it is false, rendered and encoded, the comparison ranking makes
    counterfactual_weight: float = 1.0  # loss weight of those verdicts
    count_loss_weight: float = 0.0  # > 0: a count term (models/critic.py) whose per-shape counts learn the scene
    # graph's directly, at this weight of a smooth L1 loss beside the verdicts' cross-entropy
    count_lr_scale: float = 10.0  # the count term's learning rate, times `lr` (training/critic.py)


@dataclass
class CaptionReaderConfig(CommonConfig):
    """Pre-training of the critic's CaptionReader on captions alone (training/caption_reader.py)."""

    kind: str = "caption_reader"
    layers: int = 2  # models/caption_reader.py
    lr: float = 1e-3
    weight_decay: float = 0.01
    batch_size: int = 256
    captions: int = 40_000  # labelled captions drawn and encoded once (cached), read over and over
    held_out: int = 2_000  # more, of another seed, for the accuracies
    paraphrase_prob: float = 0.5
    category_weights: dict[str, float] = field(default_factory=dict)  # overrides captions.TRAINING_CATEGORY_WEIGHTS
    probe_scale: float = 2.0  # the heads' logits are this times the added state's projection on unit directions,
    # so what the reader adds must itself be large enough to carry the attributes, not a scaled-up whisper
    label_smoothing: float = 0.1  # a loss that saturates, so what is added stops growing once the attributes are
    # told apart (without it the added part reached twice the encoder's own state norm in 500 steps)


@dataclass
class DomainClassifierTrainConfig(CommonConfig):
    kind: str = "domain_classifier"
    widths: tuple[int, ...] = (32, 64, 128, 192)  # see DomainClassifierConfig
    pooled_grid: int = 4
    embed_dim: int = 256
    noise_prob: float = 0.5  # share of batches with Gaussian pixel noise added
    noise_max: float = 6.0  # its standard deviation is uniform in [0, noise_max] (0..255 pixel units)
    eval_images: int = 2000  # fresh held-out renders (a stream of their own) for the final accuracies
    cpu_clock: bool = True  # max_minutes counts this process's CPU time (all threads together), not wall time:
    # with threads=1 the run takes the same steps on a busy machine as on an idle one, where it is the wall time


KINDS = {
    "autoencoder": AutoencoderConfig,
    "diffusion": DiffusionConfig,
    "gan": GANConfig,
    "critic": CriticConfig,
    "domain_classifier": DomainClassifierTrainConfig,
    "caption_reader": CaptionReaderConfig,
}


def load_config(path: str, **overrides) -> CommonConfig:
    with open(path) as f:
        data = json.load(f)
    data.update({k: v for k, v in overrides.items() if v is not None})
    # a run may start from another run's output under the cache: "~/.cache/t2i/runs/..."
    data = {k: os.path.expanduser(v) if isinstance(v, str) and v.startswith("~/") else v for k, v in data.items()}
    cls = KINDS[data.get("kind", "diffusion")]
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unknown config fields in {path}: {sorted(unknown)}")
    for f in dataclasses.fields(cls):
        if f.name in data and isinstance(data[f.name], list) and "tuple" in str(f.type):
            data[f.name] = tuple(data[f.name])
    return cls(**data)


def config_to_dict(config: CommonConfig) -> dict:
    return dataclasses.asdict(config)
