"""The GRPO+DIV baseline (grpo_div): hand computation, verl's registry, trainer and start-up checks."""

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from test_trainer_integration_on_cpu import verl_config
from verl import DataProto
from verl.trainer.ppo import ray_trainer
from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage, get_adv_estimator_fn

from polyepo_plugin.config import parse_config
from polyepo_plugin.estimator import GROUP_ESTIMATORS, StepInputs, compute_grpo_div_advantage, set_advantages
from polyepo_plugin.integration.checks import validate_run
from polyepo_plugin.set_advantage import diversity_bonus_advantages

GROUPS = [
    ([1, 0, 1, 1, 0, 1], ["a", "a", "b", None, "c", "a"]),  # a degenerate member, a singleton strategy
    ([1, 1, 1, 1], ["same"] * 4),  # one strategy: no bonus, and all correct: advantage 0
    ([0, 1, 0], [None, None, "x"]),
    ([1], ["alone"]),  # a group of one: advantage 0
]


def by_hand(rewards, labels, weight):
    """r'_i = r_i + weight * (N/|s(i)| - 1)/(N - 1), 0 bonus when degenerate; minus the group mean."""
    n = len(rewards)
    if n == 1:
        return [0.0]
    bonus = [0.0 if lab is None else (n / labels.count(lab) - 1) / (n - 1) for lab in labels]
    shaped = [r + weight * d for r, d in zip(rewards, bonus)]
    return [s - sum(shaped) / n for s in shaped]


def flat_batch(groups, width=5, seed=0):
    """Rows of all groups in a shuffled order, each reward on a random last token."""
    rows = [(f"uid-{g}", r, lab) for g, (rewards, labels) in enumerate(groups) for r, lab in zip(rewards, labels)]
    rows = [rows[i] for i in np.random.default_rng(seed).permutation(len(rows))]
    lengths = torch.randint(1, width + 1, (len(rows),), generator=torch.Generator().manual_seed(seed))
    mask = (torch.arange(width)[None, :] < lengths[:, None]).float()
    token_rewards = torch.zeros(len(rows), width)
    token_rewards[torch.arange(len(rows)), lengths - 1] = torch.tensor([float(r) for _, r, _ in rows])
    index = np.array([uid for uid, _, _ in rows], dtype=object)
    labels = np.array([lab for _, _, lab in rows], dtype=object)
    return token_rewards, mask, index, labels


def expected_rows(groups, token_rewards, index, labels, weight):
    """By-hand advantages in the rows' shuffled order; a member is known by its uid, label and reward."""
    out = np.zeros(len(index))
    for g, (rewards, group_labels) in enumerate(groups):
        want = by_hand([float(r) for r in rewards], list(group_labels), weight)
        remaining = list(zip(group_labels, map(float, rewards), want))
        for row in np.flatnonzero(index == f"uid-{g}"):
            key = (labels[row], token_rewards[row].sum().item())
            out[row] = remaining.pop(next(i for i, member in enumerate(remaining) if member[:2] == key))[2]
    return out


def labels_config(**poly_epo):
    return {"poly_epo": {"diversity": {"backend": "labels"}, **poly_epo}}


@pytest.mark.parametrize("weight", [0.5, 2.0])
def test_registered_grpo_div_matches_the_hand_computation(weight):
    token_rewards, mask, index, labels = flat_batch(GROUPS)
    config = OmegaConf.create(labels_config(diversity_bonus_weight=weight))
    metrics = {}
    advantages, returns = get_adv_estimator_fn("grpo_div")(
        token_level_rewards=token_rewards,
        response_mask=mask,
        index=index,
        config=config,
        non_tensor_batch={"uid": index, "strategy": labels},
        metrics=metrics,
    )
    assert torch.equal(advantages, returns) and torch.all(advantages[mask == 0] == 0)
    scalar = advantages.sum(1) / mask.sum(1)
    assert scalar.tolist() == pytest.approx(
        expected_rows(GROUPS, token_rewards, index, labels, weight).tolist(), abs=1e-6
    )
    assert metrics["poly_epo/groups"] == 4 and metrics["poly_epo/skipped_groups"] == 1
    assert metrics["poly_epo/degenerate_fraction"] == pytest.approx(3 / 14)
    assert "poly_epo/set_size_mean" not in metrics


def test_the_default_weight_is_one_half():
    token_rewards, mask, index, labels = flat_batch(GROUPS)
    advantages, _ = compute_grpo_div_advantage(
        token_rewards, mask, index=index, config=labels_config(), non_tensor_batch={"strategy": labels}
    )
    assert (advantages.sum(1) / mask.sum(1)).tolist() == pytest.approx(
        expected_rows(GROUPS, token_rewards, index, labels, 0.5).tolist(), abs=1e-6
    )


def test_weight_zero_is_verls_grpo_without_std():
    groups = [g for g in GROUPS if len(g[0]) > 1]  # verl gives a lone response its raw reward
    token_rewards, mask, index, labels = flat_batch(groups, seed=3)
    ours, _ = compute_grpo_div_advantage(
        token_rewards,
        mask,
        index=index,
        config=labels_config(diversity_bonus_weight=0.0),
        non_tensor_batch={"strategy": labels},
    )
    verls, _ = compute_grpo_outcome_advantage(token_rewards, mask, index, norm_adv_by_std_in_grpo=False)
    assert torch.allclose(ours, verls, atol=1e-6)


