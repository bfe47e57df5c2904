"""verl 0.9.1 beside a TRL without the value-head model: verl's check of TRL made exact.

``verl.models.transformers.monkey_patch.apply_monkey_patch``, which every FSDP worker runs, asks
``is_trl_available()`` (is a ``trl`` package installed) and then imports
``AutoModelForCausalLMWithValueHead`` from ``trl.experimental.ppo`` or ``trl`` to patch it. TRL
removed that class after 1.12, so with ``polyepo[trl]`` installed (TRL 1.16) every verl run would
stop there with an ``ImportError``. Wrapped, the check says whether that class can be imported:
what the patch needs, and nothing else verl asks of it there.

The one module outside ``polyepo_plugin.trl`` that imports ``trl``: only these two imports,
which verl itself would run at that point, to see whether they succeed.
"""

from __future__ import annotations

import functools

from polyepo_plugin.integration.patching import wrap_attribute

MONKEY_PATCH_MODULE = "verl.models.transformers.monkey_patch"


@functools.cache
def value_head_importable() -> bool:
    """Whether verl's import of TRL's ``AutoModelForCausalLMWithValueHead`` succeeds."""
    try:
        from trl.experimental.ppo import AutoModelForCausalLMWithValueHead
    except ImportError:
        try:
            from trl import AutoModelForCausalLMWithValueHead  # noqa: F401
        except ImportError:
            return False
    return True


def patch_trl_check(module) -> None:
    def wrap(is_trl_available):
        @functools.wraps(is_trl_available)
        def trl_with_value_head() -> bool:
            return is_trl_available() and value_head_importable()

        return trl_with_value_head

    wrap_attribute(module, "is_trl_available", wrap, (), MONKEY_PATCH_MODULE)
