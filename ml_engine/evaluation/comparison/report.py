"""Write the comparison as Markdown with matplotlib charts (and JSON with every figure).

write_report(results, "docs/compare")  ->  docs/compare/{README.md, comparison.json, *.png}
"""

from __future__ import annotations

import json
import os

from ml_engine.data import spec

CORE = list(spec.CATEGORIES[:6])
EXTRA = list(spec.CATEGORIES[6:])


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _alignment_table(results: list[dict]) -> list[str]:
    names = [r["model"] for r in results]
    lines = ["| category | " + " | ".join(names) + " |", "| --- |" + " --- |" * len(names)]
    for category in [*CORE, "overall", *EXTRA]:
        cells = [_fmt(r["alignment"]["scores"].get(category), 2) for r in results]
        label = f"**{category}** (mean of the six above)" if category == "overall" else category
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    counts = ", ".join(f"{r['model']}: {r['alignment']['images']} images" for r in results)
    per = results[0]["alignment"]
    lines.append("")
    lines.append(
        f"Fresh canonical prompts, {per['per_category']} per category x {per['seeds']} seeds ({counts}), "
        "each model at its default steps and guidance."
    )
    return lines


def _distribution_table(results: list[dict]) -> list[str]:
    lines = []
    extractors = sorted({name for r in results for name in r["distribution"]})
    for extractor in extractors:
        rows = [(r["model"], r["distribution"][extractor]) for r in results if extractor in r["distribution"]]
        first = rows[0][1]
        lines += [
            f"Extractor: **{first['extractor']}** ({first['feature_dim']}-d features); "
            f"{first['n_fake']} generated vs {first['n_real']} real renders; floor = {first.get('n_floor', '-')} "
            "other real renders against the same real set (what a perfect generator would score).",
            "",
            "| metric | " + " | ".join(m for m, _ in rows) + " | real-vs-real floor |",
            "| --- |" + " --- |" * (len(rows) + 1),
        ]
        for key, label, digits in (
            ("fid", "FID (lower is better)", 2),
            ("kid_mean", "KID x 1000 (lower is better)", 2),
            ("is_mean", "Inception Score (domain classes, higher is better)", 2),
            ("precision", "precision (k=3)", 3),
            ("recall", "recall (k=3)", 3),
            ("clip_score", "CLIP score", 2),
        ):
            if all(report.get(key) is None for _, report in rows):
                continue
            scale = 1000 if key == "kid_mean" else 1
            cells = [_fmt(None if r.get(key) is None else r[key] * scale, digits) for _, r in rows]
            floor = first.get("floor", {}).get(key)
            lines.append(
                f"| {label} | " + " | ".join(cells) + f" | {_fmt(None if floor is None else floor * scale, digits)} |"
            )
        lines.append("")
    return lines


def _speed_table(results: list[dict]) -> list[str]:
    lines = [
        "| | " + " | ".join(r["model"] for r in results) + " |",
        "| --- |" + " --- |" * len(results),
    ]
    rows = [
        ("sampler", lambda r: r["sampler"]),
        ("default steps / guidance", lambda r: f"{r['speed']['steps']} / {r['speed']['guidance']}"),
        ("one 64x64 image, median (s)", lambda r: _fmt(r["speed"]["single_image_median_s"], 3)),
        ("images/s in batches of 64", lambda r: _fmt(r["speed"]["images_per_s"], 1)),
        ("parameters (trained parts)", lambda r: f"{r['parameters']['total'] / 1e6:.2f}M"),
        (
            "of which",
            lambda r: ", ".join(f"{k} {v / 1e6:.2f}M" for k, v in r["parameters"].items() if k != "total"),
        ),
    ]
    for label, cell in rows:
        lines.append(f"| {label} | " + " | ".join(str(cell(r)) for r in results) + " |")
    lines.append("")
    lines.append("Parameters exclude the frozen MiniLM text encoder (22.7M), which both models share.")
    return lines


