"""Train the LatentCritic that ranks the diffusion model's candidates.

Each step draws scenes from the latent pool with a true caption (drawn from the scene's graph, weighted
to the hard categories like the generators' captions) and a near miss of it (data/negatives.py: the
colours swapped, the relation turned round, the count off by one; checked false against the graph).
Binary cross-entropy teaches three verdicts: the true caption on its scene is a match; the near miss
on the same scene is not; the true caption on another scene of the batch, where the graph says it is
false, is not either (the comparison ranking makes: one caption, several latents). The latents get
Gaussian noise of a random strength, since the diffusion model's latents are never quite clean. With
`redrawn_model`, a share of the batches comes instead from scenes that the diffusion model has redrawn
(training/redrawn.py): the same labels, on latents that look like the model's own. With `count_loss_weight`, the
critic's count term (models/critic.py) is also taught directly: each shape's count in the picture from the scene
graph, and what the caption asks for from its requirement.

Every `eval_every` steps, on held-out scenes (a pool of another seed, without noise): per category,
how often the true caption outscores its near miss, and the share of all verdicts that are right; with
`redrawn_model`, the same again on the held-out scenes as the model redraws them (`redrawn/...`).

    python -m ml_engine train --config configs/critic-v8-longer.json   # then critic-v9-counts.json, continued from it
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ml_engine.config import CriticConfig
from ml_engine.data import spec
from ml_engine.data.captions import Requirement, passes
from ml_engine.data.counterfactuals import counterfactual
from ml_engine.data.render import render_batch
from ml_engine.data.scene import Scene
from ml_engine.models.caption_reader import CaptionReader
from ml_engine.models.critic import JudgePanel, LatentCritic, verdict_of
from ml_engine.precision import autocast
from ml_engine.provenance import training_tags
from ml_engine.tracking import Tracker
from ml_engine.training.common import (
    EMA,
    after_step,
    finish_run,
    load_checkpoint,
    optimizer_step,
    save_checkpoint,
    set_scheduled_lr,
)
from ml_engine.training.data import CaptionedDraw, ScenePool, encode_renders, latent_run_start
from ml_engine.training.redrawn import redrawn_pool


class Verdicts:
    """One step's rows: which latent (of the drawn scenes, then their counterfactuals), which caption and what it
    claims, the kind of verdict, and which drawn scene's true verdict it is compared with."""

    TARGETS = {"true": 1.0, "near_miss": 0.0, "other_scene": 0.0, "counterfactual": 0.0}

    def __init__(self, other_scene_weight: float, counterfactual_weight: float = 1.0):
        self.weight_of = {
            "true": 1.0,
            "near_miss": 1.0,
            "other_scene": other_scene_weight,
            "counterfactual": counterfactual_weight,
        }
        self.rows: list[int] = []
        self.captions: list[str] = []
        self.requirements: list[Requirement] = []
        self.kinds: list[str] = []
        self.about: list[int] = []

    def add(self, row: int, caption: str, requirement: Requirement, kind: str, about: int | None = None) -> None:
        self.rows.append(row)
        self.captions.append(caption)
        self.requirements.append(requirement)
        self.kinds.append(kind)
        self.about.append(row if about is None else about)

    @property
    def targets(self) -> list[float]:
        return [self.TARGETS[k] for k in self.kinds]

    @property
    def weights(self) -> list[float]:
        return [self.weight_of[k] for k in self.kinds]


def verdicts_for(
    pool: ScenePool, draw: CaptionedDraw, other_image_weight: float, counterfactual_weight: float = 1.0
) -> Verdicts:
    """True caption on its scene (1), its near miss on it (0), and on the next scene where it is false (0)."""
    verdicts = Verdicts(other_image_weight, counterfactual_weight)
    n = len(draw.ids)
    negatives = zip(draw.negatives, draw.negative_requirements, strict=True)
    for row, (caption, req, (negative, false)) in enumerate(
        zip(draw.captions, draw.requirements, negatives, strict=True)
    ):
        verdicts.add(row, caption, req, "true")
        if negative is not None:
            verdicts.add(row, negative, false, "near_miss")
        other = (row + 1) % n
        if other_image_weight and not passes(req, pool.scenes[draw.ids[other]].objects):
            verdicts.add(other, caption, req, "other_scene", about=row)
    return verdicts


