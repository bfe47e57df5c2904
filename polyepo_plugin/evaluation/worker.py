"""One model's evaluation in a process of its own: ``polyepo-eval`` runs every ``--model`` so.

vLLM keeps its GPU memory until its process exits (deleting the engine does not free it), and
one model's failure (a broken checkpoint, running out of memory, a crash) must not take the
other models' results with it. ``evaluate_in_own_process`` writes the job as JSON, runs
``python -m polyepo_plugin.evaluation.worker JOB RESULT`` (its output goes to the parent's
terminal) and reads the result file: ``pipeline.evaluate``'s result, or ``{"error": ...}``. A
process that ends without writing one (killed for memory, a segfault) is recorded with its
exit status. The reward goes by file and name and is loaded again in the worker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import traceback


def evaluate_in_own_process(job: dict) -> dict:
    """``job``: ``pipeline.evaluate``'s keyword arguments (JSON values), with ``reward_path`` and
    ``reward_name`` in place of ``reward``. Returns the result, or ``{"error": message}``."""
    with tempfile.TemporaryDirectory(prefix="polyepo_eval_") as workdir:
        job_path, result_path = os.path.join(workdir, "job.json"), os.path.join(workdir, "result.json")
        with open(job_path, "w") as f:
            json.dump(job, f)
        status = subprocess.run([sys.executable, "-m", __name__, job_path, result_path], check=False).returncode
        if os.path.exists(result_path):
            with open(result_path) as f:
                return json.load(f)
    return {"error": f"the model's evaluation process ended with status {status} before writing a result "
            "(a negative status is the signal that killed it: 9 is the kernel's out-of-memory killer's)"}


def run_job(job: dict) -> dict:
    from polyepo_plugin.evaluation.pipeline import evaluate
    from polyepo_plugin.evaluation.scoring import load_reward

    job = dict(job)
    reward = load_reward(job.pop("reward_path"), job.pop("reward_name"))
    options = job.pop("backend_options", {})
    return evaluate(reward=reward, **job, **options)


def main(argv: list[str]) -> int:
    job_path, result_path = argv
    with open(job_path) as f:
        job = json.load(f)
    try:
        result, status = run_job(job), 0
    except Exception as error:  # recorded for this model; the parent goes on with the next
        traceback.print_exc()
        result, status = {"error": f"{type(error).__name__}: {error}"}, 1
    partial = result_path + ".partial"
    with open(partial, "w") as f:
        json.dump(result, f)
    os.replace(partial, result_path)  # the parent never reads half a file
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
