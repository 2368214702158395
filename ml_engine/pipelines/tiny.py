"""Tiny, randomly initialised pipelines for tests and smoke runs: the Shapes diffusion model (~0.3M params), the
Shapes GAN, and a real diffusers StableDiffusionPipeline (CLIP text encoder and tokenizer built on the spot, no
download), which stands in for a user's own Stable Diffusion folder. Each is seeded: the same call, the same weights.

python -c "from ml_engine.pipelines.tiny import save_tiny_pipeline; save_tiny_pipeline('/tmp/tiny')"
python -c "from ml_engine.pipelines.tiny import save_tiny_stable_diffusion; save_tiny_stable_diffusion('/tmp/sd')"
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

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


def _byte_alphabet() -> list[str]:
    """The 256 characters GPT-2/CLIP byte-level BPE spells bytes with (the tokenizer maps each byte to one)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    others = [b for b in range(256) if b not in printable]
    return [chr(b) for b in printable] + [chr(256 + i) for i in range(len(others))]


# a few merges, so that common prompt words are one token and others several (a word's map sums its pieces')
_TINY_MERGES = ("r e", "re d</w>", "b l", "bl u", "blu e</w>", "c a", "ca t</w>", "o n</w>", "t h", "th e</w>")


def build_tiny_clip_tokenizer(folder: str | os.PathLike):
    """A CLIPTokenizer over the byte alphabet and a few merges, written into `folder` as vocab.json + merges.txt
    (no download): any text tokenizes, one piece per character of the words it has no merge for."""
    from transformers import CLIPTokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    alphabet = _byte_alphabet()
    pieces = [*alphabet, *(c + "</w>" for c in alphabet), *(m.replace(" ", "") for m in _TINY_MERGES)]
    pieces += ["<|startoftext|>", "<|endoftext|>"]
    (folder / "vocab.json").write_text(json.dumps({piece: i for i, piece in enumerate(pieces)}))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(_TINY_MERGES) + "\n")
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=77)


def build_tiny_stable_diffusion(seed: int = 0, sample_size: int = 8):
    """A real StableDiffusionPipeline with tiny random weights (~1.1M parameters): a two-level UNet cross-attending
    over a 2-layer CLIP text encoder (width 32), a 4-level AutoencoderKL (latents 8x smaller, 4 channels), SD 1.5's
    PNDM scheduler; native size `sample_size` * 8 pixels (64x64: a call takes milliseconds on a CPU)."""
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    with tempfile.TemporaryDirectory() as scratch:
        tokenizer = build_tiny_clip_tokenizer(scratch)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = UNet2DConditionModel(
            sample_size=sample_size,
            in_channels=4,
            out_channels=4,
            block_out_channels=(32, 64),
            layers_per_block=1,
            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
            cross_attention_dim=32,
            attention_head_dim=8,
            norm_num_groups=16,
        )
        vae = AutoencoderKL(
            in_channels=3,
            out_channels=3,
            latent_channels=4,
            block_out_channels=(16, 16, 32, 32),
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            layers_per_block=1,
            norm_num_groups=8,
            sample_size=sample_size * 8,
        )
        text_config = CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=tokenizer.model_max_length,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
        text_encoder = CLIPTextModel(text_config)
    scheduler = PNDMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", skip_prk_steps=True, steps_offset=1
    )
    pipe = StableDiffusionPipeline(
        vae=vae.eval(),
        text_encoder=text_encoder.eval(),
        tokenizer=tokenizer,
        unet=unet.eval(),
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def save_tiny_stable_diffusion(folder: str | os.PathLike, seed: int = 0, sample_size: int = 8) -> Path:
    """The tiny Stable Diffusion folder (safetensors, no pickles), as a user's own model folder would look."""
    build_tiny_stable_diffusion(seed, sample_size).save_pretrained(folder, safe_serialization=True)
    return Path(folder)
