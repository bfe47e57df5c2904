"""verl integration: the only subpackage that imports verl internals.

Modules, one concern each:

- ``registration``: the ``verl.plugins`` entry point's target; binds ``poly_epo`` and
  ``grpo_div`` in verl's estimator registry and installs ``import_hook``.
- ``import_hook``: wraps the trainers' functions when verl imports them (``patching`` checks
  each target's shape first and records what does not fit).
- ``checks``: start-up errors, before any model loads; ``notes``: one-time warnings where a run
  differs from the paper's settings; ``preflight``: ``polyepo-check``, the same checks on a
  config composed from a run's overrides, before any cluster exists.
- ``legacy``: the legacy and separation trainers, and the two built on the separation trainer
  with the rollout apart (one-step-off-policy, fully async); ``v1``: the v1 trainer and
  TransferQueue.
- ``rewards``: verl's reward functions for the evaluation tool.
- ``served_judge``: a judge verl serves as its reward model (``diversity.judge.base_url: verl``):
  its start-up checks, and handing the reward-model router to the judge backend once a trainer
  has built its reward loop.

How data flows. verl calls a registered estimator with rewards, response mask, uids and the
``algorithm`` config only. The estimator (``polyepo_plugin.estimator``, free of verl) also
reads a ``StepInputs``: the batch in the legacy layout, the tokenizer, padding rows, and a
``metrics`` dict to write to. One channel each way, per trainer:

- legacy / separation / one-step-off-policy / fully async: in, the wrapped ``compute_advantage`` supplies ``StepInputs`` built from
  its ``DataProto`` and the running trainer's tokenizer (``estimator.supplying``); out, the
  metrics ride in the returned ``meta_info`` into the wrapped ``compute_data_metrics``.
- v1: in, the wrapped ``compute_advantage_for_multi_trajectories`` keeps each session's final
  output, fetches those rows' prompts, responses and reward extra info from TransferQueue,
  checks them against verl's rows, and supplies them; out, the trainer's own ``metrics`` dict.
- a verl patched with ``patches/`` passes ``batch``, ``tokenizer`` and ``metrics`` as keywords,
  and no runtime wrapper is installed (only the start-up checks).

Then, inside the estimator: rows -> prompt groups (``grouping``) -> strategy labels
(``diversity`` backends) -> set advantages (``set_advantage``) -> one value per row, written on
the row's response tokens by verl.
"""
