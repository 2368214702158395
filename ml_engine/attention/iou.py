"""How well attention heat maps find the objects their words name: IoU with object masks.

DAAM (Tang et al., 2023) binarises a word's normalised map at a threshold and scores the intersection
over union with the object's segmentation. Here the object is known exactly:

- renders (`render_iou`): fresh scenes, captioned truthfully in the spec's canonical forms; the true
  mask of an object comes from the renderer (`object_mask`). The maps come from DAAM on the render
  (`attention_for_images`: encode, noise, one UNet step per noise level), so they measure where the
  model looks for each word in a correct image. Diffusion models only.
- generated images (`generated_iou`): any pipeline that takes `return_attention=True` (the diffusion
  model; the GAN's word attention plugs in the same way). The evaluator's parse finds the objects in
  the pixels (`ml_engine.evaluation.parse`); a word is scored against the regions that match its
  item, and skipped when the image did not draw it.

A word's region is the union of the objects its noun phrase describes ("a red circle" in a scene
with two red circles: both). Scored words: the shape noun, its colour and its size word; counting
captions (plural nouns for several objects) are left out. Each word is scored at several thresholds
(a fraction of the map's maximum, which is 1); the report names the brief's 0.5 and the best one.
Beside IoU: the pointing game (Zhang et al., 2016: does the map's peak fall on the object? chance
is the object's share of the canvas), and the IoU a map would get by lighting up every object
equally (all foreground), which a coarse map (8x8 latents here) is hard-pressed to beat on
scenes of one or two objects, while its peak can still pick the right object.

    python -m ml_engine attention-iou --renders 200 --generated 25
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ml_engine.attention.maps import AttentionMaps
from ml_engine.data import spec
from ml_engine.data.captions import Requirement, canonical_text, requirement_from_scene

THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)
HEADLINE_THRESHOLD = 0.5
WORD_KINDS = ("shape", "color", "size")
# every category whose caption names single objects by shape (counting names several by a plural)
IOU_CATEGORIES = tuple(c for c in spec.CATEGORIES if c != "counting")


@dataclass(frozen=True)
class WordTarget:
    index: int  # position of the word in AttentionMaps.words
    word: str
    kind: str  # "shape" | "color" | "size"
    item: int  # which item of the requirement it describes


def caption_targets(words: Sequence[str], requirement: Requirement) -> list[WordTarget]:
    """The scored words of a canonical caption: for each item in order, its size, colour and shape word."""
    targets, cursor = [], 0
    for item_index, item in enumerate(requirement.items):
        for kind, word in (("size", item.size), ("color", item.color), ("shape", item.shape)):
            if word is None:
                continue
            try:
                found = next(i for i in range(cursor, len(words)) if words[i] == word)
            except StopIteration:
                raise ValueError(f"{word!r} ({kind} of item {item_index}) is not in the caption {words}") from None
            targets.append(WordTarget(found, word, kind, item_index))
            cursor = found + 1
    return targets


def mask_iou(heat: np.ndarray, mask: np.ndarray, threshold: float) -> float:
    predicted = heat >= threshold
    union = np.logical_or(predicted, mask).sum()
    return float(np.logical_and(predicted, mask).sum() / union) if union else 0.0


def score_words(
    maps: AttentionMaps,
    requirement: Requirement,
    item_masks: Sequence[np.ndarray | None],
    foreground: np.ndarray,
    thresholds: Sequence[float] = THRESHOLDS,
) -> list[dict]:
    """One record per scored word whose item has a mask: IoU per threshold and the all-foreground baseline."""
    records = []
    for target in caption_targets(maps.words, requirement):
        mask = item_masks[target.item]
        if mask is None or not mask.any():
            continue
        heat = maps.maps[target.index]
        peak = np.unravel_index(int(np.argmax(heat)), heat.shape)
        records.append(
            {
                "word": target.word,
                "kind": target.kind,
                "iou": {f"{t:g}": round(mask_iou(heat, mask, t), 4) for t in thresholds},
                "baseline": round(mask_iou(foreground.astype(np.float32), mask, 0.5), 4),
                "hit": bool(mask[peak]),  # pointing game: the map's peak lies on the object
                "hit_chance": round(float(mask.mean()), 4),  # a peak at a uniformly random pixel
            }
        )
    return records


def summarize(records: Sequence[dict], thresholds: Sequence[float] = THRESHOLDS) -> dict:
    """Mean IoU per word kind (and over all words) at each threshold, the baseline, and the best threshold."""
    summary = {}
    for kind in (*WORD_KINDS, "all"):
        chosen = [r for r in records if kind in ("all", r["kind"])]
        if not chosen:
            continue
        means = {f"{t:g}": round(float(np.mean([r["iou"][f"{t:g}"] for r in chosen])), 4) for t in thresholds}
        best = max(means, key=means.get)
        summary[kind] = {
            "words": len(chosen),
            "iou": means,
            "iou_at_headline": means.get(f"{HEADLINE_THRESHOLD:g}"),
            "best_threshold": float(best),
            "iou_at_best": means[best],
            "baseline_all_foreground": round(float(np.mean([r["baseline"] for r in chosen])), 4),
            "pointing": round(float(np.mean([r["hit"] for r in chosen])), 4),
            "pointing_chance": round(float(np.mean([r["hit_chance"] for r in chosen])), 4),
        }
    headline = f"{HEADLINE_THRESHOLD:g}"
    by_category = {}
    for category in dict.fromkeys(r["category"] for r in records if "category" in r):
        chosen = [r for r in records if r.get("category") == category]
        by_category[category] = {
            "words": len(chosen),
            "iou_at_headline": round(float(np.mean([r["iou"][headline] for r in chosen])), 4),
            "pointing": round(float(np.mean([r["hit"] for r in chosen])), 4),
        }
    if by_category:
        summary["by_category"] = by_category
    return summary


# ---------------------------------------------------------------- renders (true masks)


def captioned_scenes(count: int, seed: int) -> list[tuple]:
    """`count` fresh (scene, requirement, caption) triples, the categories taken in turn."""
    from ml_engine.data.scene import sample_scene

    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        category = IOU_CATEGORIES[len(out) % len(IOU_CATEGORIES)]
        scene = sample_scene(rng)
        requirement = requirement_from_scene(category, scene, rng)
        if requirement is not None:
            out.append((scene, requirement, canonical_text(requirement)))
    return out


def render_iou(
    pipe,
    count: int,
    seed: int = 0,
    batch_size: int = 32,
    timesteps: Sequence[int] | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[dict]:
    """DAAM maps of `count` fresh renders against the renderer's true object masks; one record per word."""
    from ml_engine.attention.daam import REAL_IMAGE_TIMESTEPS, attention_for_images
    from ml_engine.data.render import object_mask, render

    samples = captioned_scenes(count, seed)
    records = []
    for start in range(0, len(samples), batch_size):
        chunk = samples[start : start + batch_size]
        images = [render(scene) for scene, _, _ in chunk]
        all_maps = attention_for_images(
            pipe, images, [c for _, _, c in chunk], timesteps=timesteps or REAL_IMAGE_TIMESTEPS, seed=seed + start
        )
        for (scene, requirement, caption), maps in zip(chunk, all_maps, strict=True):
            masks = {id(o): object_mask(o) for o in scene.objects}
            item_masks = [
                np.logical_or.reduce([masks[id(o)] for o in scene.objects if item.matches(o.shape, o.color, o.size)])
                for item in requirement.items
            ]
            for record in score_words(maps, requirement, item_masks, np.logical_or.reduce(list(masks.values()))):
                records.append({"caption": caption, "category": requirement.category, **record})
        if progress is not None:
            progress(len(chunk))
    return records


