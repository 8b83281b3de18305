"""Top-N recommenders on an implicit user x item matrix (rows users, columns items, scipy CSR).

Every model has the same small interface, so the product recommender can reuse any of them:

* ``fit(user_items)`` - learn from a ``scipy.sparse.csr_matrix`` of shape (users, items); a non-zero cell is
  an interaction (its value is used as a weight only where the model says so);
* ``scores(users)`` - a dense (len(users), items) array, higher is better;
* ``recommend(user, n, exclude=None)`` - the ``n`` best item indices for one user, best first; by default the
  items the user already has in the fitted matrix are excluded, ``exclude`` adds more (or replaces them when
  ``exclude_seen=False``).

Models:

* :class:`EASE` - Steck, "Embarrassingly Shallow Autoencoders for Sparse Data" (WWW 2019): the closed-form
  item-item ridge regression with a zero diagonal, ``B = I - P / diag(P)`` with ``P = (X'X + l2 I)^-1``.
* :class:`RP3beta` - Paudel, Christoffel, Mendez, Bernstein, "Updatable, Accurate, Diverse, and Scalable
  Recommendations for Interactive Applications" (ACM TIIS 2017): 3-step random walk user -> item -> user ->
  item with transition probabilities raised to ``alpha`` and the arrival item's popularity divided out with
  exponent ``beta``; the ``top_k`` strongest neighbours of each item are kept.
* :class:`ImplicitALS` - implicit's ``AlternatingLeastSquares`` (Hu, Koren, Volinsky 2008), optionally on
  BM25-weighted confidences (``implicit.nearest_neighbours.bm25_weight``) scaled by ``alpha``.
* :class:`ImplicitItemKNN` - implicit's ``BM25Recommender`` / ``CosineRecommender`` item-item neighbours.
* :class:`Popularity` - items by number of users who have them.
* :class:`Blend` - a weighted sum of member models' scores, each standardised per user.
"""

from __future__ import annotations

import warnings
from typing import Any, Protocol

import numpy as np
import scipy.sparse as sp

__all__ = ["EASE", "RP3beta", "Blend", "ImplicitALS", "ImplicitItemKNN", "Popularity", "Recommender",
           "binarise", "top_n"]


def binarise(user_items: sp.spmatrix | sp.sparray) -> sp.csr_matrix:
    """The same sparsity pattern with every stored non-zero set to 1.0 (float32), duplicates summed then
    clipped to 1."""
    x = sp.csr_matrix(user_items, dtype=np.float32)
    x.sum_duplicates()
    x.eliminate_zeros()
    x.data[:] = 1.0
    return x


def top_n(scores: np.ndarray, n: int, exclude: np.ndarray | None = None) -> np.ndarray:
    """Indices of the ``n`` highest ``scores`` (ties by lower index), best first, leaving out ``exclude``."""
    s = np.asarray(scores, dtype=np.float64).copy()
    if exclude is not None and len(exclude):
        s[np.asarray(exclude, dtype=np.int64)] = -np.inf
    n_ok = int(np.isfinite(s).sum())
    n = max(0, min(n, n_ok))
    if n == 0:
        return np.empty(0, dtype=np.int64)
    # stable order: by score descending, then item index ascending
    order = np.lexsort((np.arange(len(s)), -s))
    return order[:n].astype(np.int64)


class Recommender(Protocol):
    def fit(self, user_items: sp.csr_matrix) -> Recommender: ...

    def scores(self, users: np.ndarray) -> np.ndarray: ...

    def recommend(self, user: int, n: int = 10, exclude: Any = None, *, exclude_seen: bool = True) -> list[int]: ...