def add_counterfactuals(
    verdicts: Verdicts, pool: ScenePool, draw: CaptionedDraw, autoencoder, rng: np.random.Generator, share: float
) -> tuple[torch.Tensor, list[Scene]]:
    """For a `share` of the drawn scenes, the scene edited until its caption is false (data/counterfactuals.py),
    as a verdict on the same caption; returns the latents the verdicts' rows index (drawn scenes, then edits) and
    their scenes."""
    edited: list[Scene] = []
    for row, (caption, req) in enumerate(zip(draw.captions, draw.requirements, strict=True)):
        if req is None or rng.random() >= share:
            continue
        scene = counterfactual(req, pool.scenes[draw.ids[row]], rng)
        if scene is not None:
            verdicts.add(len(draw.ids) + len(edited), caption, req, "counterfactual", about=row)
            edited.append(scene)
    latents = pool.latents[torch.from_numpy(draw.ids)]
    scenes = [pool.scenes[i] for i in draw.ids] + edited
    return (torch.cat([latents, encode_renders(autoencoder, render_batch(edited))]) if edited else latents), scenes


def shape_counts(scenes: list[Scene]) -> torch.Tensor:
    """How many objects of each shape (spec.SHAPES) each scene holds, [scenes, shapes]: the count term's labels."""
    counts = torch.zeros(len(scenes), len(spec.SHAPES))
    for row, scene in enumerate(scenes):
        for obj in scene.objects:
            counts[row, spec.SHAPES.index(obj.shape)] += 1
    return counts


def count_labels(requirements: list[Requirement | None]) -> dict[str, torch.Tensor]:
    """What each caption asks the count term for: "asks" 1 where it asks for an exact number (counting), and then
    "wanted", how many, and "shape", of which shape (spec.SHAPES index; -100 where it asks none); and "names", 1 for
    each shape it names [captions, shapes]."""
    counting = [r is not None and r.count is not None for r in requirements]
    names = torch.zeros(len(requirements), len(spec.SHAPES))
    for row, r in enumerate(requirements):
        for item in r.items if r is not None else ():
            names[row, spec.SHAPES.index(item.shape)] = 1.0
    return {
        "names": names,
        "asks": torch.tensor(counting, dtype=torch.float),
        "wanted": torch.tensor([float(r.count) if c else 0.0 for r, c in zip(requirements, counting, strict=True)]),
        "shape": torch.tensor(
            [spec.SHAPES.index(r.items[0].shape) if c else -100 for r, c in zip(requirements, counting, strict=True)]
        ),
    }


def count_loss(terms: dict[str, torch.Tensor], counts: torch.Tensor, labels: dict[str, torch.Tensor]) -> torch.Tensor:
    """The count term's own lessons: each shape's count in the picture (`counts`, from its scene graph), and which
    shapes the caption names and whether, how many and of which shape it asks for exactly (`count_labels`)."""
    loss = F.smooth_l1_loss(terms["found"].float(), counts)
    loss = loss + F.binary_cross_entropy_with_logits(terms["asks"], labels["asks"])
    loss = loss + F.binary_cross_entropy_with_logits(terms["names"], labels["names"])
    asked = labels["asks"] > 0
    if asked.any():
        loss = loss + F.smooth_l1_loss(terms["wanted"][asked], labels["wanted"][asked])
        loss = loss + F.cross_entropy(terms["shape"][asked], labels["shape"][asked])
    return loss


def noisy(latents: torch.Tensor, max_std: float, generator: torch.Generator) -> torch.Tensor:
    std = torch.rand(latents.shape[0], 1, 1, 1, generator=generator) * max_std
    return latents + std * torch.randn(latents.shape, generator=generator)


