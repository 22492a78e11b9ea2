// autograd.cpp — recording, the iterative backward pass, graph printing (see autograd.h).
#include "tensor/autograd.h"

#include <unordered_map>
#include <unordered_set>

#include "tensor/ops/ops.h"

namespace tg {

// ---- grad mode -----------------------------------------------------------------------------------

static thread_local bool g_grad_enabled = true;

bool grad_enabled() { return g_grad_enabled; }
GradModeGuard::GradModeGuard(bool enabled) : prev_(g_grad_enabled) { g_grad_enabled = enabled; }
GradModeGuard::~GradModeGuard() { g_grad_enabled = prev_; }

// ---- nodes ---------------------------------------------------------------------------------------

Node::~Node() {
    // Destroying the last tensor of a long chain would otherwise destroy its node, whose input's node,
    // whose input's node ... recursively. Instead, move every node that only we keep alive onto an
    // explicit stack and let each one die with its inputs already taken away.
    backward = nullptr;  // saved tensors may hold references to the inputs; drop them first
    std::vector<std::shared_ptr<Node>> stack;
    auto harvest = [&stack](std::vector<Tensor>& inputs) {
        for (Tensor& t : inputs) {
            const auto& impl = t.impl_ptr();
            if (impl && impl.use_count() == 1 && impl->grad_fn && impl->grad_fn.use_count() == 1)
                stack.push_back(std::move(impl->grad_fn));
        }
        inputs.clear();
    };
    harvest(inputs);
    while (!stack.empty()) {
        std::shared_ptr<Node> n = std::move(stack.back());
        stack.pop_back();
        n->backward = nullptr;
        harvest(n->inputs);
    }  // n is destroyed here with no inputs left: its destructor does not recurse
}

Tensor record(Tensor out, const char* op, std::vector<Tensor> inputs, BackwardFn backward) {
    if (!g_grad_enabled) return out;
    bool any = false;
    for (const Tensor& t : inputs) any = any || (t.defined() && t.requires_grad());
    if (!any) return out;
    auto node = std::make_shared<Node>();
    node->op = op;
    node->inputs = std::move(inputs);
    node->backward = std::move(backward);
    out.impl().grad_fn = std::move(node);
    out.impl().requires_grad = true;
    return out;
}

// ---- backward ------------------------------------------------------------------------------------

// Tensors reachable from root through grad_fn edges, inputs before consumers (iterative DFS post-order).
static std::vector<std::shared_ptr<TensorImpl>> topo_order(const std::shared_ptr<TensorImpl>& root) {
    std::vector<std::shared_ptr<TensorImpl>> order;
    std::unordered_set<const TensorImpl*> seen;
    struct Frame {
        std::shared_ptr<TensorImpl> t;
        size_t next;  // next input to visit
    };
    std::vector<Frame> stack{{root, 0}};
    seen.insert(root.get());
    while (!stack.empty()) {
        Frame& f = stack.back();
        const Node* node = f.t->grad_fn.get();
        if (node && f.next < node->inputs.size()) {
            const Tensor& in = node->inputs[f.next++];
            if (in.defined() && in.requires_grad() && seen.insert(in.impl_ptr().get()).second)
                stack.push_back({in.impl_ptr(), 0});  // may invalidate f; not used after this
            continue;
        }
        order.push_back(std::move(f.t));
        stack.pop_back();
    }
    return order;
}

// The gradient a leaf keeps must be its own (optimizers and clipping update it in place): g itself when nothing
// else can see its memory (the only handle, the only view of a storage it fills exactly, as the ops' fresh
// outputs are), otherwise a contiguous copy. Skipping the copy saves a pass over every parameter's gradient.
static Tensor private_copy(Tensor g) {
    const auto& impl = g.impl_ptr();
    const bool sole = impl.use_count() == 1 && impl->storage.use_count() == 1 && !impl->storage->owner &&
                      g.is_contiguous() && g.offset() == 0 &&
                      impl->storage->nbytes == size_t(g.numel()) * dtype_size(g.dtype());
    return sole ? g : g.clone();
}

// Gradients are never modified in place (a closure may return the same tensor for two inputs, or a
// view of its own input), so accumulation allocates: acc = acc + g.
static Tensor accumulate(const Tensor& acc, const Tensor& g) {
    if (!acc.defined()) return g;
    return add(acc, g);
}

void run_backward(const Tensor& root, const Tensor& seed) {
    TG_CHECK(root.requires_grad(), "backward: ", root.str(), " does not require grad (no input requires grad, "
             "or it was computed under NoGradGuard)");
    TG_CHECK(seed.shape() == root.shape(), "backward: seed ", seed.str(), " for root ", root.str());
    NoGradGuard no_grad;  // gradient math is not itself recorded
    std::vector<std::shared_ptr<TensorImpl>> order = topo_order(root.impl_ptr());
    std::unordered_map<const TensorImpl*, Tensor> grads;
    grads[root.impl_ptr().get()] = seed.dtype() == DType::f32 ? seed : seed.to(DType::f32);
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
        TensorImpl* t = it->get();
        auto gi = grads.find(t);
        if (gi == grads.end()) continue;  // nothing flowed here
        Tensor g = std::move(gi->second);
        grads.erase(gi);
        if (!t->grad_fn) {  // a leaf: keep its gradient, as a private contiguous copy the first time
            Tensor have(t->grad);
            t->grad = (have.defined() ? add(have, g) : private_copy(std::move(g))).impl_ptr();
            continue;
        }
        Node& node = *t->grad_fn;
        TG_CHECK(node.backward, "backward: the graph through op '", node.op,
                 "' was already used by a previous backward() (its saved tensors are freed)");
        std::vector<bool> need(node.inputs.size());
        for (size_t i = 0; i < need.size(); i++) need[i] = node.inputs[i].defined() && node.inputs[i].requires_grad();
        std::vector<Tensor> gin = node.backward(g, need);
        TG_CHECK(gin.size() == node.inputs.size(), "backward of op '", node.op, "' returned ", gin.size(),
                 " gradients for ", node.inputs.size(), " inputs");
        for (size_t i = 0; i < gin.size(); i++) {
            if (!need[i] || !gin[i].defined()) continue;
            const Tensor& in = node.inputs[i];
            TG_CHECK(gin[i].shape() == in.shape(), "backward of op '", node.op, "': gradient ", gin[i].str(),
                     " for input ", i, " of shape ", shape_str(in.shape()));
            Tensor& slot = grads[in.impl_ptr().get()];
            slot = accumulate(slot, gin[i]);
        }
        // Free what this node kept for backward as early as possible.
        node.backward = nullptr;
        node.inputs.clear();
    }
}