class _Base:
    """Shared ``recommend``: the fitted matrix is kept to exclude what a user already has."""

    user_items: sp.csr_matrix | None = None
    name = "base"

    def _store(self, user_items: Any) -> sp.csr_matrix:
        x = binarise(user_items)
        self.user_items = x
        return x

    def scores(self, users: np.ndarray) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def recommend(self, user: int, n: int = 10, exclude: Any = None, *, exclude_seen: bool = True) -> list[int]:
        """The ``n`` best items for ``user`` (an index of the fitted matrix), best first, without the items the
        user has in the fitted matrix (``exclude_seen``) nor ``exclude``."""
        if self.user_items is None:
            raise RuntimeError("fit the model first")
        ex: list[np.ndarray] = []
        if exclude_seen:
            ex.append(self.user_items.indices[self.user_items.indptr[user]:self.user_items.indptr[user + 1]])
        if exclude is not None:
            ex.append(np.asarray(list(exclude), dtype=np.int64))
        excl = np.concatenate(ex) if ex else None
        return [int(i) for i in top_n(self.scores(np.array([user]))[0], n, excl)]


class Popularity(_Base):
    """Items ranked by the number of users who have them (the same list for everyone)."""

    name = "popularity"

    def fit(self, user_items: Any) -> Popularity:
        x = self._store(user_items)
        self.counts = np.asarray(x.sum(axis=0)).ravel().astype(np.float64)
        return self

    def scores(self, users: np.ndarray) -> np.ndarray:
        return np.tile(self.counts, (len(users), 1))


class EASE(_Base):
    """EASE^R (Steck 2019) on the binarised matrix X: ``B = argmin ||X - XB||^2 + l2 ||B||^2, diag(B) = 0``,
    closed form ``P = (X'X + l2 I)^-1``, ``B = I - P diag(1/diag(P))`` (so ``B_ii = 0``); scores ``X B``.
    Memory and time are O(items^2) / O(items^3): fine for thousands of items or products."""

    name = "ease"

    def __init__(self, l2: float = 300.0) -> None:
        self.l2 = float(l2)

    def fit(self, user_items: Any) -> EASE:
        x = self._store(user_items)
        g = (x.T @ x).toarray().astype(np.float64)
        g[np.diag_indices_from(g)] += self.l2
        p = np.linalg.inv(g)
        b = -p / np.diag(p)[None, :]
        b[np.diag_indices_from(b)] = 0.0
        self.B = b
        return self

    def scores(self, users: np.ndarray) -> np.ndarray:
        assert self.user_items is not None
        return np.asarray(self.user_items[users] @ self.B)


class RP3beta(_Base):
    """RP3beta (Paudel et al. 2017): ``W_ij = (sum_u P(u|i)^a P(j|u)^a) / pop(j)^beta`` with row-normalised
    user->item ``P(j|u)`` and item->user ``P(u|i)``, keeping each item's ``top_k`` largest ``W_ij``, then every
    row of W normalised to sum 1; scores ``X W``."""

    name = "rp3beta"

    def __init__(self, alpha: float = 1.0, beta: float = 0.3, top_k: int = 200) -> None:
        self.alpha, self.beta, self.top_k = float(alpha), float(beta), int(top_k)

    def fit(self, user_items: Any) -> RP3beta:
        x = self._store(user_items)
        pop = np.asarray(x.sum(axis=0)).ravel()
        deg_u = np.asarray(x.sum(axis=1)).ravel()
        p_ui = sp.diags(1.0 / np.maximum(deg_u, 1)) @ x          # P(item | user)
        p_iu = sp.diags(1.0 / np.maximum(pop, 1)) @ x.T.tocsr()  # P(user | item)
        if self.alpha != 1.0:
            p_ui = p_ui.power(self.alpha)
            p_iu = p_iu.power(self.alpha)
        w = (p_iu @ p_ui).toarray()
        w = w / np.maximum(pop, 1)[None, :] ** self.beta
        np.fill_diagonal(w, 0.0)
        k = min(self.top_k, w.shape[1])
        if k < w.shape[1]:
            cut = np.partition(w, -k, axis=1)[:, -k][:, None]
            w = np.where(w >= cut, w, 0.0)
        rs = w.sum(axis=1, keepdims=True)
        self.W = np.divide(w, rs, out=np.zeros_like(w), where=rs > 0)
        return self

    def scores(self, users: np.ndarray) -> np.ndarray:
        assert self.user_items is not None
        return np.asarray(self.user_items[users] @ self.W)


