// svd.h — truncated SVD of a sparse matrix (randomized block Krylov and HMT subspace iteration),
// the dense references they are checked against, and the PureSVD recommender.
//
// PureSVD (Cremonesi, Koren & Turrin 2010): R [U x I] the binary user–item matrix, R ≈ U_k Σ_k V_kᵀ its
// rank-k truncated SVD; the score of item i for user u is  r_u · V_k · V_kᵀ[:, i], i.e. a dot product
// of the user factor r_u V_k [k] and the item factor V_k[i] [k].
//
// Two randomized methods, both in double precision. Notation: A [m, n], M = A or Aᵀ whichever has
// fewer rows (p = min(m, n) rows), S = M Mᵀ [p, p], eigenvalues σ_i².
//
// krylov_svd — the fast path (PureSVD, the benchmark). A randomized block Krylov method (HMT's power
// scheme keeping EVERY power iterate instead of only the last — Musco & Musco 2015,
// "Randomized block Krylov methods for stronger and faster approximate SVD"), run as a block Lanczos
// with full reorthogonalization:
//   U₀ = orth(M Ω), Ω [n or m, b] ~ N(0, 1), b = 8 (one 64-byte row of doubles)
//   step j:  Z = M (Mᵀ U_j)                                        two sparse products, width b
//            Z -= U_loc (U_locᵀ Z), U_loc = [U_{j-1} U_j]         the block three-term recurrence
//            Z -= U (Uᵀ Z), U = [U₀ … U_j]                        full reorthogonalization (block CGS)
//            Z = U_{j+1} R_j  (CholeskyQR2; MGS if nearly dependent)  T = Uᵀ S U grows by one block row/column
//   every 2 steps once dim(U) >= k + oversample: eigenvalues of T (Householder tridiagonalization +
//   implicit QL); stop when the k largest Ritz values sqrt(θ_i) moved by < tol (relative) since the
//   last check (they rise monotonically towards σ_i), or at max_iters steps, or when U spans all of R^p.
//   Rayleigh–Ritz: T = Y Θ Yᵀ; Ũ = orth(U Y[:, :l]) (l = k + oversample top Ritz vectors) [p, l];
//   then the small exact SVD of Mᵀ Ũ [q, l] = Q Tq (QR), Tq = W Σ Zᵀ (Jacobi):  M ≈ (Ũ Z) Σ (Q W)ᵀ.
//   Gowalla, rank 64 (29,858 x 40,981, 810k entries): 44 steps, basis 352, singular values within
//   1.4e-15 (relative) of a long-double reference; scipy svds (ARPACK) 2.5e-15 (tools/bench/bench_graph.cpp).
// The sparse products, the projections Uᵀ Z and the updates are OpenMP-parallel with a fixed
// reduction order (fixed row chunks summed in order), so the result does not depend on the thread count.
//
// randomized_svd — HMT Algorithm 4.4 (randomized range finder with q power iterations, each product
// re-orthonormalized), kept as the simple method: l = k + oversample;  Q = orth(A Ω);  q times
// Q' = orth(Aᵀ Q), Q = orth(A Q');  Bᵀ = Aᵀ Q = Q₂ T;  Tᵀ = W Σ Zᵀ (Jacobi)  ->  A ≈ (Q W) Σ (Q₂ Z)ᵀ.
// Its error after q iterations falls like (σ_{l+1}/σ_i)^(2q+1): slow for flat spectra such as
// Gowalla's (rank 64, oversample 16, q = 8: singular values 1.2e-2 off).
// (HMT: Halko, Martinsson & Tropp, "Finding structure with randomness", SIAM Review 2011.)
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "graph/csr.h"

namespace tg::graph {

struct SvdResult {
    int64_t k = 0;
    std::vector<double> s;   // [k] singular values, descending
    std::vector<double> U;   // [rows, k] left singular vectors (row-major)
    std::vector<double> V;   // [cols, k] right singular vectors (row-major)
    int64_t iters = 0;       // krylov_svd: block steps taken (sparse products: 2 per step + 2, 8 or l wide)
    int64_t krylov_dim = 0;  // krylov_svd: dimension of the Krylov basis at the end
};

struct KrylovSvdOptions {
    int64_t oversample = 16;  // extra Ritz vectors in the final Rayleigh–Ritz; also the smallest basis is k + this
    int max_iters = 0;        // cap on block steps (0: none; the basis stops at min(m, n) anyway)
    double tol = 1e-14;       // relative change of the k leading Ritz values between checks that ends the run
    uint64_t seed = 0;        // Ω ~ N(0, 1) from Philox(seed)
};

// Rank-k SVD of A (A.values used; ones when empty) by randomized block Krylov / block Lanczos.
SvdResult krylov_svd(const Csr& A, int64_t k, const KrylovSvdOptions& opt = {});

// Rank-k randomized SVD of A by HMT subspace iteration (A.values used; ones when empty).
SvdResult randomized_svd(const Csr& A, int64_t k, int64_t oversample = 10, int power_iters = 4, uint64_t seed = 0);

// Full SVD of a small dense row-major matrix [m, n] by one-sided Jacobi (double). Returns all
// min(m, n) singular values (descending) and, when wanted, U [m, r] and V [n, r] (r = min(m, n)).
SvdResult jacobi_svd(const std::vector<double>& A, int64_t m, int64_t n);

// Eigen-decomposition of a symmetric row-major [n, n] matrix: Householder reduction to tridiagonal
// form, then implicit QL with shifts (EISPACK tred2/tql2, as in the public-domain JAMA). Eigenvalues ascending in w [n]; with
// vectors, Z [n, n] row-major holds eigenvector j in ROW j (Z[j*n + i] = component i).
void symmetric_eigen(const std::vector<double>& A, int64_t n, std::vector<double>& w, std::vector<double>* Z);

// Orthonormalize the columns of a column-major [rows, cols] matrix in place (MGS, twice). If T is
// given it receives the upper-triangular [cols, cols] (row-major) factor with A_in = Q T. A column
// that is (numerically) dependent on the earlier ones becomes zero, with a zero on T's diagonal.
void orthonormalize_columns(std::vector<double>& A, int64_t rows, int64_t cols, std::vector<double>* T = nullptr);

// PureSVD factors for scoring: user_emb = R V_k [U, k], item_emb = V_k [I, k] (float), R binarized.
// Computed by krylov_svd: power_iters caps the block steps (0 = until the k singular values have
// converged to tol), oversample = extra Ritz vectors (see KrylovSvdOptions).
void puresvd_factors(const Csr& R, int64_t k, int64_t oversample, int power_iters, uint64_t seed,
                     std::vector<float>& user_emb, std::vector<float>& item_emb, std::vector<double>* sigma = nullptr,
                     double tol = 1e-14);

}  // namespace tg::graph
