"""Applies the CPU test/demo harness when imported; name it in ``VERL_USE_EXTERNAL_MODULES``.

verl imports the modules listed there inside ``import verl``, in the driver and in every Ray
worker. Nothing happens where CUDA is available (see ``polyepo_plugin.cpu_harness.apply``).
"""

from polyepo_plugin.cpu_harness import apply

apply()
