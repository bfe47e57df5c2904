"""One-time notes at start-up where a ``poly_epo``/``grpo_div`` run differs from the paper.

Nothing here stops a run: each note is a WARNING logged once per process, saying what differs,
why it matters, and what to set.
"""

from __future__ import annotations

import logging

from polyepo_plugin.config import CONFIG_ROOT, MIN_AUTO_SET_SIZE, PolyEpoConfig

logger = logging.getLogger("polyepo_plugin.integration")

PAPER_LOSS_AGG_MODE = "seq-mean-token-sum-norm"
_noted: set[str] = set()


def note_once(message: str) -> None:
    if message not in _noted:
        _noted.add(message)
        logger.warning(message)


def note_run(
    config, name: str, options: PolyEpoConfig, verl_version: str, tested_versions: tuple[str, ...]
) -> None:
    if verl_version not in tested_versions:
        note_once(
            f"polyepo was tested with verl {', '.join(tested_versions)}; this is verl {verl_version}. "
            "The trainer integration's shape checks passed."
        )
    algorithm = config.algorithm
    actor = config.actor_rollout_ref.actor
    loss_agg_mode = actor.get("loss_agg_mode")
    if loss_agg_mode != PAPER_LOSS_AGG_MODE:
        note_once(
            f"{name}: actor.loss_agg_mode={loss_agg_mode}; the paper used {PAPER_LOSS_AGG_MODE} "
            "(Dr.GRPO-style, with actor.loss_scale_factor = max response length)."
        )
    elif actor.get("loss_scale_factor") is None:
        note_once(
            f"{name}: loss_agg_mode={PAPER_LOSS_AGG_MODE} without actor.loss_scale_factor divides by the padded "
            "response width (set per micro-batch by the v1 trainer); the paper divides by the max response length: "
            "set actor_rollout_ref.actor.loss_scale_factor=<data.max_response_length>."
        )
    filter_groups = algorithm.get("filter_groups")
    if filter_groups is not None and filter_groups.get("enable", False):
        note_once(
            f"{name}: algorithm.filter_groups is on; it drops all-correct groups, where {name} still has a "
            "signal (it prefers rarer strategies among correct answers)."
        )
    if name == "poly_epo":
        _note_single_response_sets(config, options)
        _note_other_loss_terms(config)


def _note_single_response_sets(config, options: PolyEpoConfig) -> None:
    if options.set_size_for(int(config.actor_rollout_ref.rollout.n)) == 1:
        note_once(
            f"poly_epo: {CONFIG_ROOT}.set_size=1: every set holds one response, so a set's score is that response's "
            "reward and strategy diversity has no effect: the advantages are GRPO-like (reward minus the group "
            f"mean, not divided by the standard deviation). set_size=auto keeps sets of at least {MIN_AUTO_SET_SIZE}."
        )


def _note_other_loss_terms(config) -> None:
    """The mean-form set advantage is several times smaller than GRPO's (with N=8, k=4 and 3 of 8
    correct, +0.02..+0.09 for a correct response against GRPO's +0.63), so a KL or entropy term
    carried over from a GRPO config weighs 7-28x more against the policy term."""
    actor = config.actor_rollout_ref.actor
    terms = []
    if actor.get("use_kl_loss", False):
        terms.append(f"actor.use_kl_loss=True (kl_loss_coef={actor.get('kl_loss_coef')})")
    if float(actor.get("entropy_coeff", 0.0) or 0.0) != 0.0:
        terms.append(f"actor.entropy_coeff={actor.get('entropy_coeff')}")
    if config.algorithm.get("use_kl_in_reward", False):
        terms.append("algorithm.use_kl_in_reward=True")
    if terms:
        note_once(
            "poly_epo: " + ", ".join(terms) + ". Poly-EPO's advantages are several times smaller than GRPO's "
            "(N=8, k=4, 3 of 8 correct: a correct response gets +0.02 to +0.09 against GRPO's +0.63), so these "
            "terms weigh about 7-28x more against the policy term than in a GRPO run with the same coefficients. "
            "The paper trains with KL and entropy at 0; if you keep these terms, scale their coefficients down "
            "by about that factor."
        )
