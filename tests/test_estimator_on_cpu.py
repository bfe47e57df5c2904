"""The poly_epo estimator through verl's registry: contract, options and bad input."""

import logging
import uuid

import numpy as np
import pytest
import torch
from brute_force import marginal_advantages as brute_marginal
from brute_force import max_objective, mean_objective, poly_objective
from omegaconf import OmegaConf
from verl.trainer.ppo.core_algos import get_adv_estimator_fn

from polyepo_plugin.diversity import backend_names
from polyepo_plugin.estimator import SUM_SCALE_WARN_FACTOR, StepInputs, compute_poly_epo_advantage, set_advantages


def make_batch(groups, response_length=6, seed=0):
    """Rows of several prompt groups, shuffled as verl may hand them over, with ragged response masks."""
    rng = np.random.default_rng(seed)
    rows = [(f"uid-{g}", r, s) for g, (rewards, strategies) in enumerate(groups) for r, s in zip(rewards, strategies)]
    order = rng.permutation(len(rows))
    rows = [rows[i] for i in order]
    lengths = rng.integers(1, response_length + 1, size=len(rows))
    mask = (torch.arange(response_length)[None, :] < torch.as_tensor(lengths)[:, None]).float()
    token_rewards = torch.zeros(len(rows), response_length)
    for row, (_, reward, _) in enumerate(rows):
        # Spread the reward over two tokens: the estimator must sum them.
        token_rewards[row, lengths[row] - 1] = reward * 0.75
        token_rewards[row, 0] += reward * 0.25
    index = np.array([uid for uid, _, _ in rows], dtype=object)
    strategies = np.array([s for _, _, s in rows], dtype=object)
    return token_rewards, mask, index, strategies


def labels_config(**poly_epo):
    return OmegaConf.create({"adv_estimator": "poly_epo", "poly_epo": {"diversity": {"backend": "labels"}, **poly_epo}})


def estimate(token_rewards, mask, index, strategies, config, **extra):
    estimator = get_adv_estimator_fn("poly_epo")
    return estimator(
        token_level_rewards=token_rewards,
        response_mask=mask,
        index=index,
        config=config,
        non_tensor_batch={"uid": index, "strategy": strategies},
        **extra,
    )


