"""Runs verl's v1 ``PPOTrainer._compute_advantage`` on rows held in a real TransferQueue.

Used by test_v1_transfer_queue_on_cpu.py in a fresh process (Ray and TransferQueue are
process-wide). Prints one JSON line: per case, the advantages verl wrote back, the ones the
reference gives for the same rows, and the poly_epo metrics verl's step received.

Cases: one output per session (labels and ngram backends); multi-output agent-loop sessions in
interleaved groups with tagged padding rows (the reference is brute-force enumeration over each
session's final output); reward extra info stored as top-level fields (a colocated reward
model); a decoding backend (custom) with a real tokenizer; and rows that do not line up with
verl's (a permutation inside a group), which must stop the step.
"""

import json
import os
import sys
import tempfile
import time
from types import SimpleNamespace

import numpy as np
import ray
import torch
import transfer_queue as tq
import verl
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from verl.trainer.ppo.v1.trainer_sync import PPOTrainerSync
from verl.utils.tensordict_utils import list_of_dict_to_tensordict

from brute_force import marginal_advantages, poly_objective
from fake_judge import FakeJudge
from polyepo_plugin.config import parse_config
from polyepo_plugin.cpu_harness.tiny_assets import build_tokenizer
from polyepo_plugin.estimator import StepInputs, row_advantages

JUDGE_DELAY_S = 0.8
CONFIG_DIR = os.path.join(os.path.dirname(verl.__file__), "trainer", "config")
_partitions = iter(f"train{i}" for i in range(100))


class PadOnlyTokenizer:
    pad_token_id = 0


def single_output_rows(groups=3, n=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for p in range(groups):
        for s in range(n):
            length = int(torch.randint(2, 8, (1,), generator=g))
            # two token "styles", so that n-gram overlap finds more than one strategy
            base = 3 if s % 2 == 0 else 20
            score = float(torch.randint(0, 2, (1,), generator=g))
            out.append(
                row(f"prompt{p}", base + torch.arange(length) % 6, score, {"strategy": s % 3, "acc": score}, g)
            )
    return out, [f"{r['uid']}_{i}_0" for i, r in enumerate(out)]


def row(uid, responses, score, reward_extra_info, generator):
    rm_scores = torch.zeros(len(responses))
    rm_scores[-1] = score
    return {
        "uid": uid,
        "prompts": torch.randint(3, 30, (int(torch.randint(2, 5, (1,), generator=generator)),), generator=generator),
        "responses": responses,
        "response_mask": torch.ones(len(responses), dtype=torch.int64),
        "rm_scores": rm_scores,
        "extra_fields": {"reward_extra_info": reward_extra_info},
    }


def multi_output_rows(seed=1):
    """Two prompts, 4 sessions each; some sessions return 2-3 outputs. Rows of the two prompts
    are interleaved; two padding rows (tagged, uid without the 'pad' prefix) close the batch."""
    g = torch.Generator().manual_seed(seed)
    sessions = {  # (uid, session) -> [(strategy, score)] per output, the last one final
        ("alpha", 0): [(7, 0.0), (0, 1.0)],
        ("alpha", 1): [(1, 0.0)],
        ("alpha", 2): [(5, 1.0), (6, 0.0), (1, 1.0)],
        ("alpha", 3): [(2, 0.0)],
        ("beta", 0): [(0, 1.0)],
        ("beta", 1): [(3, 1.0), (0, 1.0)],
        ("beta", 2): [(1, 0.0)],
        ("beta", 3): [(4, 0.0), (2, 1.0)],
    }
    order = [("alpha", 0), ("beta", 0), ("alpha", 1), ("beta", 1), ("alpha", 2), ("beta", 2), ("alpha", 3), ("beta", 3)]
    rows, keys, tags = [], [], []
    for uid, session in order:
        for i, (strategy, score) in enumerate(sessions[(uid, session)]):
            length = int(torch.randint(2, 7, (1,), generator=g))
            rows.append(row(uid, torch.arange(length) + 3, score, {"strategy": strategy, "acc": score}, g))
            keys.append(f"{uid}_{session}_{i}")
            tags.append({})
    for i, score in enumerate((1.0, 0.0)):  # v1 padding: copies of a real row, tagged
        rows.append(row("filler", torch.arange(3) + 3, score, {"strategy": i, "acc": score}, g))
        keys.append(f"filler_{i}_0")
        tags.append({"is_padding": True})
    expected = {}
    for uid in ("alpha", "beta"):
        finals = [sessions[(uid, s)][-1] for s in range(4)]
        advantages = marginal_advantages([sc for _, sc in finals], [st for st, _ in finals], 2, poly_objective)
        for s in range(4):
            expected[(uid, s)] = advantages[s]
    per_row = [expected.get((key.rsplit("_", 2)[0], int(key.rsplit("_", 2)[1])), 0.0) for key in keys]
    per_row = [0.0 if tag else value for value, tag in zip(per_row, tags)]
    return rows, keys, tags, per_row


def put(samples, keys, tags=None, top_level=()):
    """Store rows; keys in ``top_level`` move from the reward extra info to fields of their own."""
    samples = [dict(s) for s in samples]
    for s in samples:
        info = dict(s["extra_fields"]["reward_extra_info"])
        for key in top_level:
            s[key] = info.pop(key)
        s["extra_fields"] = {"reward_extra_info": info}
    return tq.kv_batch_put(
        keys=keys,
        partition_id=next(_partitions),
        fields=list_of_dict_to_tensordict(samples),
        tags=tags or [{} for _ in keys],
    )


def trainer_for(overrides, tokenizer=None):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base=None):
        config = compose("ppo_trainer", overrides=["actor_rollout_ref.rollout.n=4", *overrides])
    trainer = object.__new__(PPOTrainerSync)  # only what _compute_advantage reads
    trainer.config = config
    trainer.tokenizer = tokenizer or PadOnlyTokenizer()
    return trainer


