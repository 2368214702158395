"""Does a model read word order? Captions that differ only in order, against captions that differ in a word.

The frozen MiniLM's token states carry little word order (docs/shapes-model.md, session 8), so a model that
attends over them without positions of its own reads a caption nearly as a bag of words. This prints, for
pairs of captions:
- the cosine of the encoder's token states, word for word at the same word (and, for a model with a caption
  reader, of the states the UNet reads);
- for the diffusion model, how much the image changes (share of pixels that move by more than 40 levels, same
  seed, one draw), when the two nouns swap places ("a circle left of a square" / "a square left of a circle"),
  when the colours swap between the shapes, when the relation turns round, and when a noun is replaced. A model
  that read order would change the picture as much for the first two as for the last;
- for the diffusion model, how often the true caption denoises its own scene better than its word-order twin
  (the same words, the related objects or their colours swapped), over four noise levels: 0.5 is a bag of words.

    .venv/bin/python tools/word_order_probe.py [--model diffusion] [--pairs 48]
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402


def caption_pairs(rng: np.random.Generator, n: int) -> dict[str, list[tuple[str, str]]]:
    from ml_engine.data import spec
    from ml_engine.data.captions import INVERSE

    pairs: dict[str, list[tuple[str, str]]] = {k: [] for k in ("nouns swapped", "colours swapped", "relation turned",
                                                               "noun replaced")}  # fmt: skip
    for _ in range(n):
        a, b, c = rng.choice(spec.SHAPES, size=3, replace=False)
        x, y = rng.choice(spec.COLORS, size=2, replace=False)
        relation = spec.RELATIONS[int(rng.integers(len(spec.RELATIONS)))]
        rel, turned = spec.RELATION_PHRASES[relation], spec.RELATION_PHRASES[INVERSE[relation]]
        pairs["nouns swapped"].append((f"a {a} {rel} a {b}", f"a {b} {rel} a {a}"))
        pairs["colours swapped"].append((f"a {x} {a} and a {y} {b}", f"a {y} {a} and a {x} {b}"))
        pairs["relation turned"].append((f"a {a} {rel} a {b}", f"a {a} {turned} a {b}"))
        pairs["noun replaced"].append((f"a {a} {rel} a {b}", f"a {c} {rel} a {b}"))
    return pairs


def same_word_cosine(text, first: str, second: str, word: str, read=None) -> float:
    """Cosine of `word`'s token state in two captions (it must be one word piece in both), as the encoder gives it
    or, given the pipeline's `unet_states`, as the UNet reads it."""
    states, mask = text([first, second])
    if read is not None:
        with torch.no_grad():
            states = read(states, mask)
    at = [["[CLS]", *text.tokenizer.tokenize(c)].index(word) for c in (first, second)]
    return torch.cosine_similarity(states[0, at[0]], states[1, at[1]], dim=0).item()


def twin(req):
    """The same words in another order, false of the scene: the related objects swapped, or their colours."""
    import dataclasses

    from ml_engine.data.negatives import swap_colors

    a, b = req.items
    return dataclasses.replace(req, items=(b, a) if req.relation else swap_colors(a, b))


TWIN_TIMESTEPS = (300, 500, 700, 900)


@torch.no_grad()
def denoising_twins(pipe, n: int, timesteps=TWIN_TIMESTEPS) -> dict[str, list[float]]:
    """Share of held-out scenes whose noisy latent the true caption denoises better than its twin, the same words
    in another order (position: the objects swapped; binding: their colours swapped), over a few noise levels. The
    denoising error is the model's own measure of fit (Li et al., 2023): a bag-of-words reader scores 0.5. Per
    category, the share at each noise level: the layout is decided at the noisiest ones."""
    from ml_engine.data.captions import canonical_text, passes, requirement_from_scene
    from ml_engine.data.render import render_batch
    from ml_engine.data.scene import sample_scene
    from ml_engine.schedulers import noised, training_scheduler
    from ml_engine.training.data import encode_renders

    rng = np.random.default_rng(7)
    trained = pipe.scheduler.config  # the sampler shares the training schedule
    noise_scheduler = training_scheduler(trained.num_train_timesteps, trained.beta_schedule, trained.prediction_type)
    shares = {}
    for category in ("position", "color_attr"):
        scenes, pairs = [], []
        while len(pairs) < n:
            scene = sample_scene(rng)
            req = requirement_from_scene(category, scene, rng)
            if req is None or passes(twin(req), scene.objects):
                continue
            scenes.append(scene)
            pairs.append((canonical_text(req), canonical_text(twin(req))))
        latents = encode_renders(pipe.autoencoder, render_batch(scenes))
        states, mask = pipe.text([p[0] for p in pairs] + [p[1] for p in pairs])
        states = pipe.unet_states(states, mask)
        right = []
        generator = torch.Generator().manual_seed(0)
        for step in timesteps:
            noise = torch.randn(latents.shape, generator=generator)
            t = torch.full((n,), step)
            noisy, target = noised(noise_scheduler, latents, noise, t)
            pred = pipe.predict(torch.cat([noisy, noisy]), torch.cat([t, t]), states, mask)
            error = (pred - torch.cat([target, target])).pow(2).mean(dim=(1, 2, 3))
            right.append((error[:n] < error[n:]).float().mean().item())
        shares[category] = right
    return shares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="diffusion")
    parser.add_argument("--pairs", type=int, default=48)
    args = parser.parse_args()

    from ml_engine.pipelines import load_pipeline

    pipe = load_pipeline(args.model)
    reads = [None] + ([pipe.unet_states] if getattr(pipe, "caption_reader", None) is not None else [])
    print("token states, cosine at the same word" + (" (encoder / through the caption reader):" if reads[1:] else ":"))
    for first, second, word in (
        ("a circle to the left of a square", "a square to the left of a circle", "circle"),
        ("a circle to the left of a square", "a square to the left of a circle", "left"),
        ("a red circle and a blue square", "a blue circle and a red square", "circle"),
        ("a red circle and a blue square", "a red square and a blue circle", "red"),
    ):
        cosines = [same_word_cosine(pipe.text, first, second, word, read) for read in reads]
        print(f"  {word!r} in {first!r} / {second!r}: " + " / ".join(f"{c:.3f}" for c in cosines))
    pairs = caption_pairs(np.random.default_rng(0), args.pairs)
    print(f"{'captions differing by':<18} {'image pixels changed':>22}")
    for kind, items in pairs.items():
        firsts, seconds = [p[0] for p in items], [p[1] for p in items]
        seeds = list(range(len(items)))
        options = {"seed": None, "candidates": 1, "output_type": "pt"}
        with torch.no_grad():
            one = pipe(firsts, generator=[torch.Generator().manual_seed(s) for s in seeds], **options).images
            two = pipe(seconds, generator=[torch.Generator().manual_seed(s) for s in seeds], **options).images
        changed = ((one - two).abs().amax(dim=1) > 40 / 127.5).float().mean().item()
        print(f"{kind:<18} {changed:>22.3f}")
    if hasattr(pipe, "unet"):
        print("denoising error: the true caption fits its scene better than its word-order twin (0.5 = bag of words)")
        print(f"  {'':<16} {'mean':>6}" + "".join(f"{f't={t}':>8}" for t in TWIN_TIMESTEPS))
        for category, shares in denoising_twins(pipe, args.pairs * 4).items():
            print(f"  {category:<16} {np.mean(shares):>6.3f}" + "".join(f"{s:>8.3f}" for s in shares))


if __name__ == "__main__":
    main()