@torch.no_grad()
def held_out_accuracy(
    critic: LatentCritic,
    latents: torch.Tensor,
    draw: CaptionedDraw,
    verdicts: Verdicts,
    captions,
    device,
    counts: torch.Tensor | None = None,
) -> dict:
    """Per category, the share of scenes whose true caption outscores its near miss, and the share whose true
    caption scores higher on the scene than on its counterfactual; and all verdicts' accuracy. `latents` are the
    ones `verdicts.rows` index (the drawn scenes', then their counterfactuals'). With a count term and the latents'
    `counts` of each shape: how often it counts every shape right ("count/exact"), and its mean absolute error."""
    logits, found = [], []
    for start in range(0, len(verdicts.rows), 512):
        rows = torch.tensor(verdicts.rows[start : start + 512])
        states, mask = captions.lookup(verdicts.captions[start : start + 512])
        terms = critic.terms(latents[rows].to(device), states.to(device), mask.to(device))
        logits.append(verdict_of(terms).float().cpu())
        if "found" in terms:
            found.append(terms["found"].float().cpu())
    logits = torch.cat(logits)
    targets = torch.tensor(verdicts.targets)
    right = ((logits > 0).float() == targets).float()
    scores: dict[str, float] = {"verdicts": round(right.mean().item(), 4)}
    if found and counts is not None:
        found, truth = torch.cat(found), counts[torch.tensor(verdicts.rows)]
        scores["count/exact"] = round((found.round() == truth).all(dim=1).float().mean().item(), 4)
        scores["count/mae"] = round((found - truth).abs().mean().item(), 4)
    positive = {
        row: logits[i]
        for i, (row, kind) in enumerate(zip(verdicts.rows, verdicts.kinds, strict=True))
        if kind == "true"
    }
    wins: dict[str, list[float]] = {}
    for i, (about, kind) in enumerate(zip(verdicts.about, verdicts.kinds, strict=True)):
        if kind in ("near_miss", "counterfactual"):
            key = f"{kind}/{draw.requirements[about].category}"
            wins.setdefault(key, []).append(float(positive[about] > logits[i]))
    for key, hits in sorted(wins.items()):
        scores[key] = round(float(np.mean(hits)), 4)
    return scores


def saved_critic(folder: str) -> LatentCritic:
    """The LatentCritic saved in `folder`, or the one member of a saved JudgePanel that is one (so a run can go on
    from the critic a shipped model ranks with, `ml_engine/weights/diffusion/critic`)."""
    with open(os.path.join(folder, "config.json")) as f:
        kind = json.load(f).get("_class_name")
    if kind != "JudgePanel":
        return LatentCritic.from_pretrained(folder)
    members = [m for m in JudgePanel.from_pretrained(folder).members if isinstance(m, LatentCritic)]
    if len(members) != 1:
        raise ValueError(f"{folder} is a panel of {len(members)} LatentCritics, not one")
    return members[0]


def continued_critic(
    folder: str, relative_bias: bool = False, word_positions: bool = False, count_shapes: int = 0
) -> LatentCritic:
    """A saved critic to train on, given the offset bias, word order or count term it lacks (the offset bias starts
    as a no-op, the count term nearly so; word order starts as sinusoids, models/critic.py). It is trained on its
    whole verdict, whatever it was `judged_by` in a panel."""
    start = saved_critic(folder)
    settings = {k: v for k, v in start.config.items() if not k.startswith("_")}
    wanted = {
        **settings,
        "relative_bias": settings.get("relative_bias", False) or relative_bias,
        "word_positions": settings.get("word_positions", False) or word_positions,
        "count_shapes": max(settings.get("count_shapes", 0), count_shapes),
        "judged_by": "verdict",
    }
    if wanted == settings:
        return start
    critic = LatentCritic.from_config(wanted)  # a setting it no longer takes (an older version's) is ignored
    critic.load_state_dict(start.state_dict(), strict=False)  # every weight but the new ones
    return critic


