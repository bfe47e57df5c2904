"""``python -m polyepo_plugin.evaluation``: the same as ``polyepo-eval``."""

from polyepo_plugin.evaluation.cli import main

raise SystemExit(main())