// ---- checkpointing -------------------------------------------------------------------------------

Tensor checkpoint(CheckpointFn fn, std::vector<Tensor> inputs) {
    Tensor out;
    {
        NoGradGuard no_grad;
        out = fn(inputs);
    }
    if (!g_grad_enabled) return out;
    std::vector<Tensor> saved(inputs.size());  // values only: no history, so nothing behind them is kept
    for (size_t i = 0; i < inputs.size(); i++)
        if (inputs[i].defined()) saved[i] = inputs[i].detach();
    return record(std::move(out), "checkpoint", std::move(inputs),
                  [fn = std::move(fn), saved = std::move(saved)](const Tensor& gout, const std::vector<bool>& need) {
                      std::vector<Tensor> leaves(saved.size());
                      for (size_t i = 0; i < saved.size(); i++) {
                          if (!saved[i].defined()) continue;
                          leaves[i] = saved[i].detach();
                          if (need[i]) leaves[i].set_requires_grad(true);
                      }
                      Tensor again;
                      {
                          GradModeGuard record_again(true);
                          again = fn(leaves);
                      }
                      TG_CHECK(again.shape() == gout.shape(), "checkpoint: the recomputed output ", again.str(),
                               " differs in shape from the first (", shape_str(gout.shape()), ")");
                      std::vector<Tensor> gin(saved.size());
                      if (!again.requires_grad()) return gin;  // no input needs a gradient
                      run_backward(again, gout);
                      for (size_t i = 0; i < saved.size(); i++)
                          if (need[i]) gin[i] = leaves[i].grad();  // undefined if nothing reached it
                      return gin;
                  });
}

// ---- printing ------------------------------------------------------------------------------------

std::string graph_string(const Tensor& root) {
    if (!root.defined()) return "undefined\n";
    // topo_order follows only tensors that require grad; the printout should show every input.
    std::vector<std::shared_ptr<TensorImpl>> order;
    std::unordered_map<const TensorImpl*, size_t> id;
    struct Frame {
        std::shared_ptr<TensorImpl> t;
        size_t next;
    };
    std::vector<Frame> stack{{root.impl_ptr(), 0}};
    std::unordered_set<const TensorImpl*> seen{root.impl_ptr().get()};
    while (!stack.empty()) {
        Frame& f = stack.back();
        const Node* node = f.t->grad_fn.get();
        if (node && f.next < node->inputs.size()) {
            const Tensor& in = node->inputs[f.next++];
            if (in.defined() && seen.insert(in.impl_ptr().get()).second) stack.push_back({in.impl_ptr(), 0});
            continue;
        }
        id[f.t.get()] = order.size();
        order.push_back(std::move(f.t));
        stack.pop_back();
    }
    std::string s;
    for (size_t i = 0; i < order.size(); i++) {
        const TensorImpl& t = *order[i];
        // (appends only: GCC 12 warns falsely on `"literal" + std::string` chains)
        s.append("%").append(std::to_string(i)).append(" = ");
        if (!t.grad_fn) {
            s.append("leaf");
            if (!t.name.empty()) s.append(" \"").append(t.name).append("\"");
        } else {
            s.append(t.grad_fn->op).append("(");
            for (size_t k = 0; k < t.grad_fn->inputs.size(); k++) {
                const Tensor& in = t.grad_fn->inputs[k];
                if (k) s.append(", ");
                if (in.defined()) s.append("%").append(std::to_string(id[in.impl_ptr().get()]));
                else s.append("-");
            }
            s.append(")");
            if (!t.grad_fn->backward) s += " [freed]";
        }
        s += std::string(" ") + dtype_name(t.dtype) + shape_str(t.shape);
        if (t.requires_grad && !t.grad_fn) s += " requires_grad";
        s += "\n";
    }
    return s;
}

// ---- helpers for closures ------------------------------------------------------------------------

Tensor sum_to(const Tensor& g, const Shape& shape) {
    if (g.shape() == shape) return g;
    const int64_t lead = g.dim() - int64_t(shape.size());
    TG_CHECK(lead >= 0, "sum_to: gradient ", g.str(), " has fewer dims than ", shape_str(shape));
    std::vector<int64_t> axes;
    for (int64_t d = 0; d < g.dim(); d++)
        if (d < lead || (shape[size_t(d - lead)] == 1 && g.shape()[size_t(d)] != 1)) axes.push_back(d);
    Tensor r = axes.empty() ? g : sum(g, axes, /*keepdim=*/true);
    return r.reshape(shape);
}

}  // namespace tg