def run(trainer, meta):
    metrics = {}
    trainer._compute_advantage(meta, metrics)
    written = tq.kv_batch_get(keys=meta.keys, partition_id=meta.partition_id, select_fields=["advantages"])
    rows = written["advantages"].unbind()
    return {
        "written": [float(r[0]) for r in rows],
        "constant_per_response": all(bool((r == r[0]).all()) for r in rows),
        "metrics": metrics,
    }


def padded(samples):
    width = max(len(r["responses"]) for r in samples)
    responses = torch.zeros(len(samples), width, dtype=torch.long)
    mask = torch.zeros(len(samples), width)
    for i, r in enumerate(samples):
        responses[i, : len(r["responses"])] = r["responses"]
        mask[i, : len(r["responses"])] = 1
    return responses, mask


def reference(samples, config, **inputs):
    _, mask = padded(samples)
    return row_advantages(
        "poly_epo",
        torch.tensor([r["rm_scores"].sum().item() for r in samples], dtype=torch.float64),
        np.array([r["uid"] for r in samples], dtype=object),
        mask,
        parse_config(config.algorithm),
        StepInputs(**inputs),
    ).tolist()


def labels_of(samples):
    return {"strategy": np.array([r["extra_fields"]["reward_extra_info"]["strategy"] for r in samples])}


