"""The ``answer`` backend's worker process: classifies one group's final answers per request.

Started by ``polyepo_plugin.diversity.answer`` as ``python answer_worker.py REQUESTS_FD REPLIES_FD``
(run by path, so the process imports only the standard library and math-verify, not polyepo or
torch). It sends ``"ready"`` once math-verify is imported, then answers each request, a list
of response texts, with ``("labels", [class or None per text])`` or ``("error", message)``,
until its requests pipe closes.

math-verify bounds parsing and comparison with ``signal.alarm``, which works only in a main
thread: here every call runs in the process's main thread, with math-verify's default limits
(5 s a call). The parent bounds a whole group on top of that, killing the process.

Classes: the distinct parsed answers of a group are visited in a canonical (sorted) order; each
joins the first class whose representative (its first answer in that order) verifies equal to it,
else it founds a new class. The partition therefore depends on the group's answers, never on the
order of its responses (math-verify's equality need not be transitive, so the canonical order
is what settles such cases).
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":  # run by path: this package's directory leads sys.path; its modules must shadow none
    sys.path[:] = [path for path in sys.path if os.path.abspath(path or ".") != os.path.dirname(os.path.abspath(__file__))]

from multiprocessing.connection import Connection  # noqa: E402


def classify(texts: list[str], parse, verify) -> list[int | None]:
    """One class per set of equivalent final answers; ``None`` where none can be parsed."""
    parsed = [parse(text) if text.strip() else [] for text in texts]
    # The parse's printed forms name an answer: equal keys are equal without asking verify.
    keys = [tuple(map(str, answer)) if answer else None for answer in parsed]
    answer_of = {key: answer for key, answer in zip(keys, parsed) if key is not None}
    representatives: list = []
    class_of: dict[tuple, int] = {}
    for key in sorted(answer_of):
        answer = answer_of[key]
        match = next((c for c, rep in enumerate(representatives) if verify(rep, answer)), None)
        if match is None:
            match = len(representatives)
            representatives.append(answer)
        class_of[key] = match
    return [None if key is None else class_of[key] for key in keys]


def serve(requests: Connection, replies: Connection) -> None:
    import math_verify

    replies.send("ready")
    while True:
        try:
            texts = requests.recv()
        except EOFError:  # the backend closed its end, or its process ended
            return
        try:
            replies.send(("labels", classify(texts, math_verify.parse, math_verify.verify)))
        except Exception as error:  # noqa: BLE001 - reported to the labelling, which raises it
            replies.send(("error", f"{type(error).__name__}: {error}"))


if __name__ == "__main__":
    serve(Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]), readable=False))
