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
from polyepo_plugin.estimator import StepInputs, set_advantages
from polyepo_plugin.integration.v1 import final_output_rows

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
            out.append(row(f"prompt{p}", base + torch.arange(length) % 6, score, {"strategy": s % 3, "acc": score}, g))
    return out, [f"{r['uid']}_{i}_0" for i, r in enumerate(out)]


def row(uid, responses, score, reward_extra_info, generator, response_mask=None):
    """A row as verl's agent loop stores it: the reward on the last token; ``response_mask`` 0 on
    tool and observation tokens (all ones by default)."""
    rm_scores = torch.zeros(len(responses))
    rm_scores[-1] = score
    return {
        "uid": uid,
        "prompts": torch.randint(3, 30, (int(torch.randint(2, 5, (1,), generator=generator)),), generator=generator),
        "responses": responses,
        "response_mask": torch.ones(len(responses), dtype=torch.int64) if response_mask is None else response_mask,
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
    written = tq.kv_batch_get(
        keys=meta.keys, partition_id=meta.partition_id, select_fields=["advantages", "response_mask"]
    )
    rows = list(zip(written["advantages"].unbind(), written["response_mask"].unbind()))
    values = [r[m.bool()][0] if m.any() else torch.tensor(0.0) for r, m in rows]
    return {
        "written": [float(v) for v in values],
        # one value on the trained tokens, 0 elsewhere (tool tokens, rejected tokens)
        "constant_per_response": all(
            bool((r == torch.where(m.bool(), v, 0.0)).all()) for (r, m), v in zip(rows, values)
        ),
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
    advantages, _ = set_advantages(
        torch.tensor([r["rm_scores"].sum().item() for r in samples], dtype=torch.float64),
        np.array([r["uid"] for r in samples], dtype=object),
        parse_config(config.algorithm),
        inputs=StepInputs(**{"text_mask": mask, **inputs}),  # the response mask unless the probe gives one
    )
    return advantages.tolist()


def labels_of(samples):
    return {"strategy": np.array([r["extra_fields"]["reward_extra_info"]["strategy"] for r in samples])}


def with_seq_len(samples):
    return [{"seq_len": len(r["prompts"]) + len(r["responses"])} for r in samples]


def balanced(trainer, meta):
    """verl's own _balance_batch: pads the batch with verl's synthetic rows and reorders it."""
    trainer.actor_rollout_wg = SimpleNamespace(_dispatch_info={"actor": [0]})
    trainer.use_critic, trainer.global_steps = False, 0
    return trainer._balance_batch(meta, metrics={})


def by_key(result, keys):
    return dict(zip(keys, result["written"]))


def tool_rows(tokenizer, groups=2, seed=3):
    """Two-turn responses as verl's tool agent loop writes them: model turn, tool observation
    (``response_mask`` 0), model turn. The strategy is the first word of the first turn."""
    g = torch.Generator().manual_seed(seed)
    words = ["Add", "Count", "Add", "Guess"]
    observation = tokenizer.encode(" OBSERVATION: tool says 42", add_special_tokens=False)
    samples, texts = [], []
    for p in range(groups):
        for s in range(4):
            first = tokenizer.encode(f"{words[s]} the numbers {p}", add_special_tokens=False)
            last = tokenizer.encode(" answer is 7" if s % 2 else " so it is 7", add_special_tokens=False)
            ids = torch.tensor(first + observation + last)
            mask = torch.tensor([1] * len(first) + [0] * len(observation) + [1] * len(last))
            score = float(s % 2 == 0 or p == 1)
            samples.append(row(f"tool{p}", ids, score, {"strategy": words[s], "acc": score}, g, mask))
            texts.append(tokenizer.decode(first) + "\n" + tokenizer.decode(last))
    return samples, [f"{r['uid']}_{i}_0" for i, r in enumerate(samples)], texts


def long_intermediate_rows(seed=4):
    """Multi-output sessions whose intermediate outputs are longer than every final output."""
    g = torch.Generator().manual_seed(seed)
    rows_, keys = [], []
    for p in range(2):
        for session in range(4):
            outputs = 2 if session % 2 == 0 else 1
            for i in range(outputs):
                final = i == outputs - 1
                length = 4 if final else 12
                base = 3 if session < 2 else 20  # two token styles: two n-gram strategies
                score = float(final and (session + p) % 3 != 0)
                rows_.append(row(f"long{p}", base + torch.arange(length) % 5, score, {"acc": score}, g))
                keys.append(f"long{p}_{session}_{i}")
    return rows_, keys


def with_log_probs(samples, rejected):
    """Old and rollout log-probs: equal, but far apart on the ``rejected`` rows (seq_sum_k2 > 1)."""
    out = []
    for i, r in enumerate(samples):
        r = dict(r)
        r["old_log_probs"] = torch.zeros(len(r["responses"]))
        r["rollout_log_probs"] = torch.full((len(r["responses"]),), -2.0 if i in rejected else 0.0)
        out.append(r)
    return out


def swap_first_pair_of_a_group(original_get):
    """kv_batch_get that returns polyepo's fetch with two rows of one group swapped."""

    def permuting_get(keys, partition_id, select_fields=None):
        if select_fields and "prompts" in select_fields:  # polyepo's own fetch
            uids = [key.rsplit("_", 2)[0] for key in keys]
            first = next(i for i in range(len(keys)) if uids.count(uids[i]) > 1)
            second = next(j for j in range(first + 1, len(keys)) if uids[j] == uids[first])
            keys = list(keys)
            keys[first], keys[second] = keys[second], keys[first]
        return original_get(keys=keys, partition_id=partition_id, select_fields=select_fields)

    return permuting_get


def raised_when_permuted(trainer, meta):
    original_get = tq.kv_batch_get
    tq.kv_batch_get = swap_first_pair_of_a_group(original_get)
    try:
        run(trainer, meta)
        return None
    except RuntimeError as error:
        return str(error)
    finally:
        tq.kv_batch_get = original_get


LABELS_RUN = ["algorithm.adv_estimator=poly_epo", "+algorithm.poly_epo.diversity.backend=labels"]
NGRAM_RUN = ["algorithm.adv_estimator=poly_epo", "+algorithm.poly_epo.diversity.backend=ngram"]
GRPO_RUN = ["algorithm.adv_estimator=grpo"]


def verl_padding_case(tokenizer, workdir):
    """verl's padding rows (upsample_batch_to_divisible_size): 12 rows padded to 16."""
    samples, keys = single_output_rows()
    responses, _ = padded(samples)
    case = {"expected": {}, "written": {}, "padding": {}}
    for name, overrides in (("grpo", GRPO_RUN), ("labels", LABELS_RUN), ("ngram", NGRAM_RUN)):
        trainer = trainer_for([*overrides, "actor_rollout_ref.actor.ppo_mini_batch_size=2"], tokenizer)
        meta = balanced(trainer, put(samples, keys, with_seq_len(samples)))
        result = run(trainer, meta)
        case["written"][name] = by_key(result, meta.keys)
        case["padding"][name] = [key for key, tag in zip(meta.keys, meta.tags) if tag.get("is_padding")]
        if name != "grpo":
            expected = reference(
                samples, trainer.config, batch={"responses": responses}, non_tensor_batch=labels_of(samples)
            )
            case["expected"][name] = dict(zip(keys, expected))
            case[f"{name}_metrics"] = result["metrics"]
        if name == "labels":
            case["permuted"] = raised_when_permuted(
                trainer, balanced(trainer, put(samples, keys, with_seq_len(samples)))
            )
    return case


def tool_rows_case(tokenizer, workdir):
    """Tool turns inside a response: what a text backend and the judge read."""
    samples, keys, texts = tool_rows(tokenizer)
    seen_file = os.path.join(workdir, "seen.jsonl")
    label_file = os.path.join(workdir, "record_first_word.py")
    with open(label_file, "w") as f:
        f.write(
            "import json\n"
            "def label_strategies(prompt, responses):\n"
            f"    with open({seen_file!r}, 'a') as out:\n"
            "        out.write(json.dumps(responses) + '\\n')\n"
            "    return [r.split()[0] for r in responses]\n"
        )
    word_labels = {
        "strategy": np.array([r["extra_fields"]["reward_extra_info"]["strategy"] for r in samples], dtype=object)
    }
    case = {"texts": texts}
    custom_run = [
        "algorithm.adv_estimator=poly_epo",
        "+algorithm.poly_epo.diversity.backend=custom",
        f"+algorithm.poly_epo.diversity.custom.path={label_file}",
    ]
    for name, overrides in (("grpo", GRPO_RUN), ("custom", custom_run), ("ngram", NGRAM_RUN)):
        trainer = trainer_for(overrides, tokenizer)
        case[name] = run(trainer, put(samples, keys))
    _, mask = padded(samples)
    case["custom"]["expected"] = reference(samples, trainer_for(LABELS_RUN).config, non_tensor_batch=word_labels)
    with open(seen_file) as f:
        case["custom"]["seen"] = [text for line in f for text in json.loads(line)]
    tool_mask = torch.nn.utils.rnn.pad_sequence([r["response_mask"] for r in samples], batch_first=True)
    responses, _ = padded(samples)
    case["ngram"]["expected"] = reference(
        samples, trainer.config, batch={"responses": responses}, non_tensor_batch={}, text_mask=tool_mask.bool()
    )
    with FakeJudge() as judge:
        trainer = trainer_for(
            [
                "algorithm.adv_estimator=poly_epo",
                "+algorithm.poly_epo.diversity.backend=judge",
                f"+algorithm.poly_epo.diversity.judge.base_url={judge.base_url}",
                "actor_rollout_ref.actor.ppo_mini_batch_size=2",
            ],
            tokenizer,
        )
        case["judge"] = run(trainer, balanced(trainer, put(samples, keys, with_seq_len(samples))))
        case["judge"]["prompts"] = list(judge.prompts)
    case["judge"]["expected"] = case["custom"]["expected"]
    case["permuted"] = raised_when_permuted(trainer_for(LABELS_RUN, tokenizer), put(samples, keys))
    return case


def long_intermediate_case(tokenizer, workdir):
    """Intermediate outputs longer than every final output, with a text-reading backend."""
    samples, keys = long_intermediate_rows()
    final_rows, session_of_row = final_output_rows(keys)
    finals = [samples[r] for r in final_rows]
    case = {}
    for name, overrides in (("grpo", GRPO_RUN), ("ngram", NGRAM_RUN)):
        case[name] = run(trainer_for(overrides, tokenizer), put(samples, keys))
    final_responses, _ = padded(finals)
    per_session = reference(
        finals, trainer_for(NGRAM_RUN).config, batch={"responses": final_responses}, non_tensor_batch={}
    )
    case["ngram"]["expected"] = [per_session[s] for s in session_of_row]
    case["permuted"] = raised_when_permuted(trainer_for(NGRAM_RUN, tokenizer), put(samples, keys))
    return case


def rejection_case(tokenizer, workdir):
    """Rejection sampling (rollout correction) removes rows 1 and 6 from training."""
    rejected = (1, 6)
    samples, keys = single_output_rows()
    samples = with_log_probs(samples, rejected)
    responses, _ = padded(samples)
    rs = ["algorithm.rollout_correction.rollout_rs=seq_sum_k2", "algorithm.rollout_correction.rollout_rs_threshold=1.0"]
    case = {"rejected": [keys[i] for i in rejected]}
    for name, overrides in (("grpo", GRPO_RUN), ("ngram", NGRAM_RUN)):
        trainer = trainer_for([*overrides, *rs], tokenizer)
        meta = put(samples, keys)
        case[name] = run(trainer, meta)
        written_mask = tq.kv_batch_get(keys=keys, partition_id=meta.partition_id, select_fields=["response_mask"])
        case[name]["trained_tokens"] = [int(m.sum()) for m in written_mask["response_mask"].unbind()]
    case["ngram"]["expected"] = reference(samples, trainer.config, batch={"responses": responses}, non_tensor_batch={})
    with FakeJudge(delay_s=0.3) as judge:
        trainer = trainer_for(
            [
                "algorithm.adv_estimator=poly_epo",
                "+algorithm.poly_epo.diversity.backend=judge",
                f"+algorithm.poly_epo.diversity.judge.base_url={judge.base_url}",
                "actor_rollout_ref.actor.ppo_mini_batch_size=3",
                *rs,
            ],
            tokenizer,
        )
        meta = balanced(trainer, put(samples, keys, with_seq_len(samples)))
        time.sleep(0.5)
        case["judge"] = run(trainer, meta)
        case["judge"]["requests"] = judge.requests["ok"]
        case["judge"]["keys"] = list(meta.keys)
    trainer = trainer_for([*LABELS_RUN, *rs], tokenizer)
    case["permuted"] = raised_when_permuted(trainer, put(samples, keys))
    return case


def raising_step_case(tokenizer, workdir):
    """A step whose advantage stage raises (a non-finite reward) must not leave the labelling it
    started early running."""
    from polyepo_plugin.integration import v1

    samples, keys = single_output_rows()
    samples = [dict(r) for r in samples]
    samples[0]["rm_scores"] = torch.full_like(samples[0]["rm_scores"], float("nan"))
    with FakeJudge(delay_s=20.0) as judge:
        trainer = trainer_for(
            [
                "algorithm.adv_estimator=poly_epo",
                "+algorithm.poly_epo.diversity.backend=judge",
                f"+algorithm.poly_epo.diversity.judge.base_url={judge.base_url}",
                "+algorithm.poly_epo.diversity.judge.timeout_s=60",
                "actor_rollout_ref.actor.ppo_mini_batch_size=3",
            ],
            tokenizer,
        )
        meta = balanced(trainer, put(samples, keys, with_seq_len(samples)))
        pending = v1._pending[trainer]
        try:
            run(trainer, meta)
            raised = None
        except ValueError as error:
            raised = str(error)
        return {"raised": raised, "labelling_running": pending.running}


def agent_loop_cases(report, tokenizer, workdir):
    """Rows as verl's v1 writes them in ordinary runs. Each case runs under stock grpo and
    poly_epo, and a permutation inside a group must still stop the step; a case that raises is
    reported as such, so that each test shows its own failure."""
    report["agent_loop"] = {}
    for name, case in (
        ("verl_padding", verl_padding_case),
        ("tool_rows", tool_rows_case),
        ("long_intermediate", long_intermediate_case),
        ("rejection", rejection_case),
        ("raising_step", raising_step_case),
    ):
        try:
            report["agent_loop"][name] = case(tokenizer, workdir)
        except Exception as error:  # noqa: BLE001 - reported to the test
            report["agent_loop"][name] = {"error": repr(error)}


def watched_case(judge_run, tokenizer, samples, keys, expected, judge_requests):
    """The asynchronous modes' groups, finished while no step samples: the watch thread starts
    each group's labelling as its prompt is tagged finished (no replay buffer poll), a step that
    samples them through verl's replay buffer waits for nothing, and a finished group the step
    did not sample keeps its labels for the next step: one judge request per group in all.
    ``expected``: each row's advantage under the stand-in judge's first-word labels."""
    from verl.trainer.ppo.v1.replay_buffer import ReplayBuffer

    from polyepo_plugin.integration.v1 import TRAIN_PARTITION, FinishedGroupWatch

    def requests():
        return judge_requests["ok"] - before

    def wait_for(count, timeout_s=20.0):
        deadline = time.perf_counter() + timeout_s
        while requests() < count and time.perf_counter() < deadline:
            time.sleep(0.05)
        return requests()

    def tag_prompt(uid, status):
        tq.kv_put(key=uid, partition_id=TRAIN_PARTITION, tag={"is_prompt": True, "status": status, "global_steps": 1})

    def step(global_steps, groups):
        meta, _ = trainer.replay_buffer.sample(global_steps, TRAIN_PARTITION, groups)
        meta = trainer._balance_batch(meta, metrics={})
        time.sleep(0.5)  # old log-probs and the rest, while the watch goes on looking
        result = run(trainer, meta)
        result["expected"] = [expected.get(key, 0.0) for key in meta.keys]  # verl's padding rows: 0
        tq.kv_clear(keys=meta.keys, partition_id=TRAIN_PARTITION)  # as verl at the end of a step
        return result

    trainer = trainer_for(judge_run, tokenizer)
    trainer.actor_rollout_wg = SimpleNamespace(_dispatch_info={"actor": [0]})
    trainer.use_critic, trainer.global_steps = False, 0
    trainer.replay_buffer = ReplayBuffer("sync", OmegaConf.create({}), None, "drop", {}, poll_interval=0.1)
    expected = dict(zip(keys, expected))
    uids = sorted({key.rsplit("_", 2)[0] for key in keys})
    for uid in uids:
        tag_prompt(uid, "running")
    tq.kv_batch_put(
        keys=keys,
        partition_id=TRAIN_PARTITION,
        fields=list_of_dict_to_tensordict([dict(s) for s in samples]),
        tags=[{"status": "success", "seq_len": len(s["responses"])} for s in samples],
    )
    before = judge_requests["ok"]
    watch = FinishedGroupWatch(trainer, interval_s=0.1).start()
    try:
        time.sleep(0.5)
        out = {"while_running": requests()}
        for uid in uids[:-1]:
            tag_prompt(uid, "finished")
        out["first_finished"] = wait_for(len(uids) - 1)
        tag_prompt(uids[-1], "finished")
        wait_for(len(uids))
        time.sleep(JUDGE_DELAY_S + 0.3)  # the trainer updates meanwhile; every group is labelled by then
        out["steps"] = [step(1, len(uids) - 1), step(2, 1)]
    finally:
        watch.stop()
        tq.kv_clear(keys=[*keys, *uids], partition_id=TRAIN_PARTITION)
    out["requests"] = requests()
    return out


def main():
    ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False)
    tq.init(OmegaConf.create({"backend": {"SimpleStorage": {"num_data_storage_units": 1}}}))
    report = {}

    samples, keys = single_output_rows()
    for backend in ("labels", "ngram"):
        trainer = trainer_for(["algorithm.adv_estimator=poly_epo", f"+algorithm.poly_epo.diversity.backend={backend}"])
        report[backend] = run(trainer, put(samples, keys))
        responses, _ = padded(samples)
        report[backend]["expected"] = reference(
            samples, trainer.config, batch={"responses": responses}, non_tensor_batch=labels_of(samples)
        )

    multi, multi_keys, multi_tags, per_row = multi_output_rows()
    report["multi_output"] = run(trainer_for(LABELS_RUN), put(multi, multi_keys, multi_tags))
    report["multi_output"]["expected"] = per_row

    trainer = trainer_for(LABELS_RUN)
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
        f.write(
            "def label_strategies(prompt, responses):\n    return [r.split()[0] if r.split() else None for r in responses]\n"
        )
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
        decoded, trainer_for(LABELS_RUN).config, non_tensor_batch={"strategy": word_labels}
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

        report["watched"] = watched_case(
            judge_run, tokenizer, decoded, keys, report["custom"]["expected"], judge.requests
        )

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
        run(trainer_for(LABELS_RUN), meta)
        report["permuted"] = {"raised": None}
    except RuntimeError as error:
        report["permuted"] = {"raised": str(error)}
    finally:
        tq.kv_batch_get = original_get

    agent_loop_cases(report, tokenizer, workdir)
    print(json.dumps(report))
    tq.close()
    ray.shutdown()


if __name__ == "__main__":
    sys.exit(main())