def main():
    ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False)
    tq.init(OmegaConf.create({"backend": {"SimpleStorage": {"num_data_storage_units": 1}}}))
    report = {}

    samples, keys = single_output_rows()
    for backend in ("labels", "ngram"):
        trainer = trainer_for(["algorithm.adv_estimator=poly_epo", f"+algorithm.poly_epo.diversity.backend={backend}"])
        report[backend] = run(trainer, put(samples, keys))
        responses, _ = padded(samples)
        report[backend]["expected"] = reference(samples, trainer.config, batch={"responses": responses}, non_tensor_batch=labels_of(samples))

    labels_run = ["algorithm.adv_estimator=poly_epo", "+algorithm.poly_epo.diversity.backend=labels"]
    multi, multi_keys, multi_tags, per_row = multi_output_rows()
    report["multi_output"] = run(trainer_for(labels_run), put(multi, multi_keys, multi_tags))
    report["multi_output"]["expected"] = per_row

    trainer = trainer_for(labels_run)
    try:
        report["colocated"] = run(trainer, put(samples, keys, top_level=("strategy",)))
        report["colocated"]["expected"] = report["labels"]["expected"]
    except Exception as error:  # noqa: BLE001 - a verl patched with patches/ reads extra_fields only
        report["colocated"] = {"error": repr(error)}

    # custom backend with a real tokenizer: the label is the decoded response's first word
    workdir = tempfile.mkdtemp()
    tokenizer = build_tokenizer(workdir)
    label_file = os.path.join(workdir, "first_word.py")
    with open(label_file, "w") as f:
        f.write("def label_strategies(prompt, responses):\n    return [r.split()[0] if r.split() else None for r in responses]\n")
    words = ["Add", "Add", "answer", "number"]
    decoded = []
    for i, s in enumerate(samples):
        text = f"{words[i % 4]} the question {i}"
        s = dict(s)
        s["responses"] = torch.tensor(tokenizer.encode(text, add_special_tokens=False))
        s["response_mask"] = torch.ones(len(s["responses"]), dtype=torch.int64)
        s["rm_scores"] = torch.zeros(len(s["responses"]))
        s["rm_scores"][-1] = float(i % 2)
        decoded.append(s)
    custom_run = [
        "algorithm.adv_estimator=poly_epo",
        "+algorithm.poly_epo.diversity.backend=custom",
        f"+algorithm.poly_epo.diversity.custom.path={label_file}",
    ]
    trainer = trainer_for(custom_run, tokenizer)
    report["custom"] = run(trainer, put(decoded, keys))
    word_labels = np.array([words[i % 4] for i in range(len(decoded))], dtype=object)
    report["custom"]["expected"] = reference(
        decoded, trainer_for(labels_run).config, non_tensor_batch={"strategy": word_labels}
    )

    # the judge, started early by the wrapped _balance_batch and collected at the advantage stage
    with FakeJudge(delay_s=JUDGE_DELAY_S) as judge:
        judge_run = [
            "algorithm.adv_estimator=poly_epo",
            "actor_rollout_ref.actor.ppo_mini_batch_size=3",
            "+algorithm.poly_epo.diversity.backend=judge",
            f"+algorithm.poly_epo.diversity.judge.base_url={judge.base_url}",
        ]
        trainer = trainer_for(judge_run, tokenizer)
        trainer.actor_rollout_wg = SimpleNamespace(_dispatch_info={"actor": [0]})
        trainer.use_critic, trainer.global_steps = False, 0
        meta = put(decoded, keys, [{"seq_len": len(s["responses"])} for s in decoded])
        meta = trainer._balance_batch(meta, metrics={})
        time.sleep(JUDGE_DELAY_S + 0.4)  # old log-probs, reference, values
        report["judge_early"] = run(trainer, meta)
        report["judge_early"]["expected"] = report["custom"]["expected"]
        report["judge_early"]["requests"] = judge.requests["ok"]

    # rows fetched for the estimator in another order than verl's: must stop, not mis-pair
    meta = put(samples, keys)
    original_get = tq.kv_batch_get

    def permuting_get(keys, partition_id, select_fields=None):
        data = original_get(keys=keys, partition_id=partition_id, select_fields=select_fields)
        if select_fields and "prompts" in select_fields:  # polyepo's own fetch
            order = list(range(len(keys)))
            order[0], order[1] = order[1], order[0]  # rows 0 and 1 share a uid
            data = original_get(keys=[keys[i] for i in order], partition_id=partition_id, select_fields=select_fields)
        return data

    tq.kv_batch_get = permuting_get
    try:
        run(trainer_for(labels_run), meta)
        report["permuted"] = {"raised": None}
    except RuntimeError as error:
        report["permuted"] = {"raised": str(error)}
    finally:
        tq.kv_batch_get = original_get

    print(json.dumps(report))
    tq.close()
    ray.shutdown()


if __name__ == "__main__":
    sys.exit(main())
