"""The caption reader: added to a trained UNet it changes nothing, it learns, and it reads word order."""

import pytest
import torch
from torch import nn

from ml_engine.config import DiffusionConfig
from ml_engine.models.caption_reader import CaptionReader
from ml_engine.training.common import lr_at, set_scheduled_lr


def states_and_mask(batch: int = 2, tokens: int = 7, real: tuple[int, ...] = (7, 4)):
    generator = torch.Generator().manual_seed(0)
    states = torch.randn(batch, tokens, 384, generator=generator) * 0.3
    mask = torch.zeros(batch, tokens, dtype=torch.long)
    for row, n in enumerate(real):
        mask[row, :n] = 1
    return states * mask[..., None], mask


def trained_reader(layers: int = 1) -> CaptionReader:
    """A reader whose output projection has left zero, as after some training."""
    torch.manual_seed(1)
    reader = CaptionReader(layers=layers).eval()
    nn.init.normal_(reader.project.weight, std=0.05)
    return reader


def test_a_new_reader_passes_the_states_through_unchanged():
    states, mask = states_and_mask()
    with torch.no_grad():
        assert torch.equal(CaptionReader(layers=1)(states, mask), states)


def test_padding_stays_zero_and_does_not_reach_the_real_tokens():
    reader = trained_reader()
    states, mask = states_and_mask(real=(7, 4))
    noisy = states.clone()
    noisy[1, 4:] = 5.0  # what sits under the padding must not matter
    with torch.no_grad():
        clean_out, noisy_out = reader(states, mask), reader(noisy, mask)
    assert torch.allclose(clean_out[1, :4], noisy_out[1, :4], atol=1e-5)
    assert torch.count_nonzero(noisy_out[1, 4:]) == 0


def test_the_reader_tells_word_order_and_without_positions_it_cannot():
    """Swap two tokens: a reader with positions gives each word a different state once it stands elsewhere;
    with the positions removed the reader is a bag of words and the two states just trade places."""
    reader = trained_reader()
    states, mask = states_and_mask(batch=1, real=(7,))
    swapped = states[:, [0, 1, 4, 3, 2, 5, 6]]
    with torch.no_grad():
        read, read_swapped = reader(states, mask), reader(swapped, mask)
        assert not torch.allclose(read[0, 2], read_swapped[0, 4], atol=1e-3)
        reader.word_order.zero_()
        read, read_swapped = reader(states, mask), reader(swapped, mask)
    assert torch.allclose(read[0, 2], read_swapped[0, 4], atol=1e-5)


def test_the_reader_learns_from_the_first_step():
    reader = CaptionReader(layers=1)
    states, mask = states_and_mask()
    optimizer = torch.optim.SGD(reader.parameters(), lr=0.1)
    reader(states, mask).pow(2).mean().backward()
    optimizer.step()
    assert reader.project.weight.abs().sum() > 0


def test_a_parameter_group_can_learn_faster_than_the_rest():
    config = DiffusionConfig(lr=1e-3, warmup_steps=0, max_steps=100, min_lr_ratio=0.1)
    optimizer = torch.optim.AdamW(
        [{"params": [nn.Parameter(torch.zeros(1))]}, {"params": [nn.Parameter(torch.zeros(1))], "lr_scale": 3.0}]
    )
    base = set_scheduled_lr(optimizer, config, 40, started=0.0)
    assert base == pytest.approx(lr_at(40, 1e-3, 0, 100, 0.1))
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([base, 3 * base])


def test_near_miss_ranking_asks_the_true_caption_to_explain_the_latent_better_by_a_margin():
    from ml_engine.training.diffusion import near_miss_ranking

    true_error = torch.tensor([0.10, 0.10, 0.02], requires_grad=True)
    false_error = torch.tensor([0.20, 0.105, 0.01], requires_grad=True)
    loss, ranked_right = near_miss_ranking(true_error, false_error, margin=0.1)
    assert ranked_right.item() == pytest.approx(2 / 3)
    loss.backward()
    # the first pair clears the margin and is left alone; the second is right but too close; the third is wrong
    assert true_error.grad[0] == 0 and false_error.grad[0] == 0
    assert (true_error.grad[1:] > 0).all() and (false_error.grad[1:] < 0).all()
    # relative to the true error: a pair at a low noise level (small errors) pulls as hard as one at a high level
    assert false_error.grad[2] == pytest.approx(5 * false_error.grad[1])
