// node_features.cpp — loading node features aligned to the graph's ids, and the feature projection
// (see node_features.h for the files and the math).
#include "graph/node_features.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <unordered_map>

#include "tensor/common.h"
#include "tensor/gemm.h"
#include "tensor/io.h"
#include "tensor/npy.h"
#include "tensor/rng.h"
#include "tensor/textio.h"

namespace tg::graph {

namespace {

bool ends_with(const std::string& s, const char* e) {
    const size_t n = std::strlen(e);
    return s.size() >= n && s.compare(s.size() - n, n, e) == 0;
}

}  // namespace

// ---- loading ------------------------------------------------------------------------------------

std::vector<std::string> read_feature_ids(const std::string& path, const std::string& id_column) {
    TG_CHECK(file_exists(path), "feature ids file ", path, " does not exist");
    std::vector<std::string> ids;
    if (ends_with(path, ".csv") || ends_with(path, ".tsv") || ends_with(path, ".tab")) {
        CsvReader csv(path, csv_separator_for(path));
        const int col = csv.require_column(id_column);
        std::vector<std::string> f;
        while (csv.next(f)) {
            TG_CHECK(!f[size_t(col)].empty(), csv.where(col), ": empty id (row ", ids.size(), ")");
            ids.push_back(f[size_t(col)]);
        }
    } else if (ends_with(path, ".jsonl") || ends_with(path, ".ndjson")) {
        JsonlReader in(path);
        json::Value v;
        while (in.next(v)) {
            const json::Value* f = v.is_object() ? v.find(id_column) : nullptr;
            TG_CHECK(f && (f->is_string() || (f->is_number() && f->is_int)), path, ":", in.line(),
                     ": no string or integer field '", id_column, "' (row ", ids.size(), ")");
            ids.push_back(f->is_string() ? f->s : std::to_string(f->i));
            TG_CHECK(!ids.back().empty(), path, ":", in.line(), ": empty id (row ", ids.size() - 1, ")");
        }
    } else {
        // One id per line; every line is a row (an empty line is an error, not skipped, so rows and
        // lines stay aligned).
        LineReader in(path);
        std::string line;
        while (in.next(line)) {
            TG_CHECK(!line.empty(), path, ":", in.line(), ": empty id (row ", ids.size(), ")");
            ids.push_back(line);
        }
    }
    return ids;
}

uint64_t feature_checksum(const std::vector<float>& X) {
    uint64_t h = 0xcbf29ce484222325ull;
    const auto* p = reinterpret_cast<const uint8_t*>(X.data());
    for (size_t k = 0; k < X.size() * sizeof(float); k++) h = (h ^ p[k]) * 0x100000001b3ull;
    return h;
}

NodeFeatures load_node_features(const FeatureSpec& spec, const IdMap& nodes, const std::string& what) {
    TG_CHECK(!spec.ids.empty(), what, " features ", spec.npy, ": an ids file is required (one original ", what,
             " id per row of the .npy)");
    NpyFile f(spec.npy);
    TG_CHECK(f.dtype() == DType::f32 && f.shape().size() == 2, spec.npy, ": ", what,
             " features must be a 2-D float32 array [rows, F]; got ", dtype_name(f.dtype()), " with ",
             f.shape().size(), " dimension(s)", f.shape().size() == 1 ? str(" [", f.shape()[0], "]") : std::string());
    const int64_t R = f.shape()[0], F = f.shape()[1];
    TG_CHECK(F > 0, spec.npy, ": ", what, " features have width 0");
    const std::vector<std::string> ids = read_feature_ids(spec.ids, spec.id_column);
    TG_CHECK(int64_t(ids.size()) == R, spec.ids, " names ", ids.size(), " ", what, " ids but ", spec.npy, " has ",
             R, " rows: ",
             int64_t(ids.size()) < R ? str("row ", ids.size(), " of ", spec.npy, " (0-based) and later have no id")
                                     : str("id '", ids[size_t(R)], "' (row ", R, ") has no feature row"));
    NodeFeatures out;
    out.n = nodes.size();
    out.F = F;
    out.rows = R;
    out.source = spec.npy;
    out.X.assign(size_t(out.n * F), 0.f);
    std::unordered_map<std::string, int64_t> first_row;
    const float* x = f.data<float>();
    for (int64_t r = 0; r < R; r++) {
        auto [it, fresh] = first_row.emplace(ids[size_t(r)], r);
        TG_CHECK(fresh, spec.ids, ": row ", r, ": id '", ids[size_t(r)], "' already named row ", it->second);
        const float* row = x + r * F;
        for (int64_t c = 0; c < F; c++)
            TG_CHECK(std::isfinite(row[c]), spec.npy, ": row ", r, " (", what, " '", ids[size_t(r)], "'), column ", c,
                     " is not finite (", row[c], ")");
        const int32_t v = nodes.find(ids[size_t(r)]);
        if (v < 0) {
            out.unknown++;
            continue;
        }
        std::copy(row, row + F, out.X.begin() + int64_t(v) * F);
        out.matched++;
    }
    out.missing = out.n - out.matched;
    out.checksum = feature_checksum(out.X);
    return out;
}

std::string NodeFeatures::summary(const std::string& what) const {
    return str(what, " features: ", n, " x ", F, " from ", source, ": ", matched, " of ", rows, " rows matched, ",
               unknown, " ids not in the graph (ignored), ", missing, " graph ", what,
               "s without a row (zero features)");
}

// ---- the projection -----------------------------------------------------------------------------

void feature_proj_forward(const float* X, int64_t n, int64_t F, const float* W, int64_t D, float* E0) {
    if (n == 0) return;
    gemm_f32(false, false, n, D, F, 1.f, X, F, W, D, 1.f, E0, D);  // E0 += X W
}

void feature_proj_backward(const float* X, int64_t n, int64_t F, const float* dE0, int64_t D, float* dW) {
    if (n == 0) {
        std::fill(dW, dW + F * D, 0.f);
        return;
    }
    gemm_f32(true, false, F, D, n, 1.f, X, F, dE0, D, 0.f, dW, D);  // dW = Xᵀ dE0
}

void feature_proj_forward_ref(const float* X, int64_t n, int64_t F, const float* W, int64_t D, float* E0) {
    // E0[v, d] += Σ_f X[v, f] W[f, d]
    for (int64_t v = 0; v < n; v++)
        for (int64_t d = 0; d < D; d++) {
            double s = 0;
            for (int64_t f = 0; f < F; f++) s += double(X[v * F + f]) * W[f * D + d];
            E0[v * D + d] = float(double(E0[v * D + d]) + s);
        }
}

void feature_proj_backward_ref(const float* X, int64_t n, int64_t F, const float* dE0, int64_t D, float* dW) {
    // dW[f, d] = Σ_v X[v, f] dE0[v, d]
    for (int64_t f = 0; f < F; f++)
        for (int64_t d = 0; d < D; d++) {
            double s = 0;
            for (int64_t v = 0; v < n; v++) s += double(X[v * F + f]) * dE0[v * D + d];
            dW[f * D + d] = float(s);
        }
}

void FeatureProj::init(NodeFeatures u, NodeFeatures i, int64_t dim, uint64_t seed, float init_std, float lr) {
    user = std::move(u);
    item = std::move(i);
    D = dim;
    W.assign(size_t(size()), 0.f);
    dW.assign(W.size(), 0.f);
    const uint64_t key = seed ^ 0x4665617450726f6aull;  // "FeatProj": a stream apart from E and sampling
    int64_t off = 0;
    for (const NodeFeatures* nf : {&user, &item}) {
        if (nf->F == 0) continue;
        // σ = init_std / rms_v |x_v| over the rows that have features: x_v W then has entries of
        // std ≈ init_std, like the free embeddings, whatever the features' scale (L2-normalized
        // sentence vectors have |x| = 1, raw counts may have |x| in the hundreds).
        double ss = 0;
        for (float x : nf->X) ss += double(x) * x;
        const double rms = nf->matched > 0 ? std::sqrt(ss / double(nf->matched)) : 0.0;
        const float sigma = rms > 0 ? float(init_std / rms) : 0.f;
        for (int64_t k = 0; k < nf->F * D; k++)
            W[size_t(off + k)] = sigma * philox_normal(key, uint64_t(off + k));
        off += nf->F * D;
    }
    adam = Adam{};
    adam.lr = lr;
    adam.init(W.size());
}

void FeatureProj::ego_forward(const float* E, int64_t U, int64_t I, float* E0) const {
    TG_CHECK(user.F == 0 || user.n == U, "feature projection: ", user.n, " user feature rows for ", U, " users");
    TG_CHECK(item.F == 0 || item.n == I, "feature projection: ", item.n, " item feature rows for ", I, " items");
    std::copy(E, E + (U + I) * D, E0);
    if (user.F > 0) feature_proj_forward(user.X.data(), U, user.F, W.data(), D, E0);
    if (item.F > 0) feature_proj_forward(item.X.data(), I, item.F, W.data() + user.F * D, D, E0 + U * D);
}

void FeatureProj::ego_backward(const float* dE0, int64_t U) {
    dW.resize(W.size());
    if (user.F > 0) feature_proj_backward(user.X.data(), user.n, user.F, dE0, D, dW.data());
    if (item.F > 0) feature_proj_backward(item.X.data(), item.n, item.F, dE0 + U * D, D, dW.data() + user.F * D);
}

void FeatureProj::step(float lr) {
    adam.lr = lr;
    adam.step(W.data(), dW.data(), W.size());
}

}  // namespace tg::graph
