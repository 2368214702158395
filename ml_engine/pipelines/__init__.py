"""Inference pipelines behind one interface: `load_pipeline(name_or_path)(prompt, ...)`."""

from ml_engine.pipelines.base import GenerationCancelled, GenerationResult, StepInfo
from ml_engine.pipelines.loader import load_pipeline

__all__ = ["GenerationCancelled", "GenerationResult", "StepInfo", "load_pipeline"]