def test_padded_layout_function_directly():
    rewards = torch.tensor([[1.0, 0.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    strategies = torch.tensor([[0, 0, 1, -1], [0, 0, -1, -1]])
    valid = torch.tensor([[True] * 4, [True, True, False, False]])
    sizes = valid.sum(1)
    got = diversity_bonus_advantages(rewards, strategies, valid, sizes, 1.0)
    assert got[0].tolist() == pytest.approx(by_hand([1, 0, 1, 0], ["p", "p", "q", None], 1.0))
    assert got[1].tolist() == pytest.approx(by_hand([1, 0], ["p", "p"], 1.0) + [0.0, 0.0])


def grpo_div_rows(token_rewards, index, mask, labels, padding=None):
    """grpo_div's per-row advantages with the reward's labels (labels backend)."""
    inputs = StepInputs(non_tensor_batch={"strategy": labels}, padding=padding, text_mask=mask)
    options = parse_config(labels_config())
    return set_advantages(token_rewards.sum(1), index, options, estimator="grpo_div", inputs=inputs)[0]


def test_padding_rows_get_zero():
    token_rewards, mask, index, labels = flat_batch(GROUPS[:1])
    index = np.concatenate([index, np.array(["pad_0"], dtype=object)])
    labels = np.concatenate([labels, np.array(["a"], dtype=object)])
    token_rewards = torch.cat([token_rewards, torch.ones(1, mask.shape[1])])
    mask = torch.cat([mask, torch.zeros(1, mask.shape[1])])
    per_row = grpo_div_rows(token_rewards, index, mask, labels)
    assert per_row[-1] == 0 and per_row[:-1].abs().sum() > 0
    # The padding row (label "a", reward 1) joined no group: the real rows are the hand computation.
    want = expected_rows(GROUPS[:1], token_rewards[:-1], index[:-1], labels[:-1], 0.5)
    assert per_row[:-1].tolist() == pytest.approx(want.tolist(), abs=1e-12)


def test_rows_tagged_as_padding_join_no_group():
    """A trainer may tag padding rows (StepInputs.padding) whatever their uid: same as leaving them out."""
    token_rewards, mask, index, labels = flat_batch(GROUPS[:3], seed=2)
    padding = np.zeros(len(index), dtype=bool)
    padding[[1, 5]] = True
    per_row = grpo_div_rows(token_rewards, index, mask, labels, padding)
    kept = ~padding
    without = grpo_div_rows(token_rewards[kept], index[kept], mask[kept], labels[kept])
    assert per_row[padding].tolist() == [0.0, 0.0]
    assert per_row[torch.as_tensor(kept)].tolist() == pytest.approx(without.tolist(), abs=1e-12)


def test_grpo_div_through_verl_matches_the_hand_computation():
    token_rewards, mask, index, labels = flat_batch(GROUPS[:3], seed=1)
    data = DataProto.from_dict(
        tensors={
            "token_level_rewards": token_rewards,
            "response_mask": mask,
            "responses": torch.ones_like(mask).long(),
        },
        non_tensors={"uid": index, "strategy": labels},
    )
    config = verl_config("algorithm.adv_estimator=grpo_div", "+algorithm.poly_epo.diversity.backend=labels").algorithm
    out = ray_trainer.compute_advantage(data, adv_estimator="grpo_div", config=config)
    scalar = out.batch["advantages"].sum(1) / mask.sum(1)
    assert scalar.tolist() == pytest.approx(
        expected_rows(GROUPS[:3], token_rewards, index, labels, 0.5).tolist(), abs=1e-6
    )


@pytest.mark.parametrize(
    "overrides,message",
    [
        (["actor_rollout_ref.rollout.n=1"], "grpo_div with actor_rollout_ref.rollout.n=1: a group of one response gets advantage 0"),
        (["+algorithm.poly_epo.diversity.backend=nope"], "diversity.backend='nope'"),
        (["+algorithm.poly_epo.diversity_bonus_weight=much"], "diversity_bonus_weight='much'"),
        (
            [
                "+algorithm.poly_epo.diversity.backend=custom",
                "+algorithm.poly_epo.diversity.custom.path=/nonexistent.py",
            ],
            "no such file",
        ),
    ],
)
def test_validation_stops_a_misconfigured_grpo_div_run(overrides, message):
    config = verl_config("algorithm.adv_estimator=grpo_div", "actor_rollout_ref.rollout.n=8", *overrides)
    with pytest.raises(ValueError, match=message):
        validate_run(config)


def test_grpo_div_is_registered_beside_poly_epo():
    assert get_adv_estimator_fn("grpo_div") is compute_grpo_div_advantage
    assert compute_grpo_div_advantage.__name__ == "compute_grpo_div_advantage"
    assert "grpo_div" in GROUP_ESTIMATORS and "poly_epo" in GROUP_ESTIMATORS
