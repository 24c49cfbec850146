"""Ranking and rating metrics for one reader (binary relevance)."""

from __future__ import annotations

import numpy as np


def top_n(scores: np.ndarray, exclude: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` highest scores, best first, never one of ``exclude``: fewer
    than ``n`` when fewer are left."""
    s = np.asarray(scores, dtype=np.float64).copy()
    banned = np.zeros(len(s), dtype=bool)
    banned[np.asarray(exclude, dtype=np.int64)] = True
    s[banned] = -np.inf
    n = min(n, len(s) - int(banned.sum()))
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-s, n - 1)[:n]
    return part[np.argsort(-s[part], kind="stable")]


def recall_at(ranked: np.ndarray, relevant: set[int], n: int) -> float:
    """hits in the top n / min(n, |relevant|)."""
    hits = sum(1 for i in ranked[:n] if int(i) in relevant)
    return hits / min(n, len(relevant))


def ndcg_at(ranked: np.ndarray, relevant: set[int], n: int) -> float:
    gains = np.array([1.0 if int(i) in relevant else 0.0 for i in ranked[:n]])
    discounts = 1.0 / np.log2(np.arange(2, len(gains) + 2))
    ideal = discounts[: min(n, len(relevant))].sum()
    return float((gains * discounts).sum() / ideal)
