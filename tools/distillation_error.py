"""How far a guidance-distilled student is from its teacher's guided prediction, step by step on the teacher's own
sampling path.

A student runs only at its sampler's steps and only on the states its sampler reaches, so it is measured there:
the teacher samples each prompt with classifier-free guidance (its default steps and scale), and at every step the
student's one pass at that scale and the teacher's conditional prediction alone are compared with the teacher's guided
prediction (mean squared error). The conditional's row says how much guidance moves the prediction at that step;
a student that had learnt guidance would be near zero on every column (docs/shapes-model.md, session 15).

    .venv/bin/python tools/distillation_error.py --student ~/.cache/t2i/runs/diffusion-v4-distilled-steps/final
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", default="diffusion")
    parser.add_argument("--student", required=True, help="a guidance-distilled model folder")
    parser.add_argument("--prompts", type=int, default=48, help="fresh canonical prompts (6 a category, then cut)")
    args = parser.parse_args()

    from ml_engine.evaluation.prompts import prompt_set
    from ml_engine.models.unet import unet_output
    from ml_engine.pipelines import load_pipeline

    teacher, student = load_pipeline(args.teacher), load_pipeline(args.student).unet
    prompts = [p.text for p in prompt_set(max(1, args.prompts // 8 + 1), seed=3)][: args.prompts]
    states, mask = teacher.encode_prompts(prompts)
    empty, empty_mask = teacher.encode_prompts([""] * len(prompts))
    scale, scheduler = teacher.default_guidance, teacher.scheduler
    scheduler.set_timesteps(teacher.default_steps)
    latents = torch.randn(len(prompts), 16, 8, 8, generator=torch.Generator().manual_seed(1))
    conditional_error, student_error = [], []
    with torch.no_grad():
        for t in scheduler.timesteps:
            x = scheduler.scale_model_input(latents, t)
            cond, uncond = (
                unet_output(teacher.unet, x, t, states, mask),
                unet_output(teacher.unet, x, t, empty, empty_mask),
            )
            guided = uncond + scale * (cond - uncond)
            one_pass = unet_output(student, x, t, states, mask, torch.full((len(prompts),), scale))
            conditional_error.append(float(((cond - guided) ** 2).mean()))
            student_error.append(float(((one_pass - guided) ** 2).mean()))
            latents = scheduler.step(guided, t, latents).prev_sample
    print(f"{len(prompts)} prompts, guidance {scale}; mean squared error to the teacher's guided prediction")
    print("noise step:        " + " ".join(f"{int(t):>6}" for t in scheduler.timesteps))
    print("conditional alone: " + " ".join(f"{e:6.3f}" for e in conditional_error))
    print("student, one pass: " + " ".join(f"{e:6.3f}" for e in student_error))


if __name__ == "__main__":
    main()
