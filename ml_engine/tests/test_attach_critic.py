"""`python -m ml_engine attach-critic`: a diffusion model shipped with its critic, or a panel of judges, and the
sampling settings it ranks with."""

import os

import pytest
import torch

from ml_engine.models.critic import LatentCritic
from ml_engine.pipelines import load_pipeline


def test_attach_critic_ships_a_trained_critic_with_a_diffusion_model(tiny_pipeline_dir, tmp_path):
    from ml_engine.cli import main

    LatentCritic(width=32, layers=1, heads=2).save_pretrained(str(tmp_path / "critic"))
    out = str(tmp_path / "ranked")
    assert main(["attach-critic", "--model", tiny_pipeline_dir, "--critic", str(tmp_path / "critic"),
                 "--candidates", "3", "--out", out]) == 0  # fmt: skip
    loaded = load_pipeline(out)
    assert loaded.candidates == 3 and isinstance(loaded.critic, LatentCritic)
    assert load_pipeline(tiny_pipeline_dir).candidates == 1  # the source folder is left as it was
    from ml_engine.models.critic import JudgePanel

    two = f"{tmp_path / 'critic'},{tmp_path / 'critic'}"
    assert (
        main(["attach-critic", "--model", tiny_pipeline_dir, "--critic", two, "--candidates", "2", "--out", out]) == 0
    )
    panel = load_pipeline(out).critic
    assert isinstance(panel, JudgePanel) and len(panel.members) == 2
    with pytest.raises(SystemExit, match="not a critic"):
        main(["attach-critic", "--model", tiny_pipeline_dir, "--critic", os.path.join(tiny_pipeline_dir, "unet"),
              "--candidates", "2", "--out", str(tmp_path / "bad")])  # fmt: skip


def test_attach_critic_adds_a_critics_relation_term_alone_as_a_raw_judge(tiny_pipeline_dir, tmp_path):
    from ml_engine.cli import main
    from ml_engine.models.critic import JudgePanel

    torch.manual_seed(6)
    LatentCritic(width=32, layers=1, heads=2).save_pretrained(str(tmp_path / "plain"))
    LatentCritic(width=32, layers=1, heads=2, caption_reader=True, relation_heads=2).save_pretrained(
        str(tmp_path / "relational")
    )
    out = str(tmp_path / "ranked")
    judges = f"{tmp_path / 'plain'},{tmp_path / 'relational'}:relation=2.5"
    assert main(["attach-critic", "--model", tiny_pipeline_dir, "--critic", judges, "--candidates", "2",
                 "--out", out]) == 0  # fmt: skip
    panel = load_pipeline(out).critic
    assert isinstance(panel, JudgePanel) and tuple(panel.config.raw_scales) == (0.0, 2.5)
    relational = panel.members[1]
    assert relational.config.judged_by == "relation"
    latents, words, mask = torch.randn(3, 16, 8, 8), torch.randn(3, 4, 384), torch.ones(3, 4)
    summary, relation = relational.verdict_parts(latents, words, mask)
    assert torch.equal(panel.score(latents, words, mask)[1], relation.float())
    assert torch.allclose(relational(latents, words, mask), summary + relation)  # training still sees both
    with pytest.raises(SystemExit, match="no relation term"):
        main(["attach-critic", "--model", tiny_pipeline_dir, "--critic", f"{tmp_path / 'plain'},"
              f"{tmp_path / 'plain'}:relation=1", "--candidates", "2", "--out", str(tmp_path / "bad")])  # fmt: skip
    with pytest.raises(SystemExit, match="no count term"):
        judges = f"{tmp_path / 'plain'},{tmp_path / 'relational'}:relation+count=1"
        main(["attach-critic", "--model", tiny_pipeline_dir, "--critic", judges, "--candidates", "2",
              "--out", str(tmp_path / "b")])  # fmt: skip
    # with a count term too, both terms judge together
    LatentCritic(width=32, layers=1, heads=2, relation_heads=2, count_shapes=4).save_pretrained(
        str(tmp_path / "counting")
    )
    judges = f"{tmp_path / 'plain'},{tmp_path / 'counting'}:relation+count=2"
    assert main(["attach-critic", "--model", tiny_pipeline_dir, "--critic", judges, "--candidates", "2",
                 "--out", out]) == 0  # fmt: skip
    counting = load_pipeline(out).critic.members[1]
    terms = counting.terms(latents, words, mask)
    assert counting.config.judged_by == "relation+count"
    assert torch.allclose(counting.score(latents, words, mask), terms["relation"] + terms["count"])


def test_attach_critic_sets_the_default_steps_and_bf16_candidates_only_when_asked(tiny_pipeline_dir, tmp_path):
    from ml_engine.cli import main

    LatentCritic(width=32, layers=1, heads=2).save_pretrained(str(tmp_path / "critic"))
    out = str(tmp_path / "ranked")
    attach = ["attach-critic", "--model", tiny_pipeline_dir, "--critic", str(tmp_path / "critic"), "--candidates", "2"]
    assert main([*attach, "--pruning", "1@1", "--steps", "3", "--bf16-candidates", "--out", out]) == 0
    shipped = load_pipeline(out)
    assert (shipped.default_steps, shipped.bf16_candidates, shipped.pruning) == (3, True, ((1, 1),))
    assert main([*attach, "--model", out, "--out", out]) == 0  # steps and bf16 stay as saved; pruning is always set
    again = load_pipeline(out)
    assert (again.default_steps, again.bf16_candidates, again.pruning) == (3, True, ())
    assert main([*attach, "--model", out, "--no-bf16-candidates", "--out", out]) == 0
    assert not load_pipeline(out).bf16_candidates
    with pytest.raises(SystemExit, match="--steps must be at least 1"):
        main([*attach, "--steps", "0", "--out", out])