class ImplicitALS(_Base):
    """implicit's ``AlternatingLeastSquares``. ``weighting="none"`` feeds it the binarised matrix as is (every
    interaction confidence 1, times ``alpha`` inside implicit); ``"bm25"`` feeds ``bm25_weight(X, K1, B)``
    (implicit's own helper; ``alpha`` scales confidence as usual). ``random_state`` fixes the initial factors.
    All of implicit's defaults apply unless given (``factors=100, regularization=0.01, alpha=1.0,
    iterations=15``)."""

    name = "als"

    def __init__(self, *, weighting: str = "none", bm25_k1: float = 100.0, bm25_b: float = 0.8,
                 random_state: int | None = 0, num_threads: int = 0, **als_kwargs: Any) -> None:
        if weighting not in ("none", "bm25"):
            raise ValueError(f"weighting must be 'none' or 'bm25', not {weighting!r}")
        self.weighting, self.bm25_k1, self.bm25_b = weighting, float(bm25_k1), float(bm25_b)
        self.random_state, self.num_threads, self.als_kwargs = random_state, num_threads, als_kwargs

    def fit(self, user_items: Any) -> ImplicitALS:
        from implicit.cpu.als import AlternatingLeastSquares
        from implicit.nearest_neighbours import bm25_weight

        x = self._store(user_items)
        fed = x if self.weighting == "none" else sp.csr_matrix(bm25_weight(x, K1=self.bm25_k1, B=self.bm25_b),
                                                               dtype=np.float32)
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, "blas"):  # implicit parallelises itself; a BLAS pool on top only slows it
            self.model = AlternatingLeastSquares(random_state=self.random_state, num_threads=self.num_threads,
                                                 **self.als_kwargs)
            self.model.fit(fed, show_progress=False)
        return self

    def scores(self, users: np.ndarray) -> np.ndarray:
        m = self.model
        return np.asarray(m.user_factors[users] @ m.item_factors.T, dtype=np.float64)


class ImplicitItemKNN(_Base):
    """implicit's item-item neighbours: ``kind="bm25"`` (``BM25Recommender(K, K1, B)``) or ``"cosine"``
    (``CosineRecommender(K)``), fitted on the binarised matrix; scores ``X S`` with S the neighbour matrix."""

    name = "itemknn"

    def __init__(self, kind: str = "bm25", K: int = 100, K1: float = 1.2, B: float = 0.75,  # noqa: N803
                 num_threads: int = 0) -> None:
        if kind not in ("bm25", "cosine"):
            raise ValueError(f"kind must be 'bm25' or 'cosine', not {kind!r}")
        self.kind, self.K, self.K1, self.B, self.num_threads = kind, int(K), float(K1), float(B), num_threads

    def fit(self, user_items: Any) -> ImplicitItemKNN:
        from implicit.nearest_neighbours import BM25Recommender, CosineRecommender

        x = self._store(user_items)
        if self.kind == "bm25":
            self.model: Any = BM25Recommender(K=self.K, K1=self.K1, B=self.B, num_threads=self.num_threads)
        else:
            self.model = CosineRecommender(K=self.K, num_threads=self.num_threads)
        with warnings.catch_warnings():  # implicit converts its own BM25 weights from COO, and says so
            warnings.simplefilter("ignore")
            self.model.fit(x, show_progress=False)
        self.S = sp.csr_matrix(self.model.similarity)
        return self

    def scores(self, users: np.ndarray) -> np.ndarray:
        assert self.user_items is not None
        return np.asarray((self.user_items[users] @ self.S).toarray())


class Blend(_Base):
    """Weighted sum of member models' scores, each member's scores standardised per user (z-score over the
    items) first, so the weights are comparable across models of different scale."""

    name = "blend"

    def __init__(self, members: list[tuple[Any, float]]) -> None:
        self.members = members

    def fit(self, user_items: Any) -> Blend:
        x = self._store(user_items)
        for m, _ in self.members:
            m.fit(x)
        return self

    def scores(self, users: np.ndarray) -> np.ndarray:
        total: np.ndarray | None = None
        for m, w in self.members:
            s = m.scores(users)
            s = (s - s.mean(axis=1, keepdims=True)) / np.maximum(s.std(axis=1, keepdims=True), 1e-12)
            total = w * s if total is None else total + w * s
        assert total is not None
        return total
