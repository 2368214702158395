"""Pre-train the critic's CaptionReader on captions alone: each object's words learn its attributes.

Taught by a model's own loss (denoising), the reader learnt almost no word order: that loss asks too little of it.
Here the signal is direct. Every caption is drawn from a scene's
graph, so it is known which words name which object and what that object is. On each word piece of an object's
noun phrase, small heads must read from what the reader adds (not from the encoder's own state) the object's
colour, shape and size, and for a relation the side of the picture it stands on: in "a red circle to the left of
a blue square" the pieces of "red circle" are told red, circle, left; those of "blue square" blue, square, right.
A bag of words cannot tell "red" which shape it belongs to, nor "circle" which side it is on: the order must be
read. Frozen inside the critic afterwards (`caption_reader_from` in a critic config, models/critic.py), the reader
hands it states in which each object's words carry its binding and its side, for its relation and count terms.

    python -m ml_engine train --config configs/caption-reader.json
"""

from __future__ import annotations

import hashlib
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm import tqdm

from ml_engine.config import CACHE_ROOT, CaptionReaderConfig
from ml_engine.data import spec
from ml_engine.data.captions import Requirement, caption_parts, training_requirement
from ml_engine.data.scene import sample_scene
from ml_engine.models.caption_reader import CaptionReader
from ml_engine.provenance import training_tags
from ml_engine.text.encoder import HIDDEN, TextEncoder
from ml_engine.tracking import Tracker
from ml_engine.training.common import (
    finish_run,
    load_checkpoint,
    optimizer_step,
    save_checkpoint,
    seed_everything,
    set_scheduled_lr,
)

IGNORE = -100
# the side of the picture each object of a relation stands on, (first item, second item)
SIDES = {
    "left of": ("left", "right"),
    "right of": ("right", "left"),
    "above": ("top", "bottom"),
    "below": ("bottom", "top"),
}
ATTRIBUTES = {
    "color": spec.COLORS,
    "shape": spec.SHAPES,
    "size": spec.SIZES,
    "side": ("left", "right", "top", "bottom"),
}


def item_attributes(req: Requirement, text: str) -> list[list[int]]:
    """Per item, its class per attribute (IGNORE where the caption does not say: no colour named, or "next to")."""
    sides = SIDES[req.relation] if req.relation and " next to " not in text else (None,) * len(req.items)
    rows = []
    for item, side in zip(req.items, sides, strict=True):
        values = {"color": item.color, "shape": item.shape, "size": item.size, "side": side}
        rows.append([ATTRIBUTES[a].index(v) if v else IGNORE for a, v in values.items()])
    return rows


def token_labels(offsets: list[tuple[int, int]], spans: list[tuple[int, int, int]], rows, max_tokens: int):
    """[max_tokens, attributes] classes: a word piece inside an item's noun phrase gets that item's attributes."""
    labels = torch.full((max_tokens, len(ATTRIBUTES)), IGNORE, dtype=torch.long)
    for token, (start, end) in enumerate(offsets[:max_tokens]):
        for index, first, last in spans:
            if end > start and start >= first and end <= last:
                labels[token] = torch.tensor(rows[index])
    return labels


def labelled_captions(config: CaptionReaderConfig, n: int, seed: int, encoder: TextEncoder) -> dict[str, torch.Tensor]:
    """`n` captions of random scenes, encoded, with their token labels; cached under <cache>/reader-captions."""
    weights = config.category_weights or None
    plan = json.dumps([n, seed, config.paraphrase_prob, weights, encoder.max_tokens], sort_keys=True)
    path = os.path.join(CACHE_ROOT, "reader-captions", hashlib.sha256(plan.encode()).hexdigest()[:16] + ".safetensors")
    if os.path.isfile(path):
        return load_file(path)
    rng = np.random.default_rng([seed, 31])
    texts, labels = [], []
    for _ in range(n):
        req = training_requirement(sample_scene(rng), rng, weights)
        text, spans = caption_parts(req, rng, config.paraphrase_prob)
        texts.append(text)
        labels.append((spans, item_attributes(req, text)))
    states, masks, label_rows = [], [], []
    for start in tqdm(range(0, n, 256), desc="encoding captions"):
        chunk = texts[start : start + 256]
        s, m = encoder(chunk)
        states.append(s.to(torch.bfloat16))
        masks.append(m.bool())
        for offsets, (spans, rows) in zip(encoder.token_offsets(chunk), labels[start : start + 256], strict=True):
            label_rows.append(token_labels(offsets, spans, rows, encoder.max_tokens))
    data = {"states": torch.cat(states), "mask": torch.cat(masks), "labels": torch.stack(label_rows)}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    save_file(data, path)
    return data


