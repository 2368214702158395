"""Side-by-side comparison of generators: `python -m ml_engine compare --models diffusion,gan`.

- measure.py: every figure for one model (alignment per category, distribution metrics beside their
  real-vs-real floor, latency and throughput, parameter counts, human judgement when exported).
- report.py: the Markdown table and matplotlib charts written to docs/ (and logged to MLflow).
"""