# ---------------------------------------------------------------- generated images (parsed regions)


def parsed_regions(image) -> tuple[list, np.ndarray]:
    """The evaluator's objects in an image, each with its pixel mask: ([(DetectedObject, mask)], foreground)."""
    from ml_engine.evaluation.parse import detect_objects, foreground_mask

    pixels = np.asarray(image.convert("RGB") if hasattr(image, "convert") else image)
    foreground = foreground_mask(pixels)
    labels, _ = ndimage.label(foreground)  # the same 4-connected regions detect_objects labels
    by_box = {}
    for index, window in enumerate(ndimage.find_objects(labels), start=1):
        if window is not None:
            ys, xs = window
            by_box[(xs.start, ys.start, xs.stop, ys.stop)] = labels == index
    return [(obj, by_box[obj.box]) for obj in detect_objects(pixels)], foreground


def generated_iou(
    pipe,
    per_category: int,
    seed: int = 0,
    steps: int | None = None,
    guidance: float | None = None,
    batch_size: int = 32,
    prompt_seed: int = 1,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[dict], int]:
    """The pipeline's own attention maps on its images for fresh canonical prompts, against the parsed objects.

    Works for any pipeline whose `__call__` takes `return_attention=True` and fills `result.attention`.
    Returns the word records and the number of items the images did not draw (their words are not scored).
    """
    import torch

    from ml_engine.evaluation.prompts import prompt_set

    prompts = [p for p in prompt_set(per_category, seed=prompt_seed) if p.requirement.category in IOU_CATEGORIES]
    steps = steps or getattr(pipe, "default_steps", 20)
    guidance = getattr(pipe, "default_guidance", 4.0) if guidance is None else guidance
    records, missing = [], 0
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start : start + batch_size]
        generators = [torch.Generator("cpu").manual_seed(seed + start + i) for i in range(len(chunk))]
        result = pipe(
            [p.text for p in chunk],
            num_inference_steps=steps,
            guidance_scale=guidance,
            generator=generators,
            return_attention=True,
        )
        if not result.attention or len(result.attention) != len(chunk):
            raise ValueError(f"{type(pipe).__name__} returned no attention maps for return_attention=True")
        for prompt, image, maps in zip(chunk, result.images, result.attention, strict=True):
            regions, foreground = parsed_regions(image)
            item_masks = []
            for item in prompt.requirement.items:
                found = [m for o, m in regions if item.matches(o.shape, o.color, o.size)]
                item_masks.append(np.logical_or.reduce(found) if found else None)
            size = maps.maps.shape[1:]
            if size != foreground.shape:
                raise ValueError(f"attention maps are {size}, the image is {foreground.shape}")
            scored = score_words(maps, prompt.requirement, item_masks, foreground)
            for record in scored:
                records.append({"caption": prompt.text, "category": prompt.requirement.category, **record})
            missing += sum(m is None for m in item_masks)
        if progress is not None:
            progress(len(chunk))
    return records, missing
