// sparse.h — sparse kernels for graph learning: SpMM, SDDMM, edge softmax, segment reductions.
//
// Every op is a pair of free functions `<op>_forward` / `<op>_backward` (llm.c style) plus a `_ref`
// scalar reference (double accumulation, single thread) that defines "correct" for the tests.
// The fast versions are OpenMP-parallel over OUTPUT rows: each output row is written by exactly one
// thread and reduced in the CSR's fixed edge order, so results are bit-identical for any thread count.
// Backward passes that would scatter (dX = Aᵀ·dout) instead pull through a precomputed transpose
// (CsrT), for the same reason.
//
// Notation (one-letter dims, used in the shape comments below):
//   R  rows of the sparse matrix A (destination nodes)     C  columns of A (source nodes)
//   E  nnz(A), the edges, in CSR order                      H  attention heads
//   D  feature width (total, = H * Dh when there are heads) S  segments (for segment_*)
//
// Accumulation rule: forward outputs are overwritten. Backward gradients are ACCUMULATED (+=) into
// dX / dY / dw, like parameter gradients in llm.c, so one buffer can collect several uses; callers
// zero them first. Null gradient pointers are skipped (nothing to compute).
//
// These raw kernels are not on the autograd tape. graph/sparse_ops.h wraps each of them as a
// differentiable Tensor op (spmm, spmm_t, sddmm, edge_softmax, segment_sum/mean/max) that checks
// shapes, runs the forward kernel here and records a closure calling the matching backward kernel,
// so a GNN can be written as tensor code and trained with loss.backward().
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "graph/csr.h"

