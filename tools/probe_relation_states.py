"""Do the frozen MiniLM token states say where a relation caption's objects go?

Both generators stay near chance on position ("a circle to the left of a square": the relation is
right about half the time when both shapes are drawn). This probe asks whether the text encoder is
the limit. For relation captions between two different shapes, it takes the token state of each
shape noun and fits a linear classifier (softmax regression) to (a) whether the noun is the first or
the second object and (b) on which side of the other it belongs (left, right, above, below: the
relation word combined with the noun's role). Held-out accuracy near 1 means the information is in
the states, linearly; the generators' attention then has it to use.

    .venv/bin/python tools/probe_relation_states.py [--captions 1200]
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from ml_engine.data import spec  # noqa: E402
from ml_engine.data.captions import INVERSE, Item, Requirement, canonical_text  # noqa: E402


def relation_captions(n: int, rng: np.random.Generator) -> list[tuple[str, str, str, str]]:
    """(caption, first shape, relation, second shape) in the canonical wording, two different shapes, each
    object coloured or not."""
    out = []
    for _ in range(n):
        a, b = (str(x) for x in rng.choice(spec.SHAPES, 2, replace=False))
        relation = spec.RELATIONS[int(rng.integers(4))]
        colours = [str(c) if rng.random() < 0.5 else None for c in rng.choice(spec.COLORS, 2)]
        req = Requirement("composite", (Item(a, colours[0]), Item(b, colours[1])), relation=relation)
        out.append((canonical_text(req), a, relation, b))
    return out


@torch.no_grad()
def _accuracy(probe: torch.nn.Linear, x: torch.Tensor, y: torch.Tensor) -> float:
    return (probe(x).argmax(-1) == y).float().mean().item()


def held_out_accuracy(x: torch.Tensor, y: torch.Tensor, classes: int, train_share: float = 0.75) -> float:
    n = int(len(x) * train_share)
    probe = torch.nn.Linear(x.shape[1], classes)
    optimizer = torch.optim.LBFGS(probe.parameters(), max_iter=300)

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(probe(x[:n]), y[:n]) + 1e-3 * probe.weight.square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return _accuracy(probe, x[n:], y[n:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captions", type=int, default=1200)
    args = parser.parse_args()
    torch.manual_seed(0)
    from ml_engine.text.encoder import TextEncoder

    encoder = TextEncoder.load()
    captions = relation_captions(args.captions, np.random.default_rng(0))
    with torch.no_grad():
        states, _ = encoder([c for c, *_ in captions])
    features, first, side = [], [], []
    for row, (caption, a, relation, b) in enumerate(captions):
        pieces = encoder.tokenizer.convert_ids_to_tokens(encoder.tokenizer(caption)["input_ids"])
        for index, is_first, where in ((pieces.index(a), 1, relation), (pieces.index(b), 0, INVERSE[relation])):
            features.append(states[row, index].float())
            first.append(is_first)
            side.append(spec.RELATIONS.index(where))
    x = torch.stack(features)
    role = held_out_accuracy(x, torch.tensor(first), 2)
    where = held_out_accuracy(x, torch.tensor(side), 4)
    print(f"{len(x)} noun states from {len(captions)} captions; held-out accuracy of a linear probe:")
    print(f"  first or second object: {role:.3f} (chance 0.5)")
    print(f"  its side of the other (left, right, above, below): {where:.3f} (chance 0.25)")


if __name__ == "__main__":
    main()
