"""The sentence-model backends on CPU and on a CUDA GPU: the same labels, and what the GPU saves.

    python benchmarks/bench_devices.py [--model NAME_OR_PATH] [--arms cpu cuda cuda-fp16]
        [--sources NAME ...] [--json FILE]

Needs a CUDA device for its ``cuda`` arms. Each arm is one model object of ``load_model``:

- ``cpu``: fp32 on the CPU, with every thread torch has (the one-word-piece table uses one, by
  design: ``text_clusters.static_table``);
- ``cuda``: fp32 on the GPU (``diversity.<backend>.device=cuda``);
- ``cuda-fp16``: the same GPU under the device string ``cuda:0``, which gives a model object of
  its own in ``load_model``'s cache; the benchmark halves it in place (``model.half()``), so
  fp16 is measured through the backends' real code without a user option.

1. Agreement: every test source of ``strategy_sources`` labelled by the default ``semantic``
   and by ``embedding`` on each arm, one call per source as a training step is; per source, the
   share of groups whose label partition is identical to the ``cpu`` arm's and the mean and
   least ARI (``agreement.adjusted_rand_index``) against it.
2. Cost of first use per arm: the model's load (for ``cuda``, after the CUDA context exists,
   whose start is timed apart) and the whole one-word-piece table that the semantic backend's
   generic-text direction needs at its first step.
3. A paper-scale step (``bench_strategy_detection.paper_step_groups``: 128 groups x 8 responses
   of ~4.3k word pieces): ``semantic`` (static, the default: once the table exists it calls no
   model, so its time should not depend on the arm), ``embedding``, and ``semantic`` with
   ``encoder=contextual`` (the ``cpu`` arm on the first ``CONTEXTUAL_CPU_GROUPS`` groups only,
   scaled to 128: its weights are over that call, so no agreement is drawn from it).
   One run per arm, after part 1 warmed every arm up; peak GPU memory
   (``torch.cuda.max_memory_allocated``) per arm and part, beside what was allocated at its
   start (the models of every GPU arm stay resident).

Results are written to ``--json`` after each part (a run cut short keeps what it measured).
Figures, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import strategy_sources  # noqa: E402
from bench_strategy_detection import paper_step_groups  # noqa: E402

from polyepo_plugin.config import SemanticOptions  # noqa: E402
from polyepo_plugin.diversity import text_clusters as tc  # noqa: E402
from polyepo_plugin.diversity.agreement import adjusted_rand_index  # noqa: E402
from polyepo_plugin.diversity.embedding import load_model  # noqa: E402
from polyepo_plugin.diversity.strategies import label_strategies  # noqa: E402

# arm -> (device string of the backends' options, halve the model)
ARMS = {"cpu": ("cpu", False), "cuda": ("cuda", False), "cuda-fp16": ("cuda:0", True)}
BACKENDS = ("semantic", "embedding")
CONTEXTUAL_CPU_GROUPS = 8


def on_gpu(arm: str) -> bool:
    return ARMS[arm][0].startswith("cuda")


def first_use(arm: str, model_name: str) -> dict:
    """Seconds to load the arm's model and to build its whole one-word-piece table."""
    device, halve = ARMS[arm]
    started = time.perf_counter()
    model = load_model(model_name, device)
    if halve:
        model.half()
    loaded = time.perf_counter()
    tc.generic_direction(model)
    return {"model_load_s": round(loaded - started, 2), "table_s": round(time.perf_counter() - loaded, 2)}


def agreement(reference: list[list[int]], labels: list[list[int]]) -> dict:
    """Per-group comparison of two labellings of the same groups."""
    aris = [adjusted_rand_index(a, b) for a, b in zip(reference, labels, strict=True)]
    return {
        "identical_pct": round(100.0 * float(np.mean([a == b for a, b in zip(reference, labels)])), 2),
        "mean_ari": round(float(np.mean(aris)), 4),
        "min_ari": round(float(np.min(aris)), 4),
        "groups": len(aris),
    }


def timed_labels(groups, prompts, backend: str, **options) -> tuple[list[list[int]], float]:
    started = time.perf_counter()
    labels = label_strategies(groups, prompts, backend=backend, **options)
    return labels, time.perf_counter() - started


