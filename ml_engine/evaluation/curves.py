"""Plot a training run's alignment curve (per category against images seen) and its loss curve.

python -m ml_engine.evaluation.curves ml_engine/weights/diffusion/training.json docs/figures/diffusion-curve.png
"""

from __future__ import annotations

import json
import sys

from ml_engine.data import spec


def plot_training(summary_path: str, out_path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(summary_path) as f:
        summary = json.load(f)
    curve, losses = summary.get("curve", []), summary.get("loss_curve") or []
    batch = summary["config"]["batch_size"]
    critic = summary["config"].get("kind") == "critic"  # a critic's curve is its held-out accuracy, not alignment
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for category in [*spec.CATEGORIES, "overall"]:
        key = ("verdicts" if category == "overall" else f"near_miss/{category}") if critic else category
        points = [(c["images"] / 1000, c[key]) for c in curve if key in c]
        color = None
        if points:
            xs, ys = zip(*points, strict=True)
            style = {"linewidth": 3, "color": "black"} if category == "overall" else {"linewidth": 1.2}
            label = "all verdicts right" if critic and category == "overall" else category
            color = left.plot(xs, ys, marker="o", markersize=3, label=label, **style)[0].get_color()
        # a critic trained on counterfactual scenes: the same caption scored higher on its scene than on the edit
        edited_key = f"counterfactual/{category}"
        hard = critic and category in ("counting", "position", "color_attr")
        edited = [(c["images"] / 1000, c[edited_key]) for c in curve if edited_key in c] if hard else []
        if edited:
            xs, ys = zip(*edited, strict=True)
            left.plot(xs, ys, linestyle="--", color=color, label=f"{category}, against its edited scene")
    title = (
        "held-out scenes: true caption outscores its near miss (EMA)"
        if critic
        else "alignment on fresh canonical prompts (EMA weights)"
    )
    left.set(xlabel="training images seen (thousands)", ylabel="pass rate", ylim=(0, 1.02), title=title)
    left.grid(alpha=0.3)
    left.legend(fontsize=8, ncol=2)
    before = summary.get("images_seen_before", 0)  # a run continued from an earlier model
    if losses:
        steps = [(before + row[0] * batch) / 1000 for row in losses]
        names = ["loss"] if len(losses[0]) == 2 else ["discriminator", "generator"]  # a GAN logs both
        for column, name in enumerate(names, start=1):
            values = [row[column] for row in losses]
            right.plot(steps, values, linewidth=0.6, alpha=0.4)
            window = max(1, len(values) // 50)
            smooth = [
                sum(values[max(0, i - window) : i + 1]) / len(values[max(0, i - window) : i + 1])
                for i in range(len(values))
            ]
            right.plot(steps, smooth, linewidth=2, label=name)
        if len(names) > 1:
            right.legend(fontsize=8)
    scale = "log" if losses and len(losses[0]) == 2 else "linear"  # GAN losses are not positive
    right.set(xlabel="training images seen (thousands)", ylabel="loss", title="training loss", yscale=scale)
    right.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    plot_training(sys.argv[1], sys.argv[2])
