// sparse_ops.cpp — Tensor-level, differentiable wrappers of the sparse kernels (see sparse_ops.h).
//
// Every op follows the same four steps: check the arguments (cpu, f32, shapes against A), make the
// inputs contiguous (a differentiable copy when they are not, so gradients still reach the caller's
// tensor), run the `_forward` kernel of sparse.h into a fresh output, and record() a closure that runs
// the `_backward` kernel. The kernels ACCUMULATE into their gradient buffers, so closures hand them
// zeroed tensors. Closures capture the AdjPtr (keeps the CSR alive), the inputs they need and, for
// edge softmax, a detach()ed alias of the output (never the output itself: that would be a cycle).
#include "graph/sparse_ops.h"

#include <string>
#include <utility>

#include "tensor/common.h"

namespace tg::graph {

// ================================================================================================
// the sparse operand
// ================================================================================================

SparseAdj::SparseAdj(Csr A) : A_(std::move(A)) {
    const Csr& a = A_;
    TG_CHECK(a.rows >= 0 && a.cols >= 0, "SparseAdj: negative size ", a.rows, "x", a.cols);
    TG_CHECK(int64_t(a.indptr.size()) == a.rows + 1, "SparseAdj: indptr has ", a.indptr.size(), " entries for ",
             a.rows, " rows (want rows + 1)");
    TG_CHECK(a.indptr[0] == 0 && a.indptr[size_t(a.rows)] == a.nnz(), "SparseAdj: indptr runs from ", a.indptr[0],
             " to ", a.indptr[size_t(a.rows)], ", want 0 to nnz = ", a.nnz());
    for (int64_t r = 0; r < a.rows; r++)
        TG_CHECK(a.row_begin(r) <= a.row_end(r), "SparseAdj: indptr decreases at row ", r, " (", a.row_begin(r),
                 " > ", a.row_end(r), ")");
    for (int64_t e = 0; e < a.nnz(); e++) {
        const int64_t c = a.indices[size_t(e)];
        TG_CHECK(c >= 0 && c < a.cols, "SparseAdj: entry ", e, " has column ", c, ", outside [0, ", a.cols, ")");
    }
    TG_CHECK(a.values.empty() || a.values.size() == a.indices.size(), "SparseAdj: ", a.values.size(),
             " values for ", a.indices.size(), " entries");
}

const CsrT& SparseAdj::transpose() const {
    std::call_once(t_once_, [this] { T_ = transpose_csr(A_); });
    return T_;
}

AdjPtr make_adj(Csr A) { return std::make_shared<const SparseAdj>(std::move(A)); }

Tensor row_offsets(const AdjPtr& A) {
    TG_CHECK(A, "row_offsets: null sparse matrix");
    return Tensor::from_ints(A->csr().indptr, {A->rows() + 1});
}

namespace {

// "13x11 (E=40)", for messages.
std::string adj_str(const SparseAdj& A) { return str(A.rows(), "x", A.cols(), " (E=", A.nnz(), ")"); }

const SparseAdj& check_adj(const AdjPtr& A, const char* op) {
    TG_CHECK(A, "op ", op, ": null sparse matrix");
    return *A;
}

// A defined f32 cpu tensor, contiguous (a recorded copy when it was not).
Tensor f32_arg(const Tensor& t, const char* op, const char* arg) {
    TG_CHECK(t.defined(), "op ", op, ": ", arg, " is undefined");
    require_cpu(op, {&t});
    require_dtype(op, arg, t, DType::f32);
    return t.contiguous();
}

// Per-edge weights w [E, H] (or undefined: A's values, H = 1) for features of width D.
int check_weights(const SparseAdj& A, const Tensor& w, int64_t D, const char* op) {
    if (!w.defined()) return 1;
    TG_CHECK(w.dim() == 2 && w.size(0) == A.nnz() && w.size(1) >= 1, "op ", op, ": edge weights ", w.str(),
             " must be [E=", A.nnz(), ", H] for A ", adj_str(A));
    TG_CHECK(D % w.size(1) == 0, "op ", op, ": feature width D=", D, " is not a multiple of the H=", w.size(1),
             " heads of edge weights ", w.str());
    return int(w.size(1));
}

const float* ptr_or_null(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }

// Offsets [S + 1] as a contiguous i64 copy, checked against N rows.
Tensor check_offsets(const Tensor& offsets, int64_t N, const char* op) {
    TG_CHECK(offsets.defined(), "op ", op, ": offsets are undefined");
    require_cpu(op, {&offsets});
    TG_CHECK(offsets.dtype() == DType::i64 || offsets.dtype() == DType::i32, "op ", op, ": offsets ", offsets.str(),
             " must be i32/i64");
    TG_CHECK(offsets.dim() == 1 && offsets.size(0) >= 1, "op ", op, ": offsets ", offsets.str(), " must be [S + 1]");
    // A private copy: the backward indexes with these offsets long after this check, so a caller that
    // later edits its offsets tensor in place must not be able to send it out of bounds.
    Tensor off = offsets.dtype() == DType::i64 ? offsets.clone() : offsets.to(DType::i64).contiguous();
    const int64_t* o = off.data<int64_t>();
    const int64_t S = off.size(0) - 1;
    TG_CHECK(o[0] == 0 && o[S] == N, "op ", op, ": offsets run from ", o[0], " to ", o[S], ", want 0 to N=", N,
             " (the rows of x)");
    for (int64_t s = 0; s < S; s++)
        TG_CHECK(o[s] <= o[s + 1], "op ", op, ": offsets decrease at segment ", s, " (", o[s], " > ", o[s + 1], ")");
    return off;
}

// A segment reduction's arguments, checked: x [N, ...] viewed as [N, D] (D = product of the trailing
// dims), offsets [S + 1] as contiguous i64, and the output shape [S, ...].
struct Segments {
    Tensor x, off;
    int64_t N = 0, D = 1, S = 0;
    Shape oshape;
};

Segments check_segments(const Tensor& offsets, const Tensor& x_in, const char* op) {
    Segments g;
    g.x = f32_arg(x_in, op, "x");
    TG_CHECK(g.x.dim() >= 1, "op ", op, ": x ", g.x.str(), " must have a leading row dim [N, ...]");
    g.N = g.x.size(0);
    for (int64_t d = 1; d < g.x.dim(); d++) g.D *= g.x.size(d);
    g.off = check_offsets(offsets, g.N, op);
    g.S = g.off.size(0) - 1;
    g.oshape = g.x.shape();
    g.oshape[0] = g.S;
    return g;
}

}  // namespace

// ================================================================================================
// SpMM: out = A · X
// ================================================================================================

Tensor spmm(const AdjPtr& Ap, const Tensor& w_in, const Tensor& X_in) {
    const SparseAdj& A = check_adj(Ap, "spmm");
    Tensor X = f32_arg(X_in, "spmm", "X");
    Tensor w = w_in.defined() ? f32_arg(w_in, "spmm", "edge weights") : Tensor();
    TG_CHECK(X.dim() == 2 && X.size(0) == A.cols(), "op spmm: X ", X.str(), " must be [C=", A.cols(), ", D] for A ",
             adj_str(A));
    const int64_t D = X.size(1);
    const int H = check_weights(A, w, D, "spmm");
    Tensor out = Tensor::empty({A.rows(), D});
    spmm_forward(A.csr(), ptr_or_null(w), H, X.data<float>(), D, out.data<float>());  // [R, D]
    return record(out, "spmm", {w, X}, [Ap, w, X, H, D](const Tensor& g_in, const std::vector<bool>& need) {
        const SparseAdj& A = *Ap;
        Tensor g = g_in.contiguous();  // dout [R, D]
        std::vector<Tensor> gr(2);
        if (need[0]) gr[0] = Tensor::zeros({A.nnz(), int64_t(H)});  // dw [E, H]
        if (need[1]) gr[1] = Tensor::zeros({A.cols(), D});          // dX [C, D]
        // dX += Aᵀ · dout (pulled through the cached transpose),  dw[e,h] += dout[row(e)] · X[col(e)]
        spmm_backward(A.csr(), A.transpose(), ptr_or_null(w), H, X.data<float>(), D, g.data<float>(),
                      need[1] ? gr[1].data<float>() : nullptr, need[0] ? gr[0].data<float>() : nullptr);
        return gr;
    });
}

// ================================================================================================
// SpMM with the transpose: out = Aᵀ · X
// ================================================================================================
// No kernel of its own: Aᵀ · X is exactly what spmm_backward computes for dX (a pull over the rows of
// Aᵀ), and its gradients are the forward SpMM (dX = A · dout) and an SDDMM (dw = X_row · dout_col).

Tensor spmm_t(const AdjPtr& Ap, const Tensor& w_in, const Tensor& X_in) {
    const SparseAdj& A = check_adj(Ap, "spmm_t");
    Tensor X = f32_arg(X_in, "spmm_t", "X");
    Tensor w = w_in.defined() ? f32_arg(w_in, "spmm_t", "edge weights") : Tensor();
    TG_CHECK(X.dim() == 2 && X.size(0) == A.rows(), "op spmm_t: X ", X.str(), " must be [R=", A.rows(),
             ", D] for A ", adj_str(A), " (the product is Aᵀ · X)");
    const int64_t D = X.size(1);
    const int H = check_weights(A, w, D, "spmm_t");
    Tensor out = Tensor::zeros({A.cols(), D});  // spmm_backward accumulates
    spmm_backward(A.csr(), A.transpose(), ptr_or_null(w), H, /*X (unused without dw)=*/nullptr, D, X.data<float>(),
                  out.data<float>(), /*dw=*/nullptr);
    return record(out, "spmm_t", {w, X}, [Ap, w, X, H, D](const Tensor& g_in, const std::vector<bool>& need) {
        const SparseAdj& A = *Ap;
        Tensor g = g_in.contiguous();  // dout [C, D]
        std::vector<Tensor> gr(2);
        if (need[0]) {  // dw[e, h] = X[row(e), h-block] · dout[col(e), h-block]
            gr[0] = Tensor::empty({A.nnz(), int64_t(H)});
            sddmm_forward(A.csr(), H, X.data<float>(), g.data<float>(), D, gr[0].data<float>());
        }
        if (need[1]) {  // dX [R, D] = A · dout
            gr[1] = Tensor::empty({A.rows(), D});
            spmm_forward(A.csr(), ptr_or_null(w), H, g.data<float>(), D, gr[1].data<float>());
        }
        return gr;
    });
}

// ================================================================================================
// SDDMM: out[e] = Y[row(e)] · Z[col(e)]
// ================================================================================================

Tensor sddmm(const AdjPtr& Ap, const Tensor& Y_in, const Tensor& Z_in, int64_t heads) {
    const SparseAdj& A = check_adj(Ap, "sddmm");
    Tensor Y = f32_arg(Y_in, "sddmm", "Y"), Z = f32_arg(Z_in, "sddmm", "Z");
    TG_CHECK(Y.dim() == 2 && Z.dim() == 2 && Y.size(0) == A.rows() && Z.size(0) == A.cols() && Y.size(1) == Z.size(1),
             "op sddmm: Y ", Y.str(), " and Z ", Z.str(), " must be [R=", A.rows(), ", D] and [C=", A.cols(),
             ", D] for A ", adj_str(A));
    const int64_t D = Y.size(1);
    TG_CHECK(heads >= 1 && D % heads == 0, "op sddmm: feature width D=", D, " of Y ", Y.str(),
             " is not a multiple of heads=", heads);
    const int H = int(heads);
    Tensor out = Tensor::empty({A.nnz(), heads});
    sddmm_forward(A.csr(), H, Y.data<float>(), Z.data<float>(), D, out.data<float>());  // [E, H]
    return record(out, "sddmm", {Y, Z}, [Ap, Y, Z, H, D](const Tensor& g_in, const std::vector<bool>& need) {
        const SparseAdj& A = *Ap;
        Tensor g = g_in.contiguous();  // dout [E, H]
        std::vector<Tensor> gr(2);
        if (need[0]) gr[0] = Tensor::zeros({A.rows(), D});  // dY [R, D]
        if (need[1]) gr[1] = Tensor::zeros({A.cols(), D});  // dZ [C, D]
        sddmm_backward(A.csr(), A.transpose(), H, Y.data<float>(), Z.data<float>(), D, g.data<float>(),
                       need[0] ? gr[0].data<float>() : nullptr, need[1] ? gr[1].data<float>() : nullptr);
        return gr;
    });
}

// ================================================================================================
// edge softmax
// ================================================================================================

Tensor edge_softmax(const AdjPtr& Ap, const Tensor& s_in) {
    const SparseAdj& A = check_adj(Ap, "edge_softmax");
    Tensor s = f32_arg(s_in, "edge_softmax", "scores");
    TG_CHECK(s.dim() == 2 && s.size(0) == A.nnz() && s.size(1) >= 1, "op edge_softmax: scores ", s.str(),
             " must be [E=", A.nnz(), ", H] for A ", adj_str(A));
    const int H = int(s.size(1));
    Tensor a = Tensor::empty(s.shape());
    edge_softmax_forward(A.csr(), H, s.data<float>(), a.data<float>());  // [E, H]
    Tensor a_saved = a.detach();  // the backward needs the output's values, not the output
    return record(a, "edge_softmax", {s}, [Ap, a_saved, H](const Tensor& g_in, const std::vector<bool>&) {
        Tensor g = g_in.contiguous();  // da [E, H]
        Tensor ds = Tensor::zeros(a_saved.shape());
        edge_softmax_backward(Ap->csr(), H, a_saved.data<float>(), g.data<float>(), ds.data<float>());
        return std::vector<Tensor>{ds};
    });
}

// ================================================================================================
// segment reductions
// ================================================================================================

Tensor segment_sum(const Tensor& offsets, const Tensor& x_in) {
    const Segments sg = check_segments(offsets, x_in, "segment_sum");
    const Tensor &x = sg.x, &off = sg.off;
    const int64_t S = sg.S, D = sg.D;
    const Shape& oshape = sg.oshape;
    Tensor out = Tensor::empty(oshape);
    segment_sum_forward(off.data<int64_t>(), S, x.data<float>(), D, out.data<float>());  // [S, D]
    const Shape xshape = x.shape();
    return record(out, "segment_sum", {x}, [off, S, D, xshape](const Tensor& g_in, const std::vector<bool>&) {
        Tensor g = g_in.contiguous();
        Tensor dx = Tensor::zeros(xshape);  // dx[i] = dout[seg(i)]
        segment_sum_backward(off.data<int64_t>(), S, D, g.data<float>(), dx.data<float>());
        return std::vector<Tensor>{dx};
    });
}

Tensor segment_mean(const Tensor& offsets, const Tensor& x_in) {
    const Segments sg = check_segments(offsets, x_in, "segment_mean");
    const Tensor &x = sg.x, &off = sg.off;
    const int64_t S = sg.S, D = sg.D;
    const Shape& oshape = sg.oshape;
    Tensor out = Tensor::empty(oshape);
    segment_mean_forward(off.data<int64_t>(), S, x.data<float>(), D, out.data<float>());  // [S, D]
    const Shape xshape = x.shape();
    return record(out, "segment_mean", {x}, [off, S, D, xshape](const Tensor& g_in, const std::vector<bool>&) {
        Tensor g = g_in.contiguous();
        Tensor dx = Tensor::zeros(xshape);  // dx[i] = dout[seg(i)] / n_seg
        segment_mean_backward(off.data<int64_t>(), S, D, g.data<float>(), dx.data<float>());
        return std::vector<Tensor>{dx};
    });
}

Tensor segment_max(const Tensor& offsets, const Tensor& x_in) {
    const Segments sg = check_segments(offsets, x_in, "segment_max");
    const Tensor &x = sg.x, &off = sg.off;
    const int64_t S = sg.S, D = sg.D;
    const Shape& oshape = sg.oshape;
    Tensor out = Tensor::empty(oshape);
    Tensor argmax = Tensor::empty({S, D}, DType::i64);  // winner row of each (segment, column); -1 if empty
    segment_max_forward(off.data<int64_t>(), S, x.data<float>(), D, out.data<float>(), argmax.data<int64_t>());
    const Shape xshape = x.shape();
    return record(out, "segment_max", {x}, [argmax, S, D, xshape](const Tensor& g_in, const std::vector<bool>&) {
        Tensor g = g_in.contiguous();
        Tensor dx = Tensor::zeros(xshape);  // dx[argmax[s,d], d] = dout[s, d]
        segment_max_backward(S, D, argmax.data<int64_t>(), g.data<float>(), dx.data<float>());
        return std::vector<Tensor>{dx};
    });
}

}  // namespace tg::graph
