"""Distribution metrics of generated images: FID, KID, Inception Score, improved precision/recall and a
CLIP score, on pluggable feature extractors (the shipped Shapes domain classifier offline; InceptionV3
with pytorch-fid weights or a CLIP model when their files are present locally).

- metrics.py: the pure functions on feature arrays (Heusel 2017, Binkowski 2018, Salimans 2016,
  Kynkaanniemi 2019).
- extractors.py: the extractor protocol, the domain classifier and InceptionV3 extractors.
- clip_score.py: the CLIP score (Hessel 2021) from a local CLIP folder.
- report.py: a report of generated against real renders, each metric beside its real-vs-real floor.

    python -m ml_engine.evaluation.distribution --n 2000 [--model diffusion] [--extractor domain]
"""

from ml_engine.evaluation.distribution.metrics import (
    fid,
    frechet_distance,
    inception_score,
    kid,
    precision_recall,
)

__all__ = ["fid", "frechet_distance", "inception_score", "kid", "precision_recall"]