def _human_table(results: list[dict]) -> list[str]:
    if not any(r.get("human") for r in results):
        return ["No human judgement was exported (`manage.py export_judgements --out FILE`, then `--human FILE`)."]
    lines = [
        "| | " + " | ".join(r["model"] for r in results) + " |",
        "| --- |" + " --- |" * len(results),
    ]
    for key, label in (
        ("rating_avg", "mean rating (1-5)"),
        ("rating_count", "ratings"),
        ("arena_win_rate", "A/B arena win rate"),
        ("arena_votes", "arena votes"),
    ):
        cells = [_fmt((r.get("human") or {}).get(key), 2) for r in results]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def _charts(results: list[dict], out_dir: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    files = []
    categories = [*CORE, "overall", *EXTRA]
    fig, ax = plt.subplots(figsize=(11, 4))
    width = 0.8 / len(results)
    x = np.arange(len(categories))
    for i, r in enumerate(results):
        ax.bar(x + i * width, [r["alignment"]["scores"].get(c, 0) for c in categories], width, label=r["model"])
    ax.set_xticks(x + width * (len(results) - 1) / 2, categories, rotation=20)
    ax.set(ylabel="pass rate", ylim=(0, 1), title="alignment per category (fresh canonical prompts)")
    ax.axhline(1.0, color="grey", linewidth=0.8, linestyle=":")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "alignment.png"), dpi=110)
    plt.close(fig)
    files.append("alignment.png")

    domain = [(r["model"], r["distribution"].get("domain")) for r in results if r["distribution"].get("domain")]
    if domain:
        fig, axes = plt.subplots(1, 4, figsize=(13, 3.4))
        for ax, (key, label) in zip(
            axes, (("fid", "FID"), ("kid_mean", "KID"), ("precision", "precision"), ("recall", "recall")), strict=True
        ):
            values = [report[key] for _, report in domain]
            ax.bar([m for m, _ in domain], values, color=["C0", "C1", "C2", "C3"][: len(domain)])
            floor = domain[0][1].get("floor", {}).get(key)
            if floor is not None:
                ax.axhline(floor, color="black", linestyle="--", linewidth=1, label="real vs real")
                ax.legend(fontsize=8)
            ax.set_title(label)
            ax.grid(axis="y", alpha=0.3)
        fig.suptitle("domain-classifier features; dashed: two sets of real renders")
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, "distribution.png"), dpi=110)
        plt.close(fig)
        files.append("distribution.png")

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for r in results:
        ax.scatter(r["speed"]["images_per_s"], r["alignment"]["scores"]["overall"], s=80)
        ax.annotate(r["model"], (r["speed"]["images_per_s"], r["alignment"]["scores"]["overall"]))
    ax.set(xscale="log", xlabel="images/s (batches of 64, this CPU)", ylabel="alignment overall", ylim=(0, 1))
    ax.set_title("quality against speed")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "speed.png"), dpi=110)
    plt.close(fig)
    files.append("speed.png")
    return files


def write_report(results: list[dict], out_dir: str, *, command: str = "") -> dict[str, str]:
    os.makedirs(out_dir, exist_ok=True)
    charts = _charts(results, out_dir)
    with open(os.path.join(out_dir, "comparison.json"), "w") as f:
        json.dump(results, f, indent=1, default=float)
    lines = [
        "# Generators compared: " + " vs ".join(r["model"] for r in results),
        "",
        f"Written by `{command or 'python -m ml_engine compare'}`; every figure is in `comparison.json`.",
        "",
        "## Text-image alignment",
        "",
        *_alignment_table(results),
        "",
        "![alignment per category](alignment.png)",
        "",
        "## Image distribution",
        "",
        *_distribution_table(results),
        "![FID, KID, precision and recall against the real-vs-real floor](distribution.png)",
        "",
        "## Speed and size",
        "",
        *_speed_table(results),
        "",
        "![alignment against speed](speed.png)",
        "",
        "## Human judgement",
        "",
        *_human_table(results),
        "",
    ]
    path = os.path.join(out_dir, "README.md")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return {
        "markdown": path,
        "json": os.path.join(out_dir, "comparison.json"),
        **{c: os.path.join(out_dir, c) for c in charts},
    }
