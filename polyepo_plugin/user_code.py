"""Loading a function from a user's Python file, the way verl names custom reward functions.

One home for every ``path``/``name`` pair the package accepts: a custom set objective, a custom
strategy backend, and the evaluation tool's reward function. Errors name the option that
pointed at the file, so a typo stops with a message the user can act on.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Callable
from functools import cache


@cache
def load_function(
    path: str, name: str, key: str, path_option: str | None = None, name_option: str | None = None
) -> Callable:
    """Function ``name`` of the Python file ``path``, loaded once per process.

    ``key`` is the option that named the file (e.g. ``algorithm.poly_epo.custom_objective``);
    a missing file, a file that fails to import, or a missing function raises ``ValueError``
    naming ``key.path`` or ``key.name``, or ``path_option`` / ``name_option`` when the options
    are spelled otherwise (command-line flags: ``--reward-path``).
    """
    path_option = path_option or f"{key}.path"
    name_option = name_option or f"{key}.name"
    if not path or not os.path.isfile(path):
        raise ValueError(f"{path_option}={path!r}: no such file")
    # A stable module name per file, so two files never share one module object.
    module_name = "polyepo_user_" + hashlib.sha1(os.path.abspath(path).encode()).hexdigest()[:16]
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        raise ValueError(
            f"{path_option}={path!r}: importing the file failed: {type(error).__name__}: {error}"
        ) from error
    function = getattr(module, name, None)
    if not callable(function):
        raise ValueError(f"{name_option}={name!r}: {path} defines no function of that name")
    return function
