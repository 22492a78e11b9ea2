// sparse_ops.h — the sparse kernels of sparse.h as differentiable Tensor ops on the autograd tape.
//
// sparse.h holds the raw kernels (pointers in, pointers out, `<op>_forward` / `<op>_backward`, OpenMP
// over output rows, bit-identical for any thread count). This file wraps each of them as a Tensor op
// in the style of tensor/ops/ops.h: check device (cpu), dtype (f32) and shapes with messages that name
// the op and print the shapes, run the forward kernel, and record() a closure that runs the matching
// backward kernel. So a GNN layer can be written as plain tensor code and trained with loss.backward():
//
//     auto A = make_adj(std::move(csr));                           // shared, validated, transpose cached
//     Tensor Q = matmul(X, W);                                     // [N, D]      D = H * Dh
//     Tensor s = sddmm(A, Q, Q, H) * (1 / std::sqrt(float(Dh)));   // [E, H]      per-edge scores
//     Tensor a = edge_softmax(A, s);                               // [E, H]      normalized per row
//     Tensor P = spmm(A, a, Q);                                    // [N, D]      attention-weighted sum
//     sum(P * R).backward();                                       // W.grad(), X.grad()
//
// Notation (as in sparse.h): A is R x C with E edges (CSR order), H heads, D features (H blocks of
// Dh = D / H), S segments, N rows of a segmented input.
//
// The sparse matrix is not a Tensor: ops take a SparseAdj handle (shared_ptr), which every recorded
// closure copies, so the CSR stays alive for as long as a graph that may still run backward needs it.
// The handle also builds Aᵀ (transpose_csr) on first need and keeps it, because the backward of SpMM
// and SDDMM pulls through the transpose; a layer stack sharing one handle pays for it once.
//
// Gradients flow to the Tensor arguments only (features, per-edge weights, scores); the CSR structure
// and its stored values are constants. The closures call the raw kernels, so gradients are not
// themselves differentiable (no double backward), like the fused ops in ops.h.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>

#include "graph/csr.h"
#include "graph/sparse.h"
#include "tensor/autograd.h"
#include "tensor/tensor.h"

namespace tg::graph {

// ---- the sparse operand ---------------------------------------------------------------------------
// An immutable CSR plus its lazily built transpose. The constructor validates the structure once
// (indptr starts at 0, never decreases and ends at nnz; every column index is in [0, cols); values
// empty or one per entry), since the kernels index with it unchecked.
class SparseAdj {
   public:
    explicit SparseAdj(Csr A);
    const Csr& csr() const { return A_; }
    int64_t rows() const { return A_.rows; }
    int64_t cols() const { return A_.cols; }
    int64_t nnz() const { return A_.nnz(); }
    // Aᵀ with the edge permutation (see CsrT); built on the first call (thread-safe), then cached.
    const CsrT& transpose() const;

   private:
    Csr A_;
    mutable std::once_flag t_once_;
    mutable CsrT T_;
};
using AdjPtr = std::shared_ptr<const SparseAdj>;
AdjPtr make_adj(Csr A);

// A's indptr as an i64 tensor [R + 1]: the offsets that make segment_* reduce per-edge rows [E, ...]
// to per-destination-node rows [R, ...].
Tensor row_offsets(const AdjPtr& A);

// ---- SpMM and its transpose -----------------------------------------------------------------------
// spmm:    out [R, D] = A · X,   X [C, D]:   out[r, h-block] = Σ_{e in row r} w[e, h] X[col(e), h-block]
// spmm_t:  out [C, D] = Aᵀ · X,  X [R, D]:   out[c, h-block] = Σ_{e: col(e)=c} w[e, h] X[row(e), h-block]
// w [E, H]: per-edge, per-head weights (attention); H must divide D. Undefined w: A's stored values
// (ones when A is unweighted), H = 1, and no gradient for them.
// Gradients: spmm   dX = Aᵀ · dout,  dw[e,h] = dout[row(e)] · X[col(e)]   (over the head's block)
//            spmm_t dX = A · dout,   dw[e,h] = X[row(e)] · dout[col(e)]
Tensor spmm(const AdjPtr& A, const Tensor& w, const Tensor& X);
Tensor spmm_t(const AdjPtr& A, const Tensor& w, const Tensor& X);

// ---- SDDMM ----------------------------------------------------------------------------------------
// Y [R, D] (row side), Z [C, D] (column side) -> out [E, H] with heads H dividing D:
//   out[e, h] = Y[row(e), h-block] · Z[col(e), h-block]         (A's values are not used)
// Gradients: dY[r] = Σ_{e in row r} dout[e,h] Z[col(e)],  dZ[c] = Σ_{e: col(e)=c} dout[e,h] Y[row(e)].
// Y and Z may be the same tensor (self-attention scores Q_r · Q_c); its gradient is then the sum.
Tensor sddmm(const AdjPtr& A, const Tensor& Y, const Tensor& Z, int64_t heads = 1);

// ---- edge softmax ---------------------------------------------------------------------------------
// s [E, H] -> a [E, H]: softmax over the edges of each row of A, per head (GAT's attention
// normalization). Rows without edges contribute nothing. Gradient: ds = a ⊙ (da - Σ_row a ⊙ da).
Tensor edge_softmax(const AdjPtr& A, const Tensor& s);

// ---- segment reductions ---------------------------------------------------------------------------
// x [N, ...] is cut into S contiguous row ranges by offsets [S + 1] (i32/i64, offsets[0] = 0,
// non-decreasing, offsets[S] = N; e.g. row_offsets(A) for per-edge rows). out [S, ...] (the trailing
// dims of x are kept; internally D = their product). Empty segments give 0 for all three.
// Gradients: sum  dx[i] = dout[seg(i)];  mean  dx[i] = dout[seg(i)] / n_seg;
//            max  dx[i, d] = dout[seg(i), d] where i was the segment's first maximum in column d, else 0.
Tensor segment_sum(const Tensor& offsets, const Tensor& x);
Tensor segment_mean(const Tensor& offsets, const Tensor& x);
Tensor segment_max(const Tensor& offsets, const Tensor& x);

}  // namespace tg::graph