class ReaderWithHeads(nn.Module):
    """The reader and, per attribute, unit class directions that what it adds is projected on."""

    def __init__(self, reader: CaptionReader, scale: float):
        super().__init__()
        self.reader, self.scale = reader, scale
        self.heads = nn.ParameterDict({a: nn.Parameter(torch.randn(len(c), HIDDEN)) for a, c in ATTRIBUTES.items()})

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        added = self.reader.read(states, mask)
        # in ATTRIBUTES' order, the labels' columns (a ParameterDict built from a dict sorts its keys)
        return {a: self.scale * added @ F.normalize(self.heads[a], dim=1).T for a in ATTRIBUTES}


def reader_loss(model: ReaderWithHeads, states, mask, labels, smoothing: float = 0.0):
    """Summed cross-entropy over the attributes, and the share of labelled word pieces each gets right."""
    logits = model(states, mask)
    loss, accuracy = 0.0, {}
    for column, (name, scores) in enumerate(logits.items()):
        target = labels[..., column]
        known = target != IGNORE
        if not known.any():  # e.g. no size named in the batch
            continue
        loss = loss + F.cross_entropy(scores[known], target[known], label_smoothing=smoothing)
        accuracy[name] = (scores[known].argmax(-1) == target[known]).float().mean().item()
    return loss, accuracy


@torch.no_grad()
def held_out_accuracy(model: ReaderWithHeads, data: dict[str, torch.Tensor]) -> dict[str, float]:
    model.eval()  # all at once: a few thousand captions are ~100 MB of states
    _, accuracy = reader_loss(model, data["states"].float(), data["mask"], data["labels"])
    model.train()
    return accuracy


def train_caption_reader(config: CaptionReaderConfig) -> str:
    seed_everything(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    os.makedirs(config.run_dir, exist_ok=True)
    encoder = TextEncoder.load()
    train = labelled_captions(config, config.captions, config.seed, encoder)
    held_out = labelled_captions(config, config.held_out, config.seed + 1000, encoder)

    model = ReaderWithHeads(CaptionReader(layers=config.layers), config.probe_scale).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    info = load_checkpoint(config.run_dir, model, None, optimizer) or {"step": 0, "curve": [], "run_id": None}
    step = info["step"]
    tracker = Tracker(config.mlflow, config.experiment, config.name, os.path.join(config.run_dir, "tb"))
    info["run_id"] = tracker.start(
        vars(config), resume_run_id=info.get("run_id"), tags={"stage": "caption_reader", **training_tags(config)}
    )
    generator = torch.Generator().manual_seed(config.seed + step)
    started = time.time()
    bar = tqdm(total=config.max_steps, initial=step, desc="caption reader", dynamic_ncols=True)
    while step < config.max_steps:
        rows = torch.randint(0, len(train["mask"]), (config.batch_size,), generator=generator)
        set_scheduled_lr(optimizer, config, step, started)
        batch = train["states"][rows].float(), train["mask"][rows], train["labels"][rows]
        loss, accuracy = reader_loss(model, *batch, config.label_smoothing)
        optimizer_step(optimizer, loss, model.parameters(), config.grad_clip)
        step += 1
        bar.update(1)
        if step % config.log_every == 0:
            bar.set_postfix(loss=f"{loss.item():.3f}", side=f"{accuracy.get('side', float('nan')):.2f}")
            tracker.metrics({"loss": loss.item(), **{f"train/{k}": v for k, v in accuracy.items()}}, step)
        if step % config.eval_every == 0 or step == config.max_steps:
            scores = held_out_accuracy(model, held_out)
            info["curve"].append({"step": step, **scores})
            tracker.metrics({f"held_out/{k}": v for k, v in scores.items()}, step)
            tqdm.write(f"step {step}: " + json.dumps({k: round(v, 3) for k, v in scores.items()}))
        if step % config.checkpoint_every == 0 or step == config.max_steps:
            save_checkpoint(config.run_dir, model, None, optimizer, {**info, "step": step})
    bar.close()

    output = config.output_dir or os.path.join(config.run_dir, "final")
    model.reader.save_pretrained(output, safe_serialization=True)
    added = model.reader.read(held_out["states"][:256].float(), held_out["mask"][:256]).norm(dim=-1)
    summary = {
        "config": vars(config),
        "step": step,
        "curve": info["curve"],
        "held_out": info["curve"][-1] if info["curve"] else {},
        # how large the added part is beside the encoder's own states (norms ~5-10), on real tokens
        "added_norm": added[held_out["mask"][:256]].mean().item(),
    }
    return finish_run(output, summary, tracker)
