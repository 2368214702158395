"""A tiny, randomly initialised ShapesDiffusionPipeline for tests and smoke runs (~0.3M params).

python -c "from ml_engine.pipelines.tiny import save_tiny_pipeline; save_tiny_pipeline('/tmp/tiny')"
"""

from __future__ import annotations

import torch

from ml_engine.models.autoencoder import ShapesAutoencoder
from ml_engine.models.unet import build_unet
from ml_engine.schedulers import sampling_scheduler, training_scheduler


def build_tiny_pipeline(seed: int = 0):
    from ml_engine.pipelines.shapes import ShapesDiffusionPipeline

    torch.manual_seed(seed)
    autoencoder = ShapesAutoencoder(encoder_widths=(16, 16, 16), decoder_widths=(16, 16, 16), decoder_blocks=1)
    unet = build_unet(block_out_channels=(32,), layers_per_block=1, attention_head_dim=16)
    scheduler = sampling_scheduler(training_scheduler(1000, "squaredcos_cap_v2", "v_prediction"))
    pipe = ShapesDiffusionPipeline(autoencoder.eval(), unet.eval(), scheduler)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def build_tiny_ranked_pipeline(seed: int = 0):
    """The tiny pipeline with a tiny LatentCritic, so that it can rank (and prune) candidates."""
    from ml_engine.models.critic import LatentCritic
    from ml_engine.pipelines.shapes import ShapesDiffusionPipeline

    plain = build_tiny_pipeline(seed)
    torch.manual_seed(seed + 1)
    critic = LatentCritic(width=32, layers=1, heads=2).eval()
    pipe = ShapesDiffusionPipeline(
        plain.autoencoder, plain.unet, plain.scheduler, critic=critic, text_encoder=plain.text
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def save_tiny_pipeline(folder: str, seed: int = 0) -> str:
    build_tiny_pipeline(seed).save_pretrained(folder, safe_serialization=True)
    return folder


def build_tiny_gan_pipeline(seed: int = 0):
    """A tiny, randomly initialised ShapesGANPipeline (same interface, one pass per image)."""
    from ml_engine.models.gan import GANGenerator
    from ml_engine.pipelines.gan import ShapesGANPipeline

    torch.manual_seed(seed)
    autoencoder = ShapesAutoencoder(encoder_widths=(16, 16, 16), decoder_widths=(16, 16, 16), decoder_blocks=1)
    generator = GANGenerator(noise_dim=16, widths=(32, 32, 24), cond_dim=16)
    return ShapesGANPipeline(generator.eval(), autoencoder.eval())


def save_tiny_gan_pipeline(folder: str, seed: int = 0) -> str:
    build_tiny_gan_pipeline(seed).save_pretrained(folder, safe_serialization=True)
    return folder
