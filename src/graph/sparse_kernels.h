// sparse_kernels.h — internal: the two loops every SpMM / SDDMM of sparse.h reduces to, compiled once
// per instruction set (sparse_kernels_impl.h in sparse.cpp, sparse_avx2.cpp, sparse_avx512.cpp).
//
//   pull:       out[r, blk h] (= or +=) Σ_{e in row r}  w(e, h) · X[col(e), blk h]
//               w(e, h) = w[perm(e) * H + h] with explicit weights w [E, H] (perm: the transpose's map
//               back to A's entries, or none), else the matrix's own value (1 when unweighted).
//               SpMM forward (A), dX of SpMM (Aᵀ, w = edge weights), dY / dZ of SDDMM (A / Aᵀ, w = dout).
//   edge_dots:  out[e * H + h] (= or +=) Y[row(e), blk h] · Z[col(e), blk h]
//               SDDMM forward, and dw of SpMM (Y = dout, Z = X).
// (blk h = columns h*D/H .. (h+1)*D/H - 1.) Rows run in parallel; the sums inside a row keep one fixed
// order, so results never depend on the thread count. The public functions in sparse.cpp check their
// arguments and pick the table for tg::cpu_isa().
#pragma once
#include <cstdint>

namespace tg::graph::detail {

struct CsrView {             // a Csr's arrays, without its (std::vector) members
    const int64_t* ip;       // [rows + 1]
    const int32_t* ix;       // [E]
    const float* val;        // [E] or nullptr (all ones)
    int64_t rows;
};

struct SparseKernels {
    void (*pull)(CsrView A, const int64_t* perm, const float* w, int H, const float* X, int64_t D, float* out,
                 bool accumulate);
    void (*edge_dots)(CsrView A, int H, const float* Y, const float* Z, int64_t D, float* out, bool accumulate);
};

const SparseKernels& sparse_kernels_base();
const SparseKernels& sparse_kernels_avx2();
const SparseKernels& sparse_kernels_avx512();

}  // namespace tg::graph::detail