def parameter_groups(critic: LatentCritic, count_lr_scale: float) -> list[dict]:
    """The count term learns `count_lr_scale` times faster than the rest: at a continued critic's rate its density,
    started near empty (models/critic.py), had not moved in 300 steps (count error 0.53 an object, as a constant)."""
    trainable = [p for p in critic.parameters() if p.requires_grad]
    if critic.count is None:
        return [{"params": trainable}]
    counting = {id(p) for p in [*critic.count.parameters(), critic.count_scale]}
    return [
        {"params": [p for p in trainable if id(p) not in counting]},
        {"params": [p for p in trainable if id(p) in counting], "lr_scale": count_lr_scale},
    ]


def train_critic(config: CriticConfig) -> str:
    pool_seed = config.seed if config.pool_seed < 0 else config.pool_seed
    autoencoder, pool, text, captions, caption_file = latent_run_start(config, pool_seed)
    device = config.device
    weights = config.category_weights or None
    held_out = ScenePool.build(autoencoder, config.eval_scenes, pool_seed + 10_000)
    held_out_draw = held_out.draw(np.random.default_rng(2024), config.eval_scenes, 0.0, 0.0, weights, 1.0)
    held_out_verdicts = verdicts_for(held_out, held_out_draw, 1.0)  # the same at every evaluation
    held_out_latents, held_out_scenes = add_counterfactuals(
        held_out_verdicts, held_out, held_out_draw, autoencoder, np.random.default_rng(2025), 1.0
    )
    held_out_counts = shape_counts(held_out_scenes)
    redrawn = held_out_redrawn = None
    if config.redrawn_model:
        key = f"{pool_seed}-{len(pool)}"
        redrawn = redrawn_pool(pool, config.redrawn_model, config.redrawn_scenes, config.redrawn_start, 1, key)
        key = f"{pool_seed + 10_000}-{len(held_out)}"
        held_out_redrawn = redrawn_pool(held_out, config.redrawn_model, len(held_out), config.redrawn_start, 2, key)

    count_shapes = len(spec.SHAPES) if config.count_loss_weight else 0
    if config.init_from:
        folder = os.path.expanduser(config.init_from)
        extras = (config.relative_bias, config.word_positions, count_shapes)
        critic = continued_critic(folder, *extras).to(device).train()
    else:
        critic = LatentCritic(
            width=config.width,
            layers=config.layers,
            heads=config.heads,
            relative_bias=config.relative_bias,
            word_positions=config.word_positions,
            caption_reader=bool(config.caption_reader_from),
            relation_heads=config.relation_heads,
            count_shapes=count_shapes,
        )
        if config.caption_reader_from:  # pre-trained on captions, and frozen (the critic's own config builds it so)
            reader = CaptionReader.from_pretrained(os.path.expanduser(config.caption_reader_from), use_safetensors=True)
            critic.reader.load_state_dict(reader.state_dict())
        critic = critic.to(device).train()
    ema = EMA(critic, 0.999)
    trainable = [p for p in critic.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameter_groups(critic, config.count_lr_scale), weight_decay=config.weight_decay)
    info = load_checkpoint(config.run_dir, critic, ema, optimizer) or {"step": 0, "curve": [], "loss_curve": []}
    step = info["step"]
    rng = np.random.default_rng([config.seed, step])
    noise = torch.Generator().manual_seed(config.seed * 1000 + step)
    params = sum(p.numel() for p in trainable)
    tracker = Tracker(config.mlflow, config.experiment, config.name, os.path.join(config.run_dir, "tb"))
    info["run_id"] = tracker.start(
        {**vars(config), "critic_params": params},
        resume_run_id=info.get("run_id"),
        tags={"stage": "critic", **training_tags(config)},
    )
    ema_critic = LatentCritic.from_config(critic.config).to(device).eval()

    def evaluate_and_log():
        ema.copy_to(ema_critic)
        judged = (held_out_draw, held_out_verdicts, captions, device, held_out_counts)
        scores = held_out_accuracy(ema_critic, held_out_latents, *judged)
        if held_out_redrawn is not None:  # the same scenes and verdicts, as the model redraws them (edits clean)
            drawn = len(held_out_draw.ids)
            redrawn_latents = held_out_latents.clone()
            redrawn_latents[:drawn] = held_out_redrawn.latents[torch.from_numpy(held_out_draw.ids)]
            redrawn_scores = held_out_accuracy(ema_critic, redrawn_latents, *judged)
            scores.update({f"redrawn/{k}": v for k, v in redrawn_scores.items()})
        info["curve"].append({"step": step, "images": step * config.batch_size, **scores})
        tracker.metrics({f"eval/{k}": v for k, v in scores.items()}, step)
        tqdm.write(f"step {step}: " + json.dumps(scores))

    def checkpoint(with_captions: bool):
        save_checkpoint(config.run_dir, critic, ema, optimizer, {**info, "step": step})
        if with_captions:  # large (GBs late in a run): saved rarely, unseen captions re-encode
            captions.save(caption_file)

    started, since_log = time.time(), time.time()
    bar = tqdm(total=config.max_steps, initial=step, desc="critic", dynamic_ncols=True)
    try:
        while step < config.max_steps:
            source = redrawn if redrawn is not None and rng.random() < config.redrawn_share else pool
            draw = source.draw(rng, config.batch_size, 0.0, config.paraphrase_prob, weights, config.near_miss_prob)
            verdicts = verdicts_for(source, draw, config.other_image_weight, config.counterfactual_weight)
            batch = add_counterfactuals(verdicts, source, draw, autoencoder, rng, config.counterfactual_prob)
            rows = torch.tensor(verdicts.rows)
            latents = noisy(batch[0][rows], config.latent_noise, noise)
            states, mask = captions.lookup(verdicts.captions)
            targets = torch.tensor(verdicts.targets, device=device)
            loss_weights = torch.tensor(verdicts.weights, device=device)
            lr = set_scheduled_lr(optimizer, config, step, started)
            with autocast(device, config.bf16):
                terms = critic.terms(latents.to(device), states.to(device), mask.to(device))
            logits = verdict_of(terms).float()
            loss = (F.binary_cross_entropy_with_logits(logits, targets, reduction="none") * loss_weights).mean()
            if "found" in terms:  # the count term, taught the scene graph's counts and the captions' asks directly
                labels = {k: v.to(device) for k, v in count_labels(verdicts.requirements).items()}
                counts = shape_counts(batch[1])[rows].to(device)
                loss = loss + config.count_loss_weight * count_loss(terms, counts, labels)
            optimizer_step(optimizer, loss, trainable, config.grad_clip)
            ema.update(critic, step)
            step += 1
            bar.update(1)
            if step % config.log_every == 0:
                rate = config.log_every * config.batch_size / (time.time() - since_log)
                since_log = time.time()
                bar.set_postfix(loss=f"{loss.item():.3f}", scenes_s=f"{rate:.0f}")
                info["loss_curve"].append([step, round(loss.item(), 5)])
                tracker.metrics({"loss": loss.item(), "lr": lr, "scenes_per_s": rate}, step)
            if after_step(step, config, started, evaluate_and_log, checkpoint):
                break
    finally:
        bar.close()

    if step and (not info["curve"] or info["curve"][-1]["step"] != step):
        evaluate_and_log()
    ema.copy_to(ema_critic)
    output = os.path.expanduser(config.output_dir or os.path.join(config.run_dir, "final"))
    ema_critic.save_pretrained(output, safe_serialization=True)
    summary = {
        "config": vars(config),
        "step": step,
        "scenes_seen": step * config.batch_size,
        "critic_params": params,
        "curve": info["curve"],
        "loss_curve": info["loss_curve"],
    }
    return finish_run(output, summary, tracker)