namespace tg::graph {

// ---- transpose ----------------------------------------------------------------------------------
// Aᵀ as a CSR plus, for every entry of Aᵀ, the index of the same entry in A (so per-edge arrays that
// follow A's order, e.g. attention weights, can be read from Aᵀ's side). Within a row of Aᵀ entries
// are in increasing source-row order, i.e. sorted columns, as Csr requires.
struct CsrT {
    Csr t;                      // [C x R]
    std::vector<int64_t> perm;  // [E] entry of t -> entry of A
};
CsrT transpose_csr(const Csr& A);

// ---- SpMM: out = A · X --------------------------------------------------------------------------
// A [R x C] with edge weights w; X [C, D]; out [R, D].
//   out[r, h-block] = sum_{e in row r} w[e, h] * X[col(e), h-block]
// w: [E, H] per-edge, per-head weights, or nullptr to use A.values (ones when empty; then H must be 1).
// With H heads, the D columns split into H blocks of Dh = D / H (multi-head attention aggregation).
void spmm_forward(const Csr& A, const float* w, int H, const float* X, int64_t D, float* out);
void spmm_forward_ref(const Csr& A, const float* w, int H, const float* X, int64_t D, float* out);
// Backward of spmm_forward given dout [R, D]:
//   dX[c]   += sum_{e: col(e)=c} w[e,h] * dout[row(e), h-block]     (pulled through AT = transpose(A))
//   dw[e,h] += dout[row(e), h-block] · X[col(e), h-block]           (an SDDMM; only when w != nullptr)
// dX or dw may be nullptr. AT must be transpose_csr(A).
void spmm_backward(const Csr& A, const CsrT& AT, const float* w, int H, const float* X, int64_t D,
                   const float* dout, float* dX, float* dw);
void spmm_backward_ref(const Csr& A, const float* w, int H, const float* X, int64_t D, const float* dout,
                       float* dX, float* dw);

// Fused SpMM for layer-wise propagation (LightGCN): for every row r, with y = (A · X)[r]:
//     if Y:   Y[r] = y                      (this layer's output, the next layer's input)
//     if acc: acc[r] = (acc[r] + y) * scale  (running sum over layers; scale folds in the final mean)
// One pass over A per layer instead of a product plus an add. A.values are the weights (H = 1).
// The AVX-512 path (D a multiple of 16, D <= 128) keeps the row in registers; same sums, same order
// as the portable loop, so both paths give identical results.
void spmm_acc_forward(const Csr& A, const float* X, int64_t D, float* Y, float* acc, float scale);
// Same on a subset: only the rows listed in rows[0..n_rows) are computed (others untouched), and only
// edges whose source column c has src_mask[c] != 0 are summed (src_mask = nullptr: all). When X is
// zero outside the mask this is exactly the full product on those rows, for a fraction of the
// gathers — LightGCN's batch only needs few rows of the top layer, and its gradient starts sparse.
void spmm_acc_forward_rows(const Csr& A, const float* X, int64_t D, float* Y, float* acc, float scale,
                           const int32_t* rows, int64_t n_rows, const uint8_t* src_mask);

// ---- SDDMM: per-edge dot products ---------------------------------------------------------------
// Y [R, D] (row side), Z [C, D] (column side), out [E, H]:
//   out[e, h] = Y[row(e), h-block] · Z[col(e), h-block]
// (A's values are not used: this samples the dense product Y·Zᵀ at A's sparsity pattern.)
void sddmm_forward(const Csr& A, int H, const float* Y, const float* Z, int64_t D, float* out);
void sddmm_forward_ref(const Csr& A, int H, const float* Y, const float* Z, int64_t D, float* out);
// dY[r] += sum_{e in row r} dout[e,h] * Z[col(e)],  dZ[c] += sum_{e: col(e)=c} dout[e,h] * Y[row(e)].
void sddmm_backward(const Csr& A, const CsrT& AT, int H, const float* Y, const float* Z, int64_t D,
                    const float* dout, float* dY, float* dZ);
void sddmm_backward_ref(const Csr& A, int H, const float* Y, const float* Z, int64_t D, const float* dout,
                        float* dY, float* dZ);

// ---- edge softmax: softmax over each row's edges, per head ---------------------------------------
// s [E, H] scores -> a [E, H], a[e,h] = exp(s[e,h] - m) / sum_{e' in row} exp(s[e',h] - m), m = row max.
// Empty rows have no edges and produce nothing.
void edge_softmax_forward(const Csr& A, int H, const float* s, float* a);
void edge_softmax_forward_ref(const Csr& A, int H, const float* s, float* a);
// ds[e,h] += a[e,h] * (da[e,h] - sum_{e' in row} a[e',h] * da[e',h])
void edge_softmax_backward(const Csr& A, int H, const float* a, const float* da, float* ds);
void edge_softmax_backward_ref(const Csr& A, int H, const float* a, const float* da, float* ds);

// ---- segment reductions -------------------------------------------------------------------------
// Segments are contiguous row ranges of x [N, D] given by offsets [S+1] (offsets[0]=0, offsets[S]=N,
// non-decreasing; e.g. a CSR's indptr, which reduces per-edge features to per-node). out [S, D].
// Empty segments give 0 (sum, mean and max alike).
void segment_sum_forward(const int64_t* offsets, int64_t S, const float* x, int64_t D, float* out);
void segment_sum_forward_ref(const int64_t* offsets, int64_t S, const float* x, int64_t D, float* out);
void segment_sum_backward(const int64_t* offsets, int64_t S, int64_t D, const float* dout, float* dx);
void segment_mean_forward(const int64_t* offsets, int64_t S, const float* x, int64_t D, float* out);
void segment_mean_forward_ref(const int64_t* offsets, int64_t S, const float* x, int64_t D, float* out);
void segment_mean_backward(const int64_t* offsets, int64_t S, int64_t D, const float* dout, float* dx);
// max also writes argmax [S, D] (row index in x of the winner; the first one on ties; -1 when empty),
// which the backward uses to route each gradient to its winner.
void segment_max_forward(const int64_t* offsets, int64_t S, const float* x, int64_t D, float* out,
                         int64_t* argmax);
void segment_max_forward_ref(const int64_t* offsets, int64_t S, const float* x, int64_t D, float* out,
                             int64_t* argmax);
void segment_max_backward(int64_t S, int64_t D, const int64_t* argmax, const float* dout, float* dx);

// ---- graph helpers ------------------------------------------------------------------------------
// The symmetric-normalized adjacency of the bipartite user–item graph, as one (U+I) x (U+I) CSR:
//   A = [[0, R], [Rᵀ, 0]],  Â = D^-1/2 A D^-1/2  (D = node degrees; isolated nodes keep zero rows).
// R's values are ignored (binary), as in LightGCN. Â is symmetric, so Âᵀ = Â.
Csr bipartite_norm_adj(const Csr& R);

}  // namespace tg::graph
