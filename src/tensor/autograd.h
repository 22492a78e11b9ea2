// autograd.h — reverse-mode automatic differentiation over tensor-level nodes (micrograd, scaled up).
//
// Recording: an op computes its output, then calls record(out, "op", {inputs}, closure). If grad mode
// is on and some input requires grad, the output gets a Node (its grad_fn) holding the inputs and the
// closure. The closure captures whatever the backward needs ("saved tensors") and maps the output's
// gradient to one gradient per input:
//     closure(gout, need) -> {dinput_0, dinput_1, ...}   (undefined Tensor where need[i] is false)
// Closures never capture the output Tensor itself (that would be a reference cycle); they capture a
// detach()ed alias when they need the output's values (softmax, exp, ...).
//
// backward(root): an ITERATIVE depth-first search lists the graph in topological order (no recursion:
// a 100k-op chain is fine), then nodes run in reverse order. Each node's gradient is the sum of what
// its consumers sent it; leaves that require grad accumulate into .grad() across backward calls
// (zero_grad() to reset). As soon as a node's closure has run, the closure and the node's input list are
// released, so saved activations are freed during the backward pass, not after it. Running backward
// twice through the same graph therefore fails with a clear error.
//
// NoGradGuard (RAII) turns recording off in a scope: inference, optimizer updates, gradient math.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace tg {

using BackwardFn = std::function<std::vector<Tensor>(const Tensor& gout, const std::vector<bool>& need)>;

struct Node {
    std::string op;               // "matmul", "add", ...
    std::vector<Tensor> inputs;   // the op's tensor inputs, in order (cleared once backward ran)
    BackwardFn backward;          // cleared once it ran (frees saved tensors)
    ~Node();                      // iterative: destroying a long chain cannot overflow the stack
};

bool grad_enabled();
// Sets grad mode for a scope and restores the previous one on exit. NoGradGuard = GradModeGuard(false);
// checkpoint() below uses GradModeGuard(true) to record a forward again while a backward pass runs.
class GradModeGuard {
   public:
    explicit GradModeGuard(bool enabled);
    ~GradModeGuard();
    GradModeGuard(const GradModeGuard&) = delete;
    GradModeGuard& operator=(const GradModeGuard&) = delete;
   private:
    bool prev_;
};
class NoGradGuard : public GradModeGuard {
   public:
    NoGradGuard() : GradModeGuard(false) {}
};

// Attach a Node to `out` when grad mode is on and any input requires grad; returns `out`.
Tensor record(Tensor out, const char* op, std::vector<Tensor> inputs, BackwardFn backward);

// Run the backward pass from `root` with gradient `seed` (same shape as root).
void run_backward(const Tensor& root, const Tensor& seed);

// Activation checkpointing (recomputation; Chen et al. 2016, "Training Deep Nets with Sublinear Memory Cost"):
// out = fn(inputs) is computed WITHOUT recording, so none of fn's intermediate activations are kept; the
// one node recorded for `out` saves only the inputs. Its backward runs fn again with recording on — on
// detached aliases of the inputs, made fresh leaves — and backpropagates out's gradient through that copy,
// returning the leaves' gradients as the inputs' gradients. Memory: one segment's activations at a time
// instead of all of them; cost: one more forward of each segment. fn must compute the same thing both times:
// draw random seeds (dropout) outside it and capture them. Inputs may include parameters (they receive
// their gradients through this node like any other input).
using CheckpointFn = std::function<Tensor(const std::vector<Tensor>& inputs)>;
Tensor checkpoint(CheckpointFn fn, std::vector<Tensor> inputs);

// A readable listing of the graph behind `root`, inputs first, one line per tensor:
//     %0 = leaf "w" f32[3, 2] requires_grad
//     %2 = matmul(%1, %0) f32[2, 2]
std::string graph_string(const Tensor& root);

// Reduce a broadcast gradient back to `shape` (sum over the broadcast dims). Used by op closures.
Tensor sum_to(const Tensor& g, const Shape& shape);

}  // namespace tg
