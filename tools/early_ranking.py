"""Could the critic rank candidates before they are finished? Its verdict on the predicted x0 after m steps
against its verdict on the final latents.

The diffusion model fixes the layout in its first steps, so the predicted x0 after a few of them may already
say which candidate will be right. If it does, a sampler could denoise k candidates for m steps and finish only
the best, fitting more candidates into the same time. For each of 25 fresh prompts a category, with per-prompt
seeds, it denoises k candidates in one batch. Per category it prints the pass rate of one draw; of any of the
first 4 or all k candidates; of the critic's pick on the final latents; and of its pick on the x0 predicted
after m = 1..4 steps. The evaluator only measures, as in `evaluate`.

`--schedules` also scores pruning schedules (pipelines/pruning.py) as the pipeline would run them: "16:4@2,1@4"
starts from the first 16 candidates, keeps each image's best 4 by the verdict on the x0 after 2 steps and finishes
the best of those by the verdict after 4. A row's trajectory does not depend on the others, so every schedule is
read off the same k trajectories. Each schedule's cost is printed as UNet rows x steps per image (with guidance
every row runs twice), to set against its latency in `bench/bench_diffusion.py`.

`--critics` ranks the same trajectories by several judges or panels, each written as `attach-critic --critic` takes
it (`DISC,CRITIC:relation+count=2`), so panels are compared on the same candidates; by default the model's own.

    .venv/bin/python tools/early_ranking.py [--model diffusion] [--k 8] [--schedules 8:1@4 16:8@1,2@3,1@5]
        [--critics D,C:relation=2 D,C:relation+count=2]
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from ml_engine.pipelines.pruning import Pruning, applied, parse_pruning, rows_steps  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="diffusion", help="a diffusion model with a critic")
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--per-category", type=int, default=25)
    parser.add_argument("--prompt-seed", type=int, default=2)
    parser.add_argument("--schedules", nargs="*", default=[], help="k:keep@step,..., e.g. 8:1@4 16:8@1,2@3,1@5")
    parser.add_argument("--critics", nargs="*", default=[], help="judges to compare, as attach-critic --critic takes")
    parser.add_argument("--json", help="also write the table here")
    args = parser.parse_args()
    schedules = [parse_schedule(text, args.k) for text in args.schedules]

    from diffusers.utils.torch_utils import randn_tensor

    from ml_engine.cli.attach_critic_cmd import judges_from
    from ml_engine.data import spec
    from ml_engine.evaluation.parse import detect_objects
    from ml_engine.evaluation.prompts import prompt_set
    from ml_engine.evaluation.rules import passes
    from ml_engine.images import to_pil
    from ml_engine.pipelines import load_pipeline
    from ml_engine.pipelines.base import candidate_seed

    pipe = load_pipeline(args.model)
    panels = {f"#{i}": judges_from(written) for i, written in enumerate(args.critics, 1)} or {"": pipe.critic}
    labels = {name: f"{name} | " if name else "" for name in panels}  # the row keys' prefix for each panel
    for i, written in enumerate(args.critics, 1):
        print(f"#{i}: {written}")
    k, steps, guidance = args.k, pipe.default_steps, pipe.default_guidance
    report = {}
    with torch.no_grad():
        prompts = prompt_set(args.per_category, seed=args.prompt_seed)
        for category, group in itertools.groupby(prompts, key=lambda p: p.requirement.category):
            group = list(group)
            n = len(group)
            states, mask = pipe.text([p.text for p in group] + [""])
            cond, cond_mask = states[:n].repeat(k, 1, 1), mask[:n].repeat(k, 1)  # candidate-major rows
            both = torch.cat([states[n:].repeat(k * n, 1, 1), cond])
            both_mask = torch.cat([mask[n:].repeat(k * n, 1), cond_mask])
            generators = [
                torch.Generator().manual_seed(candidate_seed(1000 + i, j)) for j in range(k) for i in range(n)
            ]
            latents = randn_tensor((k * n, 16, 8, 8), generator=generators, dtype=torch.float32)
            pipe.scheduler.set_timesteps(steps)
            judged = {name: functools.partial(judge, panel, cond, cond_mask, k) for name, panel in panels.items()}
            early = {name: [] for name in panels}
            for t in pipe.scheduler.timesteps:
                out = pipe.predict(torch.cat([latents, latents]), t, both, both_mask)
                unconditional, conditional = out.chunk(2)
                out = unconditional + guidance * (conditional - unconditional)
                x0 = pipe._predict_x0(latents, out, t)
                for name in panels:
                    early[name].append(judged[name](x0))
                latents = pipe.scheduler.step(out, t, latents).prev_sample
            images = to_pil(pipe.decode_latents(latents))
            passed = np.array([passes(group[r % n].requirement, detect_objects(im)) for r, im in enumerate(images)])
            passed = passed.reshape(k, n)
            columns = np.arange(n)
            row = {
                "one draw": passed[0].mean(),
                "any of 4": passed[:4].any(0).mean(),
                f"any of {k}": passed.any(0).mean(),
            }
            for name, panel in panels.items():
                raw_scales = tuple(panel.config.get("raw_scales", ()))  # judges added raw (the rest standardised)
                final, label = judged[name](latents), labels[name]
                for first in (min(4, k), k):  # the first 4 (as the model ranked before session 12), then all k
                    pick = pruned_choice((first, ()), [final], raw_scales)
                    row[f"{label}final, best of {first}"] = passed[pick, columns].mean()
                for m in range(1, min(4, steps) + 1):
                    pick = pruned_choice((k, ()), [early[name][m - 1]], raw_scales)
                    row[f"{label}x0 after {m}, best of {k}"] = passed[pick, columns].mean()
                verdicts = [*early[name][:-1], final]  # after each step, the last on the finished latents
                for text, schedule in schedules:
                    row[f"{label}{text}"] = passed[pruned_choice(schedule, verdicts, raw_scales), columns].mean()
            report[category] = row
            print(f"{category:14s} " + "  ".join(f"{key} {v:.2f}" for key, v in row.items()), flush=True)
    keys = list(next(iter(report.values())))
    overall = {key: np.mean([report[c][key] for c in spec.CORE_CATEGORIES]) for key in keys}
    print("overall        " + "  ".join(f"{key} {v:.3f}" for key, v in overall.items()))
    for label in labels.values():
        for text, (start, stages) in schedules:
            cost = rows_steps(start, stages, steps)
            print(f"{label}{text}: overall {overall[label + text]:.3f}, {cost} UNet rows x steps an image")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"k": k, "steps": steps, "per_category": args.per_category, "critics": args.critics,
                   "scores": report, "overall": overall}, f, indent=1, default=float)  # fmt: skip


def judge(critic, states, mask, k: int, latents) -> np.ndarray:
    """Every judge's scores on candidate-major latents, [judges, k, n]."""
    return critic.score(latents, states, mask).float().view(-1, k, states.shape[0] // k).numpy()


def parse_schedule(text: str, k_max: int) -> tuple[str, tuple[int, Pruning]]:
    """ "16:8@1,2@3,1@5" -> (16, ((8, 1), (2, 3), (1, 5))): 16 candidates, pruned as the pipeline would."""
    first, _, stages = text.partition(":")
    if int(first) > k_max:
        raise SystemExit(f"schedule {text!r} starts from more candidates than --k")
    return text, (int(first), parse_pruning(stages))


def pruned_choice(schedule, verdicts, raw_scales: tuple[float, ...] = ()) -> np.ndarray:
    """The candidate each image finishes with: at each stage, its best `keep` by the verdict after that step, and
    the best of those left by the verdict on the finished latents (the last). A verdict holds every judge's scores
    [judges, candidates, images]; a panel's are combined over the candidates still alive, as the pipeline does."""
    from ml_engine.models.critic import ranking_scores

    start, stages = schedule
    judges, _, images = verdicts[0].shape
    alive = np.tile(np.arange(start)[:, None], (1, images))  # [candidates alive, images]
    for keep, step in [*applied(stages, start, len(verdicts)), (1, len(verdicts))]:
        if alive.shape[0] == 1:
            break
        scores = np.take_along_axis(verdicts[step - 1], np.repeat(alive[None], judges, axis=0), axis=1)
        ranking = ranking_scores(torch.from_numpy(scores), raw_scales).numpy()
        alive = np.take_along_axis(alive, np.argsort(-ranking, axis=0, kind="stable")[:keep], axis=0)
    return alive[0]


if __name__ == "__main__":
    main()
