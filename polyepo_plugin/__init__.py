"""Poly-EPO (Polychromic Exploratory Policy Optimization) for verl.

Installing the package registers the ``poly_epo`` advantage estimator with verl (through the
``verl.plugins`` entry point); select it with ``algorithm.adv_estimator=poly_epo``.
"""

__version__ = "0.1.0"  # the package version (pyproject reads it; CITATION.cff repeats it, a test checks)
