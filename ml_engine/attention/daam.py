"""DAAM for the Shapes diffusion UNet: per-word heat maps from its cross-attention.

Follows Tang et al., 2023, "What the DAAM: Interpreting Stable Diffusion Using Cross Attention": at
every cross-attention layer (diffusers' `attn2`) and every denoising step, the softmax attention
probabilities of each image position over the prompt's tokens are summed over heads; each layer's
maps are upsampled (bicubic) to a common grid and summed over layers and steps; a word's map is the
sum of its word pieces' maps, scaled to [0, 1] by its maximum (`ml_engine.attention.maps.word_maps`).
One change from the paper: each layer call contributes only its excess over its own mean over the
grid. The v4 UNet's added transformer layers spread their attention evenly, and summed raw they
lifted every map until half its peak covered most of the canvas: IoU with the object masks at half
the peak fell from 0.28 (v3) to 0.09. With the excess it is 0.27 on renders and 0.34 on generated
images (`python -m ml_engine attention-iou`). The raw sums are kept too (`sums`).
Only the conditional half of a classifier-free-guidance batch is recorded: the negative prompt's
attention says nothing about the prompt's words.

The recording processor wraps the layer's own processor and returns exactly what it returns (the
probabilities are computed beside it), so an image made with `return_attention=True` has the same
pixels as one made without; the original processors are put back when the capture ends.

    pipe = ShapesDiffusionPipeline.from_pretrained("ml_engine/weights/diffusion")
    result = pipe("a red circle above a blue square", seed=0, return_attention=True)
    result.attention[0].words, result.attention[0].maps.shape    # [...], (9, 64, 64)

    # a real image: encode it, noise it at a few timesteps, record the UNet's attention to a caption
    maps = attention_for_images(pipe, [render(scene)], ["a red circle"])[0]
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F

from ml_engine.attention.maps import AttentionMaps, map_size, prompt_word_maps

# Noise levels for a real image: DAAM averages over the whole trajectory; a real image has no
# trajectory, so it is noised at several levels from light to heavy and the UNet is run once at each.
REAL_IMAGE_TIMESTEPS = (100, 250, 400, 550, 700)


class CrossAttentionRecorder:
    """Sums of attention probabilities per cross-attention query resolution: {h*w: [B, tokens, h*w]}, raw
    (`sums`) and of each call's excess over its mean over the grid (`above_mean`, what the maps are made of)."""

    def __init__(self, rows: slice, latent_size: tuple[int, int]):
        self.rows = rows  # the batch rows to record (the conditional half under CFG)
        self.latent_size = latent_size  # (H, W) of the UNet's input: the finest attention grid
        self.sums: dict[int, torch.Tensor] = {}
        self.above_mean: dict[int, torch.Tensor] = {}  # the same sums, of each call's excess over its own mean
        self.calls = 0  # layer calls recorded, over all steps

    def record(self, probs: torch.Tensor, heads: int) -> None:
        """probs: [rows * heads, h*w, tokens] softmax probabilities of one layer call."""
        per_head = probs.detach().float().reshape(-1, heads, probs.shape[1], probs.shape[2])
        summed = per_head.sum(1).transpose(1, 2)  # [rows, tokens, h*w]
        positions = summed.shape[-1]
        # what a layer gives a word beyond its own average over the grid: a layer that spreads a word evenly
        # says nothing about where the word is, and summed raw it lifts the whole map
        excess = (summed - summed.mean(-1, keepdim=True)).clamp_min(0)
        for store, value in ((self.sums, summed), (self.above_mean, excess)):
            if positions in store:
                store[positions] += value
            else:
                store[positions] = value.clone()
        self.calls += 1

    def keep(self, rows: torch.Tensor) -> None:
        """Keep only `rows` (indices into the recorded rows) of what has been recorded: for a sampler that drops
        candidates mid-way (it sets `rows`, the batch rows to record, for each step it runs)."""
        for store in (self.sums, self.above_mean):
            for positions in store:
                store[positions] = store[positions][rows]

    def _grid(self, positions: int) -> tuple[int, int]:
        height, width = self.latent_size
        factor = math.sqrt(height * width / positions)
        h, w = round(height / factor), round(width / factor)
        if h * w != positions:
            raise ValueError(f"cannot place {positions} attention positions on a {height}x{width} latent grid")
        return h, w

    def token_maps(self, size: int | tuple[int, int]) -> torch.Tensor:
        """[B, tokens, H, W]: every layer's summed excess maps, upsampled to `size` (H, W; an int: square), summed."""
        if not self.sums:
            raise RuntimeError("no cross-attention was recorded: did the UNet run inside the capture?")
        size = map_size(size)
        total = None
        for positions, sums in self.above_mean.items():
            batch, tokens, _ = sums.shape
            h, w = self._grid(positions)
            grid = sums.reshape(batch * tokens, 1, h, w)
            up = F.interpolate(grid, size=size, mode="bicubic", align_corners=False)
            up = up.reshape(batch, tokens, *size)
            total = up if total is None else total + up
        return total

    def word_maps(
        self, tokenizer, prompts: Sequence[str], max_tokens: int, size: int | tuple[int, int]
    ) -> list[AttentionMaps]:
        """One AttentionMaps per recorded image; prompts[i] is the prompt of batch row i."""
        return prompt_word_maps(tokenizer, list(prompts), self.token_maps(size), max_tokens, size)


class RecordingAttnProcessor:
    """Runs the layer's own processor and records the softmax probabilities of the recorder's rows beside it."""

    def __init__(self, inner, recorder: CrossAttentionRecorder):
        self.inner = inner
        self.recorder = recorder

    def __call__(
        self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, context_rows=None
    ):
        shared = {} if context_rows is None else {"context_rows": context_rows}  # models/shared_context.py
        out = self.inner(
            attn, hidden_states, encoder_hidden_states=encoder_hidden_states, attention_mask=attention_mask, **shared
        )
        probs = cross_attention_probs(
            attn, hidden_states, encoder_hidden_states, attention_mask, self.recorder.rows, context_rows
        )
        self.recorder.record(probs, attn.heads)
        return out


