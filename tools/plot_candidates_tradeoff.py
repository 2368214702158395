"""Alignment against latency for the diffusion model's candidate counts (docs/figures/candidates-tradeoff.png).

Reads the benchmark's interleaved medians in docs/eval/diffusion-candidates-latency.json and the
selection-protocol evaluations it names (docs/eval/diffusion-selection*.json); draws one point per
candidate count (docs/shapes-model.md, "Candidates against latency").

    .venv/bin/python tools/plot_candidates_tradeoff.py
"""

from __future__ import annotations

import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EVAL = os.path.join(ROOT, "docs", "eval")


def main() -> None:
    with open(os.path.join(EVAL, "diffusion-candidates-latency.json")) as f:
        bench = json.load(f)
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, name in bench["selection"].items():
        with open(os.path.join(EVAL, name)) as f:
            overall = json.load(f)["scores"]["overall"]
        candidates = label.split(",")[0]
        latency = bench["plain_ms"][candidates]
        shipped = label == "10"
        ax.scatter(latency, overall, s=60 if shipped else 30, color="tab:red" if shipped else "tab:blue", zorder=3)
        count, _, judges = label.partition(", ")
        text = f"{count} candidates" + (f", {judges}" if judges else "") + (", terms x 3 (shipped)" if shipped else "")
        ax.annotate(text, (latency, overall), textcoords="offset points", xytext=(6, -12 if "x 2" in label else 4))
    ax.axhline(0.90, color="grey", linestyle="--", linewidth=0.8)
    ax.axvline(250, color="grey", linestyle=":", linewidth=0.8)
    ax.set_xlabel("one 64x64 image, median ms (interleaved, this CPU)")
    ax.set_ylabel("alignment, selection protocol (800 images)")
    ax.set_title("Ranked candidates: alignment against latency\n(8 steps, the best kept after 4)", fontsize=10)
    ax.set_xlim(140, 260)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out = os.path.join(ROOT, "docs", "figures", "candidates-tradeoff.png")
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
