"""Evaluation of generated images: object parsing, GenEval-style rules, prompt sets and scoring."""
