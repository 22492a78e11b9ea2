#!/usr/bin/env python3
"""svds_peer.py — scipy.sparse.linalg.svds peer and high-precision reference for PureSVD (bench-graph).

The matrix is the binary user x item training matrix of a LightGCN split directory (train.txt), as
tastegraph's puresvd_factors sees it.

  --time K        time svds(R, k=K) with scipy's defaults (ARPACK, tol=0: machine precision) and print
                  JSON {"svds_seconds", "svds_sigma"} (loading the matrix is not timed)
  --reference K   the K leading singular values to ~1e-18 relative, printed as JSON {"sigma"}: svds with
                  K + 32 vectors and tol=0 gives a basis V of the leading K right singular vectors accurate
                  to double precision; then a Rayleigh–Ritz in extended precision (np.longdouble, 64-bit
                  mantissa): G = (R V)ᵀ (R V) summed in long double, eigenvalues of G by cyclic Jacobi in long
                  double; sigma = sqrt(eig). A Ritz value's error is quadratic in V's error (~1e-30), so
                  what is left is long-double rounding. --cache FILE stores/reuses the result.

    python3 tools/ref/svds_peer.py --data ../shared/data/lightgcn-gowalla --time 64   (threads: OPENBLAS_NUM_THREADS)
"""
import argparse
import json
import os
import time

import numpy as np
import scipy.sparse as sp


def load_train(data):
    rows, cols = [], []
    with open(data + "/train.txt") as f:
        for line in f:
            p = line.split()
            if len(p) >= 2:
                rows += [int(p[0])] * (len(p) - 1)
                cols += [int(x) for x in p[1:]]
    R = sp.csr_matrix((np.ones(len(rows)), (rows, cols)))
    R.sum_duplicates()
    R.data[:] = 1.0  # binary
    return R


def jacobi_eigvals_ld(G):
    """Eigenvalues of a symmetric long-double matrix by cyclic Jacobi rotations (long double throughout)."""
    A = G.astype(np.longdouble).copy()
    n = A.shape[0]
    for _sweep in range(60):
        off = np.sqrt(np.sum(np.triu(A, 1) ** 2))
        if off <= np.finfo(np.longdouble).eps * np.sqrt(np.sum(np.diag(A) ** 2)):
            break
        for p in range(n - 1):
            for q in range(p + 1, n):
                apq = A[p, q]
                if apq == 0:
                    continue
                theta = (A[q, q] - A[p, p]) / (2 * apq)
                t = np.sign(theta) / (abs(theta) + np.sqrt(theta * theta + 1)) if theta != 0 else np.longdouble(1)
                c = 1 / np.sqrt(t * t + 1)
                s = t * c
                ap = A[:, p].copy()
                aq = A[:, q].copy()
                A[:, p] = c * ap - s * aq
                A[:, q] = s * ap + c * aq
                rp = A[p, :].copy()
                rq = A[q, :].copy()
                A[p, :] = c * rp - s * rq
                A[q, :] = s * rp + c * rq
    return np.sort(np.diag(A))[::-1]


def reference(R, k):
    from scipy.sparse.linalg import svds
    _, s, vt = svds(R, k=k + 32, tol=0, random_state=0)
    V = vt[np.argsort(-s)[:k]].T  # [n, k]
    # R V in long double, a few columns at a time (rows of R gather rows of V; empty rows stay 0)
    RV = np.zeros((R.shape[0], k), dtype=np.longdouble)
    starts = R.indptr[:-1]
    nonempty = np.diff(R.indptr) > 0
    w = R.data.astype(np.longdouble)[:, None]
    for c in range(0, k, 16):
        g = V[:, c:c + 16].astype(np.longdouble)[R.indices] * w
        RV[nonempty, c:c + 16] = np.add.reduceat(g, starts[nonempty], axis=0)
    G = np.zeros((k, k), dtype=np.longdouble)
    for r in range(0, R.shape[0], 4096):  # Gram in long double (numpy has no long-double BLAS)
        B = RV[r:r + 4096]
        G += B.T @ B
    lam = jacobi_eigvals_ld(G)
    return [float(x) for x in np.sqrt(lam)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--time", type=int, default=0)
    ap.add_argument("--reference", type=int, default=0)
    ap.add_argument("--cache", default="")
    a = ap.parse_args()
    R = load_train(a.data)
    out = {"shape": list(R.shape), "nnz": int(R.nnz)}
    if a.time:
        from scipy.sparse.linalg import svds
        t0 = time.perf_counter()
        _, s, _ = svds(R, k=a.time)
        out["svds_seconds"] = time.perf_counter() - t0
        out["svds_sigma"] = sorted([float(x) for x in s], reverse=True)
    if a.reference:
        cached = None
        if a.cache and os.path.exists(a.cache):
            with open(a.cache) as f:
                cached = json.load(f)
            if cached.get("k") != a.reference or cached.get("nnz") != R.nnz or cached.get("shape") != list(R.shape):
                cached = None
        if cached is None:
            t0 = time.perf_counter()
            cached = {"k": a.reference, "nnz": int(R.nnz), "shape": list(R.shape), "sigma": reference(R, a.reference),
                      "seconds": time.perf_counter() - t0}
            if a.cache:
                with open(a.cache, "w") as f:
                    json.dump(cached, f)
        out["reference_sigma"] = cached["sigma"]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
