"""ml_engine: the studio's text-to-image library (plain PyTorch + diffusers, no web framework).

Data (`data/`), the frozen text encoder (`text/`), model definitions (`models/`), training loops
(`training/`), inference pipelines (`pipelines/`) and the evaluator (`evaluation/`).
Command line: `python -m ml_engine --help`.
"""

__version__ = "0.1.0"
