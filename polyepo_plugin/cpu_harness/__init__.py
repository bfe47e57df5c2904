"""CPU TEST/DEMO harness: run verl's real PPO trainer on a machine with no accelerator.

This is not part of Poly-EPO and never needed on a GPU machine. It is opt-in: importing this
package (e.g. for its tiny local assets) changes nothing; it is applied only when the module
``polyepo_plugin.cpu_harness.activate`` is named in verl's external-module hook::

    VERL_USE_EXTERNAL_MODULES=polyepo_plugin.cpu_harness.activate python -m verl.trainer.main_ppo ...

verl imports the modules named there inside ``import verl``, in the driver and in every
Ray worker, so the patches below reach all processes. When ``torch.cuda.is_available()``
is true this package does nothing at all (it logs at INFO and returns).

What it applies (each step idempotent, safe in many processes and on re-import):

- ``cpu_platform``: a ``cpu`` platform registered with ``verl.plugin.platform.PlatformRegistry``
  and selected via ``VERL_PLATFORM=cpu`` (gloo backend, a ``torch.cuda`` stand-in whose
  ``current_device()`` is ``"cpu"``, ``"GPU"`` as the Ray resource name);
- ``cpu_platform``: ``verl.utils.distributed.initialize_global_process_group_ray`` wrapped so the
  ``"cpu:gloo,cpu:gloo"`` backend string becomes ``"gloo"``;
- ``cpu_platform``: ``VERL_ENGINE_DEVICE=cuda`` so the FSDP engine (registered for cuda/npu)
  is found;
- ``hf_rollout``: ``rollout.name=hf`` registered in ``RolloutReplicaRegistry`` and
  ``verl.workers.rollout.base._ROLLOUT_REGISTRY`` (transformers generation on CPU); as
  ``reward.reward_model.rollout.name=hf`` it serves chat completions on 127.0.0.1
  (``hf_chat_server``) behind verl's reward-model router.

The hydra overrides a CPU run also needs live in :mod:`polyepo_plugin.cpu_harness.overrides`.
"""

from __future__ import annotations

import logging

from polyepo_plugin.cpu_harness.state import is_active, mark_active

logger = logging.getLogger(__name__)
__all__ = ["apply", "is_active"]


def apply() -> bool:
    """Apply all CPU patches; return False (doing nothing) when CUDA is available."""
    import torch

    if torch.cuda.is_available():
        logger.info("polyepo cpu_harness: CUDA is available, leaving verl untouched")
        return False
    try:
        mark_active()
        from . import cpu_platform, hf_rollout, stage_delay  # noqa: F401  (importing hf_rollout registers it)

        cpu_platform.register_platform()
        cpu_platform.select_fsdp_engine()
        cpu_platform.patch_process_group_backend()
        stage_delay.install()
        # hf_rollout registers itself when its import completes (see its last lines): a Ray
        # worker may import it first, and its `import verl` then runs apply() mid-import.
    except Exception:
        # A half-applied harness fails later in confusing ways; say so loudly here.
        logger.exception("polyepo cpu_harness: failed to apply CPU patches")
        raise
    return True