class PeakMemory:
    """GPU memory allocated at the block's start and at its peak, in MiB (None off the GPU)."""

    def __init__(self, arm: str):
        self.gpu = on_gpu(arm)
        self.figures = {"resident_gpu_mib": None, "peak_gpu_mib": None}

    def __enter__(self):
        if self.gpu:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.figures["resident_gpu_mib"] = round(torch.cuda.memory_allocated() / 2**20, 1)
        return self

    def __exit__(self, *exc):
        if self.gpu:
            torch.cuda.synchronize()
            self.figures["peak_gpu_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)


def label_sources(sources, arms: list[str], model_name: str) -> list[dict]:
    rows = []
    for source in sources:
        groups = [g.texts for g in source.groups]
        prompts = [g.prompt for g in source.groups]
        for backend in BACKENDS:
            by_arm, row = {}, {"source": source.name, "part": source.part, "backend": backend}
            for arm in arms:
                with PeakMemory(arm) as peak:
                    by_arm[arm], seconds = timed_labels(groups, prompts, backend, model=model_name, device=ARMS[arm][0])
                row[arm] = {"seconds": round(seconds, 2), **peak.figures}
                if arm != arms[0]:
                    row[arm].update(agreement(by_arm[arms[0]], by_arm[arm]))
            rows.append(row)
            print(
                f"{source.name:<38} {backend:<9} "
                + "  ".join(f"{arm} {row[arm]['seconds']:.1f}s" + (
                    f" same {row[arm]['identical_pct']:.1f}% ARI {row[arm]['mean_ari']:.3f} (min {row[arm]['min_ari']:.2f})"
                    if "identical_pct" in row[arm] else "") for arm in arms),
                flush=True,
            )
    return rows


def paper_step(arms: list[str], model_name: str) -> dict:
    """Seconds, GPU memory and agreement with the first arm on one paper-scale step."""
    groups = paper_step_groups(load_model(model_name, "cpu").tokenizer)
    cases = {"semantic": ("semantic", {}), "embedding": ("embedding", {}), "semantic contextual": ("semantic", {"encoder": "contextual"})}
    out = {}
    for case, (backend, options) in cases.items():
        by_arm, row = {}, {}
        for arm in arms:
            count = CONTEXTUAL_CPU_GROUPS if case == "semantic contextual" and not on_gpu(arm) else len(groups)
            with PeakMemory(arm) as peak:
                labels, seconds = timed_labels(groups[:count], None, backend, model=model_name, device=ARMS[arm][0], **options)
            row[arm] = {"groups": count, "seconds": round(seconds, 2), **peak.figures}
            row[arm]["seconds_for_128_groups"] = round(seconds * len(groups) / count, 1)
            if count == len(groups):
                by_arm[arm] = labels
                reference = next(a for a in arms if a in by_arm)
                if arm != reference:
                    row[arm].update(agreement(by_arm[reference], labels), compared_with=reference)
            print(f"paper step, {case:<20} {arm:<9} {row[arm]}", flush=True)
        out[case] = row
    return out


def environment() -> dict:
    import sentence_transformers
    import transformers

    return {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "sentence_transformers": sentence_transformers.__version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
        "load_average_at_start": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=SemanticOptions().model, help="the sentence model (name or local path)")
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS), help="the first is the reference")
    parser.add_argument("--sources", nargs="+", help="test source names to keep (substring match); default all")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    result = {"command": " ".join(sys.argv), "environment": environment(), "arms": args.arms}

    def save(part: str, value) -> None:
        result[part] = value
        if args.json:
            args.json.write_text(json.dumps(result, indent=1, allow_nan=False))

    if any(on_gpu(arm) for arm in args.arms):
        started = time.perf_counter()
        torch.zeros(1, device="cuda")
        save("cuda_context_s", round(time.perf_counter() - started, 2))
    costs = {}
    for arm in args.arms:
        with PeakMemory(arm) as peak:
            costs[arm] = first_use(arm, args.model)
        costs[arm].update(peak.figures)
        print(f"first use, {arm:<9} {costs[arm]}", flush=True)
    save("first_use", costs)
    sources = strategy_sources.all_sources(dev=False)
    if args.sources:
        sources = [s for s in sources if any(k in s.name for k in args.sources)]
    save("agreement", label_sources(sources, args.arms, args.model))
    save("paper_step", paper_step(args.arms, args.model))
    print_summary(result)


def print_summary(result: dict) -> None:
    arms = result["arms"]
    print("\nfirst use (s): " + "; ".join(
        f"{arm} load {c['model_load_s']} table {c['table_s']}" for arm, c in result["first_use"].items()))
    for case, row in result["paper_step"].items():
        base = row[arms[0]]["seconds_for_128_groups"]
        print(f"paper step {case:<20} " + "  ".join(
            f"{arm} {row[arm]['seconds_for_128_groups']:.1f}s (x{base / max(row[arm]['seconds_for_128_groups'], 1e-9):.1f})"
            for arm in arms))
    if len(arms) == 1:
        return
    print(f"{'source':<38} {'backend':<9} " + " ".join(f"{arm + ' same% / ARI':>24}" for arm in arms[1:]))
    for row in result["agreement"]:
        print(f"{row['source']:<38} {row['backend']:<9} " + " ".join(
            f"{row[arm]['identical_pct']:>14.1f} / {row[arm]['mean_ari']:.3f}" for arm in arms[1:]))


if __name__ == "__main__":
    main()
