"""The CPU demo: a multi-strategy synthetic task, a tiny locally pre-trained base policy, and
``polyepo-demo`` running GRPO and Poly-EPO through verl's real trainer (see ``cli``)."""
