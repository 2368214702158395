"""The caption reader: new, it passes the states through unchanged; it learns, and it reads word order."""

import torch
from torch import nn

from ml_engine.models.caption_reader import CaptionReader


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
