"""LatentCritic: how well an 8x8x16 autoencoder latent satisfies a caption, as one logit.

A small joint transformer (as in ViLT, Kim et al., 2021): the latent's 64 cells, each with a learned
position embedding, and the caption's MiniLM token states attend to each other through a few layers,
and a summary token reads the verdict. Every cell can look at every word and every other cell, so
the questions that a pooled sentence or a single cross-attention pass cannot answer are within reach:
which of two objects is left of the other (positions), how many crosses there are (a count over
cells), which colour belongs to which shape (binding). It is trained to tell a scene's true captions
from near misses of them (training/critic.py), and at sampling time it ranks the diffusion model's
candidates (pipelines/shapes.py): judging is easier to learn than drawing. Two terms added to the verdict do what
the summary token learnt poorly: the relation term compares the side a word asks for with where its object is, and
the count term sums per-cell densities of each shape against the number the caption asks for.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from ml_engine.models.caption_reader import CaptionReader
from ml_engine.models.positions import sinusoids
from ml_engine.text.encoder import HIDDEN as WORD_DIM

WORD_ORDER_NORM = 3.0  # a word token's norm after word_in is 3-7 in a trained critic


class LatentCritic(ModelMixin, ConfigMixin):
    @register_to_config
    def __init__(
        self,
        latent_channels: int = 16,
        grid: int = 8,
        width: int = 128,
        layers: int = 4,
        heads: int = 4,
        word_dim: int = WORD_DIM,
        relative_bias: bool = False,
        word_positions: bool = False,
        max_words: int = 32,
        caption_reader: bool = False,
        relation_heads: int = 0,
        judged_by: str = "verdict",
        count_shapes: int = 0,
    ):
        super().__init__()
        # the words read first by a CaptionReader pre-trained on captions alone (training/caption_reader.py) and
        # frozen: each word piece of a noun phrase then says its object's colour, shape, size and side of the picture
        # ("circle" in "a circle to the left of a square": left), which MiniLM's own states do not
        # (not `self.caption_reader`: diffusers resolves an attribute named like a config entry to the config value)
        self.reader = CaptionReader().requires_grad_(False) if caption_reader else None
        self.stem = nn.Sequential(
            nn.Conv2d(latent_channels, width, 3, padding=1), nn.GELU(), nn.Conv2d(width, width, 3, padding=1)
        )
        self.cell_position = nn.Parameter(torch.randn(1, grid * grid, width) * 0.02)
        self.word_in = nn.Linear(word_dim, width)
        # MiniLM's token states hardly say where in the caption a word stands: "circle" as the subject of "to the
        # left of" and as its object are 0.96 alike (cosine), "circle" after "red" and after "blue" 0.998, so
        # without an order the caption is nearly a bag of words, and which shape is left of which, or which colour
        # goes with which shape, cannot be read. A learned embedding per token index gives the order back. It starts
        # as the sinusoids of Vaswani et al. (2017) at about the words' own scale: from zero it hardly grew (a
        # token index's gradient averages over whichever words stand there). Not `self.word_positions`: a config
        # entry's name.
        self.word_order = nn.Parameter(sinusoids(max_words, width) * WORD_ORDER_NORM) if word_positions else None
        self.token_type = nn.Parameter(torch.randn(3, width) * 0.02)  # summary, cell, word
        layer = nn.TransformerEncoderLayer(
            width, heads, 4 * width, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        # a learned bias per head on each cell-to-cell offset (as in Swin, Liu et al., 2021): "is there a square to
        # my right" becomes one attention pattern, where absolute position embeddings leave the comparison of two
        # cells' places to be learnt through dot products; it starts at zero, so a critic without it carries over.
        # (not `self.relative_bias`: diffusers resolves an attribute named like a config entry to the config value)
        self.offset_bias = nn.Parameter(torch.zeros(heads, (2 * grid - 1) ** 2)) if relative_bias else None
        ys, xs = torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij")
        ys, xs = ys.flatten(), xs.flatten()
        offsets = (ys[:, None] - ys[None, :] + grid - 1) * (2 * grid - 1) + (xs[:, None] - xs[None, :] + grid - 1)
        self.register_buffer("offset_index", offsets, persistent=False)
        places = torch.stack([xs, ys], dim=-1).float() / (grid - 1) * 2 - 1  # [cells, 2] in [-1, 1]
        self.register_buffer("cell_places", places, persistent=False)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, 1)
        # the relation term: each word finds its object over the cells (a soft-argmax per head, as keypoint networks
        # read positions), reads from its own state which side of the others that object should be on, and the
        # verdict gains the agreement of the two: sum over words and heads of side . place, with the sides centred
        # over the caption so that moving the whole scene changes nothing. "Which of two objects is left of the other"
        # becomes one bilinear comparison instead of a three-way interaction that the layers never learnt
        # (docs/shapes-model.md). With a reader, the query and the side are read from what the reader adds, where a
        # linear head finds each object's shape, colour and side exactly (training/caption_reader.py): the term then
        # learns from its first step. From the encoder's mixed word states it stayed dormant (side and query weights
        # hardly moved in 200 steps: neither gets a gradient until the other is of use).
        self.relation = None
        if relation_heads:
            said = word_dim if caption_reader else width
            self.relation = nn.ModuleDict(
                {
                    "query": nn.Linear(said, width),
                    "key": nn.Linear(width, width),
                    "side": nn.Linear(said, 2 * relation_heads),
                }
            )
            nn.init.normal_(self.relation["side"].weight, std=0.1 if caption_reader else 0.1 / width**0.5)
            nn.init.zeros_(self.relation["side"].bias)
        # the count term: how many objects of each shape the picture holds is a sum over the cells of a per-cell
        # density (counting by density maps, Lempitsky & Zisserman, 2010). The caption's side is read by attention
        # pooling over the words: whether it asks for an exact number, how many, of which shape. Both sides are
        # taught directly (training/critic.py, `count_loss_weight`): the density the scene graph's counts, the
        # caption heads what the training caption asked for. The verdict loses asks x (counted - wanted)^2, and for
        # every shape the caption names, (1 - found)^2 where fewer than one is found (an object missing), x scale.
        # Learnt only through the verdict, the word side never started: the term only adds noise until the asked
        # number is read right, so the gate closed before it was. One summary token reading "how many" off 64
        # cells judged counts at 0.74 on held-out edits (critic v8); a count is a sum, and here it is one.
        self.count = None
        if count_shapes:
            said = word_dim if caption_reader else width
            self.count = nn.ModuleDict(
                {
                    # its own small CNN over the latent: read off the joint transformer's cells (a linear map, taught at
                    # the critic's rate), the counts had not moved from a constant in 300 steps; alone, this counts
                    # every shape of held-out scenes right for 96% of them in 400 steps (docs/shapes-model.md)
                    "density": nn.Sequential(
                        nn.Conv2d(latent_channels, 64, 3, padding=1),
                        nn.GELU(),
                        nn.Conv2d(64, 64, 3, padding=1),
                        nn.GELU(),
                        nn.Conv2d(64, count_shapes, 1),
                    ),
                    "pool": nn.Linear(width, 1),
                    "asks": nn.Linear(width, 1),
                    "wanted": nn.Linear(width, 1),
                    "shape": nn.Linear(said, count_shapes),
                    "names": nn.Linear(width, count_shapes),
                }
            )
            nn.init.constant_(self.count["density"][-1].bias, -4.0)  # cells start nearly empty
            nn.init.constant_(self.count["asks"].bias, -3.0)  # and captions as asking for no number
            nn.init.constant_(self.count["names"].bias, -3.0)  # and naming no shape
            self.count_scale = nn.Parameter(torch.zeros(()))  # softplus(0) = 0.69 per object off

    def forward(self, latents: torch.Tensor, words: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Normalised latents [B, C, 8, 8], caption states [B, T, 384] and their mask [B, T] -> logits [B]."""
        return verdict_of(self.terms(latents, words, mask))

    def verdict_parts(self, latents, words, mask) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The summary token's logit and the relation term (None without one), [B] each."""
        terms = self.terms(latents, words, mask)
        return terms["summary"], terms.get("relation")

    def terms(self, latents, words, mask) -> dict[str, torch.Tensor]:
        """The verdict's parts, [B] each: "summary" (the summary token's logit), and "relation" and "count" where
        the critic has those terms; with a count term also what it counted and read (`count_agreement`)."""
        batch = latents.shape[0]
        said = None  # what the reader adds to each word (its object's attributes and side)
        if self.reader is not None:
            said = self.reader.read(words, mask)
            words = (words + said) * mask[..., None].to(words.dtype)  # = self.reader(words, mask)
        cells = self.stem(latents).flatten(2).transpose(1, 2) + self.cell_position + self.token_type[1]
        words = self.word_in(words) + self.token_type[2]
        if self.word_order is not None:
            words = words + self.word_order[:, : words.shape[1]]
        summary = self.token_type[0].expand(batch, 1, -1)
        tokens = torch.cat([summary, cells, words], dim=1)
        padding = torch.cat([mask.new_zeros(batch, 1 + cells.shape[1], dtype=torch.bool), ~mask.bool()], dim=1)
        if self.offset_bias is None:
            out = self.encoder(tokens, src_key_padding_mask=padding)
        else:  # one additive mask [batch * heads, L, L]: the cells' offset biases, and -inf on the padded words
            n, length = cells.shape[1], tokens.shape[1]
            heads = self.config.heads
            bias = tokens.new_zeros(heads, length, length)
            bias[:, 1 : 1 + n, 1 : 1 + n] = self.offset_bias[:, self.offset_index].to(tokens.dtype)
            blocked = tokens.new_zeros(batch, 1, 1, length).masked_fill(padding[:, None, None, :], float("-inf"))
            attention_mask = (bias[None] + blocked).reshape(batch * heads, length, length)
            out = self.encoder(tokens, mask=attention_mask)
        out = self.norm(out)
        n = cells.shape[1]
        cells_out, words_out = out[:, 1 : 1 + n], out[:, 1 + n :]
        terms = {"summary": self.head(out[:, 0]).squeeze(-1)}
        said = words_out if said is None else said
        if self.relation is not None:
            terms["relation"] = self.relation_agreement(cells_out, said, mask)
        if self.count is not None:
            terms.update(self.count_agreement(latents, words_out, said, mask))
        return terms

    def where_they_look(self, layers: nn.ModuleDict, heads: int, words, cells) -> torch.Tensor:
        """Where each word finds what it asks for, per head: a soft-argmax of its query over the cells' keys,
        (x, y) in [-1, 1], [B, heads, T, 2]."""
        batch, length, _ = words.shape
        query = layers["query"](words).view(batch, length, heads, -1).transpose(1, 2)
        key = layers["key"](cells).view(batch, cells.shape[1], heads, -1).transpose(1, 2)
        looks = torch.softmax(query @ key.transpose(-1, -2) / query.shape[-1] ** 0.5, dim=-1)  # [B, heads, T, cells]
        return looks @ self.cell_places.to(looks.dtype)

    def relation_agreement(self, cells: torch.Tensor, words: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Sum over words and heads of (the side a word asks for) . (where it finds its object), [B]."""
        batch, length, _ = words.shape
        heads = self.config.relation_heads
        places = self.where_they_look(self.relation, heads, words, cells)
        sides = self.relation["side"](words).view(batch, length, heads, 2).transpose(1, 2)
        real = mask[:, None, :, None].to(sides.dtype)
        sides = sides * real
        sides = (sides - sides.sum(2, keepdim=True) / real.sum(2, keepdim=True).clamp(min=1)) * real
        return (sides * places).sum(dim=(1, 2, 3))

    def count_agreement(self, latents, words, said, mask) -> dict[str, torch.Tensor]:
        """The count term [B] and its parts: "found", each shape's count [B, shapes]; what the caption asks for:
        "asks" (the logit that it asks for an exact number), "wanted" (how many) [B], "shape" (logits) [B, shapes],
        and "names" (the logit that it names each shape at all) [B, shapes]."""
        found = torch.sigmoid(self.count["density"](latents).float()).sum(dim=(2, 3))
        weights = self.count["pool"](words).float().squeeze(-1).masked_fill(mask == 0, float("-inf"))
        weights = torch.softmax(weights, dim=1)[..., None]  # [B, T, 1]: which words say the count
        pooled, pooled_said = (weights * words.float()).sum(1), (weights * said.float()).sum(1)
        asks = self.count["asks"](pooled).squeeze(-1)
        wanted = F.softplus(self.count["wanted"](pooled)).squeeze(-1)
        shape = self.count["shape"](pooled_said)
        counted = (torch.softmax(shape, dim=-1) * found).sum(-1)
        real = mask[..., None].to(words.dtype)
        names = self.count["names"]((words * real).sum(1).float() / real.sum(1).float().clamp(min=1))
        missing = (torch.sigmoid(names) * F.relu(1 - found) ** 2).sum(-1)
        count = -F.softplus(self.count_scale) * (torch.sigmoid(asks) * (counted - wanted) ** 2 + missing)
        return {"count": count, "found": found, "asks": asks, "wanted": wanted, "shape": shape, "names": names}

    def score(self, latents: torch.Tensor, words: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The pipeline's ranking interface (GANDiscriminator.score is the other). A critic `judged_by` "relation",
        "count" or "relation+count" answers with those terms alone: whether the objects stand on the sides the words
        ask for, and whether there are as many as they ask for; each is zero where the caption says no such thing,
        so in a panel the critic speaks only about relations and counts."""
        terms = self.terms(latents, words, mask)
        if self.config.judged_by == "verdict":
            return verdict_of(terms)
        return sum(terms[name] for name in self.config.judged_by.split("+"))


def verdict_of(terms: dict[str, torch.Tensor]) -> torch.Tensor:
    return sum(terms[name] for name in ("summary", "relation", "count") if name in terms)


class JudgePanel(ModelMixin, ConfigMixin):
    """Several critics that rank together: each one's scores are standardised over an image's candidates
    (pipelines/shapes.py) and summed, so judges with different scales and strengths weigh alike. Measured: the
    GAN's discriminator judges colour binding best and LatentCritic v2 counting (docs/shapes-model.md).
    A judge given a raw scale s > 0 (`raw_scales`, one per judge, 0 = standardised) adds s x its raw score instead:
    for a judge whose zero means "nothing to say", such as a relation term on a caption without one, standardising
    would blow its noise up to the weight of a verdict."""

    @register_to_config
    def __init__(self, judges: tuple[tuple[str, dict], ...] = (), raw_scales: tuple[float, ...] = ()):
        super().__init__()
        # not `self.judges`: diffusers resolves an attribute named like a config entry to the config value;
        # from_config ignores, with a warning, a setting the judge no longer takes (saved by an older version)
        self.members = nn.ModuleList([judge_classes()[name].from_config(config) for name, config in judges])

    @classmethod
    def of(cls, critics: list[nn.Module], raw_scales: tuple[float, ...] = ()) -> JudgePanel:
        settings = [(type(c).__name__, {k: v for k, v in c.config.items() if not k.startswith("_")}) for c in critics]
        panel = cls(judges=tuple(settings), raw_scales=tuple(raw_scales))
        for mine, theirs in zip(panel.members, critics, strict=True):
            mine.load_state_dict(theirs.state_dict())
        return panel

    def score(self, latents: torch.Tensor, words: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Every judge's scores, [judges, B]."""
        return torch.stack([judge.score(latents, words, mask).float() for judge in self.members])


def ranking_scores(scores: torch.Tensor, raw_scales: tuple[float, ...] = ()) -> torch.Tensor:
    """Judges' scores [judges, k candidates, n images] -> one ranking score [k, n]: each judge's row standardised
    over an image's candidates (for a single judge this keeps its order), or scaled raw where `raw_scales` says."""
    standard = (scores - scores.mean(dim=1, keepdim=True)) / (scores.std(dim=1, keepdim=True) + 1e-6)
    if raw_scales:
        scales = torch.tensor(raw_scales, dtype=scores.dtype, device=scores.device)[:, None, None]
        standard = torch.where(scales > 0, scores * scales, standard)
    return standard.sum(dim=0)


def judge_classes() -> dict[str, type]:
    from ml_engine.models.gan import GANDiscriminator

    return {"LatentCritic": LatentCritic, "GANDiscriminator": GANDiscriminator}