class SecondHalf:
    """The rows of a batch's second half, whatever its size: the conditional rows under classifier-free guidance,
    for a recorder whose calls are traced once for every batch size (pipelines/traced_unet.py)."""

    def __repr__(self) -> str:
        return "SECOND_HALF"


SECOND_HALF = SecondHalf()


def take_rows(tensor: torch.Tensor, rows: slice | SecondHalf | torch.Tensor) -> torch.Tensor:
    return tensor.chunk(2)[1] if isinstance(rows, SecondHalf) else tensor[rows]


def take_rows_or_none(tensor: torch.Tensor | None, rows) -> torch.Tensor | None:
    return None if tensor is None else take_rows(tensor, rows)


def cross_attention_probs(
    attn, hidden_states, encoder_hidden_states, attention_mask, rows, context_rows: torch.Tensor | None = None
) -> torch.Tensor:
    """The softmax attention of `rows` of the batch (a slice or SECOND_HALF), as diffusers' AttnProcessor computes
    it: [rows*heads, hw, L]. With `context_rows`, batch row b read row context_rows[b] of the context."""
    if attn.spatial_norm is not None or encoder_hidden_states is None:
        raise ValueError("only plain cross-attention layers (attn2) can be recorded")
    hidden = take_rows(hidden_states, rows)
    if hidden.ndim == 4:  # [B, C, H, W] -> [B, HW, C]
        hidden = hidden.flatten(2).transpose(1, 2)
    context = encoder_hidden_states
    if attn.group_norm is not None:
        hidden = attn.group_norm(hidden.transpose(1, 2)).transpose(1, 2)
    if attn.norm_cross:
        context = attn.norm_encoder_hidden_states(context)
    if context_rows is None:  # one context row a batch row
        key, mask = attn.to_k(take_rows(context, rows)), take_rows_or_none(attention_mask, rows)
    else:  # projected once per distinct caption, then gathered
        context_rows = take_rows(context_rows, rows)
        key, mask = attn.to_k(context)[context_rows], take_rows_or_none(attention_mask, context_rows)
    if mask is not None:
        mask = attn.prepare_attention_mask(mask, key.shape[1], key.shape[0])
    query = attn.head_to_batch_dim(attn.to_q(hidden))
    return attn.get_attention_scores(query, attn.head_to_batch_dim(key), mask)


@contextmanager
def recording(unet, recorder) -> Iterator:
    """Every cross-attention layer of `unet` hands its probabilities of `recorder.rows` to `recorder.record(probs,
    heads)` inside the block; the processors come back after. Any object with those two will do as the recorder."""
    original = dict(unet.attn_processors)
    cross = [name for name in original if name.endswith("attn2.processor")]
    if not cross:
        raise ValueError("this UNet has no cross-attention layers (attn2) to record")
    wrapped = {name: RecordingAttnProcessor(p, recorder) if name in cross else p for name, p in original.items()}
    unet.set_attn_processor(wrapped)
    try:
        yield recorder
    finally:
        unet.set_attn_processor(dict(original))  # set_attn_processor pops from the dict it is given


def capture_cross_attention(unet, rows: slice, latent_size: tuple[int, int]):
    """Record the cross-attention of `rows` of every UNet call inside the block; the processors come back after."""
    return recording(unet, CrossAttentionRecorder(rows, latent_size))


def _pixels(images) -> torch.Tensor:
    """PIL images or uint8 arrays [64, 64, 3] -> [B, 3, 64, 64] in [-1, 1]."""
    arrays = [np.asarray(i.convert("RGB") if hasattr(i, "convert") else i, dtype=np.float32) for i in images]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2) / 127.5 - 1


@torch.no_grad()
def attention_for_images(
    pipe,
    images: Sequence,
    prompts: Sequence[str],
    timesteps: Sequence[int] = REAL_IMAGE_TIMESTEPS,
    seed: int = 0,
    size: int = 64,
) -> list[AttentionMaps]:
    """DAAM on existing images (renders): what each caption word attends to when the UNet denoises them.

    Each image is encoded by the autoencoder, noised to every timestep in `timesteps` (fresh noise from
    `seed`) and denoised for one step with its caption; the maps are summed as for a generation.
    """
    if len(images) != len(prompts):
        raise ValueError(f"{len(images)} images for {len(prompts)} prompts")
    autoencoder, unet = pipe.autoencoder, pipe.unet
    pixels = _pixels(images).to(pipe.device, autoencoder.dtype)
    latents = autoencoder.normalize(autoencoder.encode(pixels)).to(unet.dtype)
    states, mask = pipe.encode_prompts(list(prompts))
    alphas = pipe.scheduler.alphas_cumprod
    generator = torch.Generator("cpu").manual_seed(seed)
    with capture_cross_attention(unet, slice(0, len(prompts)), tuple(latents.shape[-2:])) as recorder:
        for t in timesteps:
            noise = torch.randn(latents.shape, generator=generator).to(latents)
            alpha_bar = alphas[int(t)].to(latents)
            noisy = alpha_bar.sqrt() * latents + (1 - alpha_bar).sqrt() * noise
            timestep = torch.full((len(prompts),), int(t), device=latents.device, dtype=torch.long)
            unet(noisy, timestep, encoder_hidden_states=states, encoder_attention_mask=mask)
    return recorder.word_maps(pipe.text.tokenizer, list(prompts), pipe.text.max_tokens, size)
