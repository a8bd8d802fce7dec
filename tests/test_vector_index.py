"""The FAISS wrapper on both of its shapes: exact below the switch point, IVF above."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexer.search import vectors as vector_index
from indexer.search.vectors import IndexMeta, VectorIndex


def unit_vectors(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.mark.parametrize("limit", [10_000, 500], ids=["exact", "ivf"])
def test_updates_by_id_search_and_persistence(
    limit: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vector_index, "EXACT_LIMIT", limit)
    vectors = unit_vectors(2_000)
    ids = np.arange(2_000, dtype=np.int64) + 1_000
    index = VectorIndex.build(32, ids, vectors)
    assert index.kind == ("flat" if limit > 2_000 else "ivf-fp16")
    _, found = index.search(vectors[:5], 1)
    assert found[:, 0].tolist() == ids[:5].tolist()
    assert index.remove([1_000, 1_001]) == 2
    _, found = index.search(vectors[:2], 3)
    assert not {1_000, 1_001} & set(found.ravel().tolist())
    index.add(np.array([9_999]), vectors[:1])
    _, found = index.search(vectors[:1], 1)
    assert found[0, 0] == 9_999
    assert np.allclose(index.vectors([9_999, 1_500]), vectors[[0, 500]], atol=1e-3)
    assert sorted(index.ids().tolist()) == sorted([*ids[2:].tolist(), 9_999])
    meta = IndexMeta(version=3, model="m", dim=32, count=len(index), kind=index.kind)
    index.save(tmp_path, meta)
    loaded = VectorIndex.load(tmp_path)
    assert loaded is not None
    restored, restored_meta = loaded
    assert restored_meta == meta
    assert restored.search(vectors[:1], 1)[1][0, 0] == 9_999


def test_a_truncated_index_file_is_not_trusted(tmp_path: Path) -> None:
    index = VectorIndex.build(32, np.arange(10), unit_vectors(10))
    index.save(tmp_path, IndexMeta(version=1, model="m", dim=32, count=10, kind="flat"))
    data = (tmp_path / vector_index.INDEX_FILE).read_bytes()
    (tmp_path / vector_index.INDEX_FILE).write_bytes(data[: len(data) // 2])
    assert VectorIndex.load(tmp_path) is None


def test_a_layout_that_no_longer_suits_the_size_is_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    vectors = unit_vectors(2_000)
    exact = VectorIndex.build(32, np.arange(2_000), vectors)
    assert exact.fits()
    monkeypatch.setattr(vector_index, "EXACT_LIMIT", 1_000)
    assert not exact.fits(), "exact search past the switch point"
    ivf = VectorIndex.build(32, np.arange(2_000), vectors)
    assert ivf.kind == "ivf-fp16" and ivf.fits()
    ivf.add(np.arange(2_000, 10_000), unit_vectors(8_000, seed=1))
    assert not ivf.fits(), "lists trained for a fifth of the vectors"
    ivf.remove(np.arange(500, 10_000))
    assert not ivf.fits(), "IVF well below the switch point"
