"""GenEval-style pass/fail rules of the Shapes spec: does a parsed image satisfy a requirement?

The rules are the captions' own (ml_engine.data.captions): the evaluator judges a parsed image by
the same truth that captions a scene graph.
"""

from ml_engine.data.captions import holds, passes

__all__ = ["holds", "passes"]