def test_contract_against_enumeration_with_default_auto_set_size():
    groups = [
        ([1, 0, 1, 1, 0, 0, 1, 1], [0, 0, 1, 2, -1, 3, 1, 0]),
        ([1, 1, 1, 1, 1, 1], ["a", "a", "b", "b", "c", None]),  # another size: k = 3
        ([0, 0, 0, 0], [0, 1, 2, 3]),
    ]
    token_rewards, mask, index, strategies = make_batch(groups)
    advantages, returns = estimate(token_rewards, mask, index, strategies, labels_config())
    assert advantages.shape == mask.shape and torch.equal(advantages, returns)
    assert torch.all(advantages[mask == 0] == 0)
    scalar = advantages.sum(1) / mask.sum(1)
    # every response token carries the response's scalar
    assert torch.allclose(advantages, scalar[:, None] * mask)
    for g, (rewards, labels) in enumerate(groups):
        rows = np.flatnonzero(index == f"uid-{g}")
        codes = [-1 if lab is None else "abc".index(lab) if isinstance(lab, str) else lab for lab in labels]
        want = brute_marginal([float(r) for r in rewards], codes, len(rewards) // 2, poly_objective)
        # Rows were shuffled; the advantage depends only on (reward, label), so compare as multisets.
        got = sorted(zip(token_rewards[rows].sum(1).tolist(), map(str, strategies[rows]), scalar[rows].tolist()))
        expected = sorted(zip(map(float, rewards), map(str, labels), want))
        assert [g[:2] for g in got] == [e[:2] for e in expected]
        assert [g[2] for g in got] == pytest.approx([e[2] for e in expected], abs=1e-6)


def brute_force_rows(token_rewards, index, strategies, objective, set_size=None, scale="mean"):
    """Each row's advantage by subset enumeration over its group, rows in the batch's order.

    Rewards as the estimator sums them; labels coded per group (None -> -1 degenerate)."""
    want = np.zeros(len(index))
    for uid in dict.fromkeys(index.tolist()):
        rows = np.flatnonzero(index == uid)
        rewards = token_rewards[rows].sum(1).double().tolist()
        codes = {}
        labels = [-1 if lab is None else codes.setdefault(lab, len(codes)) for lab in strategies[rows].tolist()]
        k = set_size or max(len(rows) // 2, 2)
        want[rows] = brute_marginal(rewards, labels, k, objective, scale=scale)
    return want.tolist()


RAGGED_GROUPS = [
    ([1, 0, 1, 1, 0, 0, 1, 1], ["a", "a", "a", "a", "b", None, "a", "a"]),  # k = 4
    ([1, 1, 0, 1, 1, 0], ["x", "x", "x", None, "y", "x"]),  # k = 3
    ([0.5, 1, 0, 1, 0.25], ["p", "p", "p", "p", "p"]),  # one strategy: every set scores 0; k = 2
    ([1, 0, 1, 1, 0, 1, 0], [None, "q", "q", "r", "q", "q", "s"]),  # k = 3
    ([1, 0, 1], ["m", "n", "m"]),  # k = 2, not 1: sets keep the diversity term
    ([1, 0], ["u", "v"]),  # k = 2: N <= k, advantage 0
    ([1], ["w"]),  # N <= k: advantage 0
]


def test_single_strategy_sets_score_zero_through_the_config_equals_enumeration():
    token_rewards, mask, index, strategies = make_batch(RAGGED_GROUPS, seed=4)
    options = {"single_strategy_sets_score_zero": True, "diversity": {"backend": "labels"}}
    advantages, returns = compute_poly_epo_advantage(
        token_rewards, mask, index=index, config={"poly_epo": options}, non_tensor_batch={"strategy": strategies}
    )
    assert torch.equal(advantages, returns) and torch.all(advantages[mask == 0] == 0)
    scalar = (advantages.sum(1) / mask.sum(1)).tolist()

    def single_zero(rewards, labels):
        return poly_objective(rewards, labels, single_strategy_sets_score_zero=True)

    assert scalar == pytest.approx(brute_force_rows(token_rewards, index, strategies, single_zero), abs=1e-6)
    plain = brute_force_rows(token_rewards, index, strategies, poly_objective)
    assert scalar != pytest.approx(plain, abs=1e-3)  # the option changed the advantages
    assert advantages[index == "uid-2"].abs().max() < 1e-12  # one strategy: no set scores


@pytest.mark.parametrize("objective,brute", [("max", max_objective), ("mean", mean_objective)])
@pytest.mark.parametrize("set_size", ["auto", 2])
def test_sum_scale_on_ragged_groups_equals_enumeration(objective, brute, set_size):
    groups = [
        ([0.3, 1, 0, 0.9, 0.1, 0.6, 1, 0.2], [0] * 8),
        ([1, 0, 0, 1, 1, 0], [0] * 6),
        ([0.7, 0.1, 0.4], [0] * 3),
        ([1, 0], [0] * 2),
        ([1], [0]),
    ]
    token_rewards, mask, index, _ = make_batch(groups, seed=5)
    config = {"poly_epo": {"objective": objective, "advantage_scale": "sum", "set_size": set_size}}
    advantages, _ = compute_poly_epo_advantage(token_rewards, mask, index=index, config=config)
    scalar = (advantages.sum(1) / mask.sum(1)).tolist()
    k = None if set_size == "auto" else set_size
    want = brute_force_rows(token_rewards, index, np.zeros(len(index), dtype=object), brute, k, scale="sum")
    assert scalar == pytest.approx(want, rel=1e-5, abs=1e-6)
    assert max(map(abs, want)) > 1  # the sum scale is in play (C(7, 3) = 35 for the first group)


def test_set_size_integer_and_paper_defaults_agree_at_n8():
    groups = [([1, 0, 1, 1, 0, 0, 1, 1], [0, 0, 1, 2, -1, 3, 1, 0])]
    batch = make_batch(groups)
    auto, _ = estimate(*batch, labels_config())
    four, _ = estimate(*batch, labels_config(set_size=4))
    two, _ = estimate(*batch, labels_config(set_size="2"))
    assert torch.equal(auto, four)
    assert not torch.allclose(auto, two)


@pytest.mark.parametrize("objective", ["max", "mean"])
def test_objectives_without_strategies_need_no_batch(objective):
    token_rewards, mask, index, _ = make_batch([([1, 0, 0, 1], [0] * 4), ([1, 1, 1, 0], [0] * 4)])
    estimator = get_adv_estimator_fn("poly_epo")
    config = {"poly_epo": {"objective": objective, "set_size": 2}}
    advantages, _ = estimator(token_level_rewards=token_rewards, response_mask=mask, index=index, config=config)
    scalar = advantages.sum(1) / mask.sum(1)
    for uid in set(index):
        assert scalar[index == uid].sum().item() == pytest.approx(0.0, abs=1e-6)
    assert scalar.abs().max() > 0


def test_padding_rows_get_zero_and_stay_out_of_groups():
    groups = [([1, 0, 1, 0], [0, 1, 1, 2])]
    token_rewards, mask, index, strategies = make_batch(groups)
    plain, _ = estimate(token_rewards, mask, index, strategies, labels_config(set_size=2))
    pad_rewards = torch.cat([token_rewards, torch.ones(2, mask.shape[1])])
    pad_mask = torch.cat([mask, torch.zeros(2, mask.shape[1])])
    verl_pad_uid = "pad" + uuid.UUID(int=7).hex  # verl v1's padding uid; an untagged verl passes only this
    pad_index = np.concatenate([index, np.array([verl_pad_uid, verl_pad_uid], dtype=object)])
    pad_strategies = np.concatenate([strategies, np.array([5, 5], dtype=object)])
    metrics = {}
    padded, _ = estimate(pad_rewards, pad_mask, pad_index, pad_strategies, labels_config(set_size=2), metrics=metrics)
    assert torch.equal(padded[:4], plain)
    assert torch.all(padded[4:] == 0)
    assert metrics["poly_epo/padding_rows"] == 2
    assert metrics["poly_epo/groups"] == 1


@pytest.mark.parametrize("objective", ["poly", "custom"])
def test_auto_sets_of_three_responses_keep_the_diversity_term(objective, tmp_path):
    """rollout.n=3: auto's k is 2, not 1 (where every set holds one response and strategies
    cannot matter), so shared and distinct strategies give different advantages."""
    source = tmp_path / "objective.py"
    source.write_text(
        "def set_objective(rewards, strategies):\n"
        "    return rewards.max(dim=1).values * (strategies[:, 0] != strategies[:, 1])\n"
    )
    config = labels_config(objective=objective, custom_objective={"path": str(source)})
    rewards = [1, 1, 0]
    distinct, _ = estimate(*make_batch([(rewards, [0, 1, 2])]), config)
    shared, _ = estimate(*make_batch([(rewards, [0, 0, 1])]), config)
    assert not torch.allclose(distinct, shared)


def test_auto_gives_groups_of_two_or_one_advantage_zero():
    """Uneven groups (v1, padding) may hold 2 or 1 responses under set_size=auto: k = 2 >= N."""
    groups = [([1, 0, 1, 0], [0, 1, 1, 2]), ([1, 0], [0, 1]), ([1], [0])]
    token_rewards, mask, index, strategies = make_batch(groups)
    metrics = {}
    advantages, _ = estimate(token_rewards, mask, index, strategies, labels_config(), metrics=metrics)
    small = np.isin(index, ["uid-1", "uid-2"])
    assert torch.all(advantages[small] == 0) and advantages[~small].abs().sum() > 0
    assert metrics["poly_epo/skipped_groups"] == 2
    assert metrics["poly_epo/set_size_mean"] == 2


def test_groups_not_larger_than_set_size_are_zero_and_counted():
    groups = [([1, 0, 1, 0, 1, 1], [0, 1, 1, 2, 0, 0]), ([1, 0, 1], [0, 1, 2]), ([1, 1], [0, 1])]
    token_rewards, mask, index, strategies = make_batch(groups)
    metrics = {}
    advantages, _ = estimate(token_rewards, mask, index, strategies, labels_config(set_size=3), metrics=metrics)
    small = np.isin(index, ["uid-1", "uid-2"])
    assert torch.all(advantages[small] == 0)
    assert advantages[~small].abs().sum() > 0
    assert metrics["poly_epo/skipped_groups"] == 2
    assert metrics["poly_epo/zero_advantage_group_fraction"] == pytest.approx(2 / 3)


def test_metrics_count_distinct_and_distinct_correct_strategies():
    groups = [([1, 1, 0, 0], [0, 1, 2, -1]), ([1, 0, 1, 0], [0, 0, 0, 1])]
    metrics = {}
    estimate(*make_batch(groups), labels_config(set_size=2), metrics=metrics)
    assert metrics["poly_epo/distinct_strategies_mean"] == pytest.approx((3 + 2) / 2)
    assert metrics["poly_epo/distinct_correct_strategies_mean"] == pytest.approx((2 + 1) / 2)
    assert metrics["poly_epo/degenerate_fraction"] == pytest.approx(1 / 8)


def test_non_finite_rewards_name_the_rows():
    token_rewards, mask, index, strategies = make_batch([([1, 0, 1, 0], [0, 1, 2, 3])])
    token_rewards[2, 0] = float("nan")
    token_rewards[3, 1] = float("inf")
    with pytest.raises(ValueError, match=r"2 response\(s\): row 2 \(uid 'uid-0'\): nan, row 3"):
        estimate(token_rewards, mask, index, strategies, labels_config())


def test_missing_index_is_an_error():
    token_rewards, mask, _, _ = make_batch([([1, 0, 1, 0], [0, 1, 2, 3])])
    with pytest.raises(ValueError, match="needs the uid"):
        get_adv_estimator_fn("poly_epo")(token_level_rewards=token_rewards, response_mask=mask, config=None)


def test_default_backend_without_batch_says_what_is_missing():
    token_rewards, mask, index, _ = make_batch([([1, 0, 1, 0], [0, 1, 2, 3])])
    with pytest.raises(ValueError, match=r"semantic reads batch\['responses'\].*Stock verl 0.9.1"):
        get_adv_estimator_fn("poly_epo")(
            token_level_rewards=token_rewards, response_mask=mask, index=index, config=None
        )


def test_labels_missing_or_of_wrong_length():
    token_rewards, mask, index, strategies = make_batch([([1, 0, 1, 0], [0, 1, 2, 3])])
    estimator = get_adv_estimator_fn("poly_epo")
    common = dict(token_level_rewards=token_rewards, response_mask=mask, index=index, config=labels_config())
    with pytest.raises(ValueError, match=r"missing \(keys present: acc, uid\)"):
        estimator(**common, non_tensor_batch={"uid": index, "acc": strategies})
    with pytest.raises(ValueError, match="3 entries for 4 responses"):
        estimator(**common, non_tensor_batch={"uid": index, "strategy": strategies[:3]})
    with pytest.raises(ValueError, match="got no non_tensor_batch"):
        estimator(**common)


@pytest.mark.parametrize(
    "options,message",
    [
        ({"objective": "best"}, r"objective='best': expected one of 'poly', 'max', 'mean', 'custom'"),
        (
            {"diversity": {"backend": "magic"}},
            "diversity.backend='magic': expected one of " + ", ".join(f"'{b}'" for b in backend_names()),
        ),
        ({"set_size": 0}, r"set_size=0: expected 'auto'"),
        ({"set_size": "half"}, r"set_size='half'"),
        ({"advantage_scale": "max"}, r"advantage_scale='max': expected one of 'mean', 'sum'"),
        (
            {"setsize": 4},
            r"unknown option\(s\) algorithm.poly_epo.setsize; valid options under algorithm.poly_epo: set_size",
        ),
        ({"diversity": {"ngram": {"n": 0}}}, r"diversity.ngram.n=0"),
        ({"diversity": {"judge": {"temperature": -1.0}}}, r"diversity.judge.temperature=-1.0: expected a number >= 0"),
        ({"diversity": {"judge": {"temperature": float("nan")}}}, r"diversity.judge.temperature=nan"),
        ({"diversity": {"judge": {"max_failed_steps": 0}}}, r"judge.max_failed_steps=0: expected an integer >= 1"),
        ({"diversity": {"semantic": {"numbers_evidence": float("inf")}}}, r"semantic.numbers_evidence=inf: expected a number >= 0"),
        ({"correct_threshold": float("nan")}, r"correct_threshold=nan: expected a finite number"),
        ({"diversity_bonus_weight": -0.5}, r"diversity_bonus_weight=-0.5: expected a number >= 0"),
        ({"diversity_bonus_weight": float("inf")}, r"diversity_bonus_weight=inf"),
        ({"objective": "custom"}, r"custom_objective.path=None"),
        ({"custom_objective": {"path": "/nonexistent.py"}, "objective": "custom"}, "no such file"),
    ],
)
def test_bad_options_are_rejected_with_the_valid_choices(options, message):
    token_rewards, mask, index, strategies = make_batch([([1, 0, 1, 0], [0, 1, 2, 3])])
    with pytest.raises(ValueError, match=message):
        estimate(token_rewards, mask, index, strategies, OmegaConf.create({"poly_epo": options}))


def test_custom_objective_loaded_from_a_file(tmp_path):
    source = tmp_path / "my_objective.py"
    source.write_text("import torch\ndef best_of_set(rewards, strategies):\n    return rewards.max(dim=1).values\n")
    groups = [([1, 0, 0, 1, 0, 0], [0, 1, 2, 3, 4, 5])]
    batch = make_batch(groups)
    custom, _ = estimate(
        *batch, labels_config(objective="custom", custom_objective={"path": str(source), "name": "best_of_set"})
    )
    closed, _ = estimate(*batch, labels_config(objective="max"))
    assert torch.allclose(custom, closed, atol=1e-6)


def test_sum_scale_warns_when_the_factor_is_large(caplog):
    n = 16  # C(15, 7) = 6435 > SUM_SCALE_WARN_FACTOR
    groups = [([float(i % 2) for i in range(n)], list(range(n)))]
    batch = make_batch(groups)
    with caplog.at_level(logging.WARNING, logger="polyepo_plugin.estimator"):
        summed, _ = estimate(*batch, labels_config(advantage_scale="sum"))
    assert "C(N-1,k-1) = 6435" in caplog.text and 6435 > SUM_SCALE_WARN_FACTOR
    mean, _ = estimate(*batch, labels_config())
    assert torch.allclose(summed, mean * 6435, rtol=1e-5)


def test_verl_uuid_uids_and_string_labels():
    uids = [str(uuid.uuid4()) for _ in range(3)]
    index = np.array([u for u in uids for _ in range(4)], dtype=object)
    token_rewards = torch.tensor([[1.0], [0.0], [1.0], [1.0]] * 3)
    mask = torch.ones(12, 1)
    strategies = np.array(["sub", "sub", "add", None] * 3, dtype=object)
    advantages, _ = estimate(token_rewards, mask, index, strategies, labels_config(set_size=2))
    want = brute_marginal([1.0, 0.0, 1.0, 1.0], [0, 0, 1, -1], 2, poly_objective)
    assert advantages[:, 0].tolist() == pytest.approx(want * 3, abs=1e-6)


def test_group_ids_starting_with_pad_are_groups_like_any_other():
    """set_advantages with prompt texts as ids: "pad thai" and "padding" are two groups, not padding."""
    rewards = [1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0]
    names = ["pad thai"] * 4 + ["padding"] * 4
    texts = ["alpha one", "beta two", "gamma three", "delta four"] * 2
    options = {"set_size": 2, "diversity": {"backend": "ngram"}}
    advantages, metrics = set_advantages(rewards, names, options, inputs=StepInputs.from_texts(texts))
    renamed, _ = set_advantages(rewards, ["a"] * 4 + ["b"] * 4, options, inputs=StepInputs.from_texts(texts))
    assert metrics["poly_epo/groups"] == 2 and metrics["poly_epo/padding_rows"] == 0
    assert torch.equal(advantages, renamed) and advantages.abs().sum() > 0
