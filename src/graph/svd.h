// svd.h — randomized truncated SVD (Halko, Martinsson & Tropp 2011) and the PureSVD recommender.
//
// PureSVD (Cremonesi, Koren & Turrin 2010): R [U x I] the binary user–item matrix, R ≈ U_k Σ_k V_kᵀ its
// rank-k truncated SVD; the score of item i for user u is  r_u · V_k · V_kᵀ[:, i], i.e. a dot product
// of the user factor r_u V_k [k] and the item factor V_k[i] [k].
//
// Randomized range finder with power iterations (HMT Algorithm 4.4), in double precision:
//   l = k + oversample;  Ω [I, l] ~ N(0, 1)                       (Philox, seeded)
//   Q = orth(R Ω)                                                  [U, l]
//   repeat q times:  Q' = orth(Rᵀ Q) [I, l];  Q = orth(R Q')        (re-orthonormalize every product)
//   Bᵀ = Rᵀ Q [I, l] = Q₂ T  (QR, T [l, l] upper triangular)  ->  B = Qᵀ R = Tᵀ Q₂ᵀ
//   Tᵀ = W Σ Zᵀ  (one-sided Jacobi SVD of the small matrix)    ->  R ≈ (Q W) Σ (Q₂ Z)ᵀ
// orth() is modified Gram–Schmidt applied twice ("twice is enough"), deterministic and single-pass
// per column. Sparse products run in parallel over output rows (any thread count, same result).
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
};

// Rank-k randomized SVD of A (A.values used; ones when empty).
SvdResult randomized_svd(const Csr& A, int64_t k, int64_t oversample = 10, int power_iters = 4, uint64_t seed = 0);

// Full SVD of a small dense row-major matrix [m, n] by one-sided Jacobi (double). Returns all
// min(m, n) singular values (descending) and, when wanted, U [m, r] and V [n, r] (r = min(m, n)).
SvdResult jacobi_svd(const std::vector<double>& A, int64_t m, int64_t n);

// Orthonormalize the columns of a column-major [rows, cols] matrix in place (MGS, twice). If T is
// given it receives the upper-triangular [cols, cols] (row-major) factor with A_in = Q T. A column
// that is (numerically) dependent on the earlier ones becomes zero, with a zero on T's diagonal.
void orthonormalize_columns(std::vector<double>& A, int64_t rows, int64_t cols, std::vector<double>* T = nullptr);

// PureSVD factors for scoring: user_emb = R V_k [U, k], item_emb = V_k [I, k] (float), R binarized.
void puresvd_factors(const Csr& R, int64_t k, int64_t oversample, int power_iters, uint64_t seed,
                     std::vector<float>& user_emb, std::vector<float>& item_emb, std::vector<double>* sigma = nullptr);

}  // namespace tg::graph
