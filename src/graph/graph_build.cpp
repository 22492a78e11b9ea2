// graph_build.cpp — see graph_build.h for the definitions; the comments here say how they are computed.
#include "graph/graph_build.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "graph/ingest.h"
#include "tensor/common.h"
#include "tensor/json.h"

namespace tg::graph {

// ---- COO -> CSR ------------------------------------------------------------------------------
//
// Counting sort by row (stable, so file order survives within a row), then a stable sort by column
// inside each row, then one pass that merges equal columns. Sums therefore add duplicates in input
// order, so the result does not depend on anything but the input.
Csr coo_to_csr(const Coo& coo, DupAgg agg) {
    const size_t n = coo.size();
    TG_CHECK(coo.col.size() == n && coo.val.size() == n, "coo_to_csr: row/col/val lengths differ (", n, ", ",
             coo.col.size(), ", ", coo.val.size(), ")");
    TG_CHECK(coo.rows >= 0 && coo.cols >= 0 && coo.cols <= INT32_MAX, "coo_to_csr: bad shape ", coo.rows, "x", coo.cols);
    std::vector<int64_t> start(size_t(coo.rows) + 1, 0);
    for (size_t k = 0; k < n; k++) {
        TG_CHECK(coo.row[k] >= 0 && coo.row[k] < coo.rows && coo.col[k] >= 0 && coo.col[k] < coo.cols,
                 "coo_to_csr: entry ", k, " at (", coo.row[k], ", ", coo.col[k], ") outside ", coo.rows, "x", coo.cols);
        start[size_t(coo.row[k]) + 1]++;
    }
    for (int64_t r = 0; r < coo.rows; r++) start[size_t(r) + 1] += start[size_t(r)];
    std::vector<int32_t> col(n);
    std::vector<float> val(n);
    {
        std::vector<int64_t> next(start.begin(), start.end() - 1);
        for (size_t k = 0; k < n; k++) {
            int64_t p = next[size_t(coo.row[k])]++;
            col[size_t(p)] = coo.col[k];
            val[size_t(p)] = coo.val[k];
        }
    }
    Csr m;
    m.rows = coo.rows;
    m.cols = coo.cols;
    m.indptr.assign(size_t(coo.rows) + 1, 0);
    m.indices.reserve(n);
    m.values.reserve(n);
    std::vector<int64_t> perm;
    for (int64_t r = 0; r < coo.rows; r++) {
        int64_t b = start[size_t(r)], e = start[size_t(r) + 1];
        perm.resize(size_t(e - b));
        std::iota(perm.begin(), perm.end(), b);
        std::stable_sort(perm.begin(), perm.end(), [&](int64_t x, int64_t y) { return col[size_t(x)] < col[size_t(y)]; });
        for (size_t k = 0; k < perm.size(); k++) {
            int32_t c = col[size_t(perm[k])];
            float w = val[size_t(perm[k])];
            if (k > 0 && c == m.indices.back()) {
                float& acc = m.values.back();
                acc = agg == DupAgg::Sum ? acc + w : std::max(acc, w);
            } else {
                m.indices.push_back(c);
                m.values.push_back(w);
            }
        }
        m.indptr[size_t(r) + 1] = int64_t(m.indices.size());
    }
    return m;
}

// Transpose by counting sort on the column index. Rows are visited in ascending order, so every
// output row receives its entries with ascending (and unique) column indices.
Csr transpose(const Csr& m) {
    Csr t;
    t.rows = m.cols;
    t.cols = m.rows;
    t.indptr.assign(size_t(m.cols) + 1, 0);
    for (int32_t c : m.indices) t.indptr[size_t(c) + 1]++;
    for (int64_t c = 0; c < m.cols; c++) t.indptr[size_t(c) + 1] += t.indptr[size_t(c)];
    t.indices.resize(m.indices.size());
    if (!m.values.empty()) t.values.resize(m.values.size());
    std::vector<int64_t> next(t.indptr.begin(), t.indptr.end() - 1);
    for (int64_t r = 0; r < m.rows; r++)
        for (int64_t e = m.row_begin(r); e < m.row_end(r); e++) {
            int64_t p = next[size_t(m.indices[size_t(e)])]++;
            t.indices[size_t(p)] = int32_t(r);
            if (!m.values.empty()) t.values[size_t(p)] = m.values[size_t(e)];
        }
    return t;
}

// A = [[0, R], [Rᵀ, 0]]: user u is node u, item i is node U + i.
Csr bipartite_adjacency(const Csr& R) {
    const int64_t U = R.rows, I = R.cols;
    TG_CHECK(U + I <= INT32_MAX, "bipartite_adjacency: ", U, " + ", I, " nodes exceed 2^31-1");
    Csr Rt = transpose(R);
    Csr A;
    A.rows = A.cols = U + I;
    A.indptr.assign(size_t(U + I) + 1, 0);
    A.indices.reserve(size_t(2 * R.nnz()));
    A.values.reserve(size_t(2 * R.nnz()));
    for (int64_t u = 0; u < U; u++) {
        for (int64_t e = R.row_begin(u); e < R.row_end(u); e++) {
            A.indices.push_back(int32_t(U + R.indices[size_t(e)]));
            A.values.push_back(R.value(e));
        }
        A.indptr[size_t(u) + 1] = A.nnz();
    }
    for (int64_t i = 0; i < I; i++) {
        for (int64_t e = Rt.row_begin(i); e < Rt.row_end(i); e++) {
            A.indices.push_back(Rt.indices[size_t(e)]);
            A.values.push_back(Rt.value(e));
        }
        A.indptr[size_t(U + i) + 1] = A.nnz();
    }
    return A;
}

static std::vector<double> inv_sqrt(const std::vector<double>& d) {
    std::vector<double> r(d.size());
    for (size_t k = 0; k < d.size(); k++) r[k] = d[k] > 0 ? 1.0 / std::sqrt(d[k]) : 0.0;
    return r;
}

// Â[r,c] = A[r,c] · d_r^-1/2 · d_c^-1/2 with d = row sums (for symmetric A, = column sums).
Csr sym_normalize(const Csr& A) {
    TG_CHECK(A.rows == A.cols, "sym_normalize: matrix is ", A.rows, "x", A.cols, ", expected square");
    std::vector<double> d(size_t(A.rows), 0.0);
    for (int64_t r = 0; r < A.rows; r++)
        for (int64_t e = A.row_begin(r); e < A.row_end(r); e++) d[size_t(r)] += A.value(e);
    auto s = inv_sqrt(d);
    Csr N = A;
    N.values.resize(A.indices.size());
    for (int64_t r = 0; r < A.rows; r++)
        for (int64_t e = A.row_begin(r); e < A.row_end(r); e++)
            N.values[size_t(e)] = float(double(A.value(e)) * s[size_t(r)] * s[size_t(A.indices[size_t(e)])]);
    return N;
}

// For A = [[0, R], [Rᵀ, 0]] the degrees are d_u = Σ_i R[u,i] (row sums) and d_i = Σ_u R[u,i] (column
// sums), and Â's upper-right block is R̂[u,i] = R[u,i] / sqrt(d_u d_i); the lower-left block is R̂ᵀ.
Csr sym_normalize_bipartite(const Csr& R) {
    std::vector<double> du(size_t(R.rows), 0.0), di(size_t(R.cols), 0.0);
    for (int64_t u = 0; u < R.rows; u++)
        for (int64_t e = R.row_begin(u); e < R.row_end(u); e++) {
            du[size_t(u)] += R.value(e);
            di[size_t(R.indices[size_t(e)])] += R.value(e);
        }
    auto su = inv_sqrt(du), si = inv_sqrt(di);
    Csr N = R;
    N.values.resize(R.indices.size());
    for (int64_t u = 0; u < R.rows; u++)
        for (int64_t e = R.row_begin(u); e < R.row_end(u); e++)
            N.values[size_t(e)] = float(double(R.value(e)) * su[size_t(u)] * si[size_t(R.indices[size_t(e)])]);
    return N;
}

double decay_weight(int64_t t, int64_t t_ref, double half_life_seconds) {
    if (!(half_life_seconds > 0)) return 1.0;
    return std::exp2(-double(t_ref - t) / half_life_seconds);
}

// ---- event weights ---------------------------------------------------------------------------

EventWeights EventWeights::parse(const std::string& spec) {
    EventWeights w;
    size_t p = 0;
    while (p <= spec.size()) {
        size_t q = spec.find(',', p);
        if (q == std::string::npos) q = spec.size();
        std::string item = spec.substr(p, q - p);
        p = q + 1;
        if (item.empty()) {
            if (q == spec.size()) break;
            continue;
        }
        size_t eq = item.find('=');
        TG_CHECK(eq != std::string::npos && eq > 0, "event weights: entry '", item, "' is not type=weight (e.g. pv=1,buy=4)");
        std::string name = item.substr(0, eq), num = item.substr(eq + 1);
        char* end = nullptr;
        double x = std::strtod(num.c_str(), &end);
        TG_CHECK(!num.empty() && *end == 0 && std::isfinite(x) && x >= 0, "event weights: weight of '", name, "' is '", num,
                 "', expected a non-negative number");
        if (name == "*") {
            w.fallback = float(x);
            continue;
        }
        for (auto& [n, _] : w.table) TG_CHECK(n != name, "event weights: type '", name, "' given twice");
        w.table.emplace_back(name, float(x));
    }
    TG_CHECK(!w.table.empty() || w.fallback >= 0, "event weights: empty specification '", spec, "'");
    return w;
}

float EventWeights::get(const std::string& type) const {
    for (auto& [n, x] : table)
        if (n == type) return x;
    TG_CHECK(fallback >= 0, "event type '", type, "' has no weight (table: ", to_string(),
             "); add it to --event-weights or give a default with *=W");
    return fallback;
}

std::string EventWeights::to_string() const {
    std::string s;
    for (auto& [n, x] : table) s += str(s.empty() ? "" : ",", n, "=", x);
    if (fallback >= 0) s += str(s.empty() ? "" : ",", "*=", fallback);
    return s;
}

// ---- the builder -----------------------------------------------------------------------------

InterestGraph build_graph(const EventLog& log, const BuildOptions& opt) {
    const int32_t U = log.users.size(), I = log.items.size();
    TG_CHECK(!log.events.empty(), "build_graph: the log has no events");
    TG_CHECK(opt.test_ratio >= 0 && opt.test_ratio < 1, "test ratio must be in [0, 1), got ", opt.test_ratio);
    TG_CHECK(opt.cooc_window_s <= 0 || log.has_time, "co-occurrence edges need timestamps (the log has no time column)");

    // Weight of each event type, looked up once (throws naming an unknown type).
    std::vector<float> type_w(size_t(log.event_types.size()));
    for (int32_t t = 0; t < log.event_types.size(); t++) type_w[size_t(t)] = opt.event_weights.get(log.event_types.name(t));
    int64_t t_newest = INT64_MIN;
    for (auto& e : log.events) t_newest = std::max(t_newest, e.time);
    const double half_life_s = opt.half_life_days * 86400.0;

    // Events grouped by user, by time inside a user (stable: file order breaks ties, and stands in for
    // time when there is none).
    std::vector<int64_t> order(log.events.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
        const Event &x = log.events[size_t(a)], &y = log.events[size_t(b)];
        return x.user != y.user ? x.user < y.user : x.time < y.time;
    });
    std::vector<int64_t> ustart(size_t(U) + 1, 0);
    for (auto& e : log.events) ustart[size_t(e.user) + 1]++;
    for (int32_t u = 0; u < U; u++) ustart[size_t(u) + 1] += ustart[size_t(u)];

    // 1. split: per user, distinct items in order of first touch; the last k go to test.
    InterestGraph g;
    Dataset& d = g.data;
    d.n_users = U;
    d.n_items = I;
    d.users = log.users;
    d.items = log.items;
    d.test.assign(size_t(U), {});
    std::vector<uint8_t> is_test(log.events.size(), 0);  // per event: its (user, item) pair is held out
    std::vector<int32_t> seen_at(size_t(I), -1);         // item -> last user who touched it (dedupe)
    std::vector<int32_t> first_touch;
    int64_t users_split = 0;
    for (int32_t u = 0; u < U; u++) {
        first_touch.clear();
        for (int64_t k = ustart[size_t(u)]; k < ustart[size_t(u) + 1]; k++) {
            int32_t it = log.events[size_t(order[size_t(k)])].item;
            if (seen_at[size_t(it)] != u) {
                seen_at[size_t(it)] = u;
                first_touch.push_back(it);
            }
        }
        const int64_t n = int64_t(first_touch.size());
        int64_t k = 0;
        if (n >= std::max(2, opt.min_user_items)) {
            if (opt.test_last_n > 0) k = opt.test_last_n;
            else if (opt.test_ratio > 0) k = int64_t(std::ceil(opt.test_ratio * double(n) - 1e-9));
            k = std::min(k, n - 1);
        }
        if (k == 0) continue;
        users_split++;
        auto& t = d.test[size_t(u)];
        t.assign(first_touch.end() - k, first_touch.end());
        std::sort(t.begin(), t.end());
        for (int64_t q = ustart[size_t(u)]; q < ustart[size_t(u) + 1]; q++) {
            int64_t ev = order[size_t(q)];
            is_test[size_t(ev)] = std::binary_search(t.begin(), t.end(), log.events[size_t(ev)].item);
        }
    }

    // 2. training edges: event weight · row weight · decay, aggregated per (user, item).
    Coo coo;
    coo.rows = U;
    coo.cols = I;
    int64_t n_train_events = 0;
    std::vector<int64_t> type_count(type_w.size(), 0);
    for (size_t k = 0; k < log.events.size(); k++) {
        const Event& e = log.events[k];
        type_count[size_t(e.type)]++;
        if (is_test[k]) continue;
        double w = double(type_w[size_t(e.type)]) * double(e.weight);
        if (w == 0) continue;  // a zero weight drops the event type
        w *= decay_weight(e.time, t_newest, half_life_s);
        coo.add(e.user, e.item, float(w));
        n_train_events++;
    }
    d.train = coo_to_csr(coo, opt.agg);

    // 3. knowledge-graph relations from item side data.
    g.categories = log.categories;
    g.brands = log.brands;
    auto attribute_relation = [&](const char* name, const char* dst, const std::vector<int32_t>& attr, int32_t n_attr) {
        Coo c;
        c.rows = I;
        c.cols = n_attr;
        for (size_t i = 0; i < attr.size() && i < size_t(I); i++)
            if (attr[i] >= 0) c.add(int32_t(i), attr[i], 1.f);
        g.relations.push_back({name, "item", dst, coo_to_csr(c)});
    };
    if (g.categories.size() > 0) attribute_relation("in_category", "category", log.item_category, g.categories.size());
    if (g.brands.size() > 0) attribute_relation("has_brand", "brand", log.item_brand, g.brands.size());
    if (!log.item_title.empty()) {
        g.item_titles = log.item_title;
        g.item_titles.resize(size_t(I));
    }

    // 4. item -> item co-occurrence within a time window, training events only.
    if (opt.cooc_window_s > 0) {
        Coo c;
        c.rows = c.cols = I;
        std::vector<std::pair<int32_t, int32_t>> pairs;
        std::vector<int64_t> evs;
        for (int32_t u = 0; u < U; u++) {
            evs.clear();
            for (int64_t k = ustart[size_t(u)]; k < ustart[size_t(u) + 1]; k++)
                if (!is_test[size_t(order[size_t(k)])]) evs.push_back(order[size_t(k)]);
            pairs.clear();
            for (size_t a = 0; a < evs.size(); a++) {
                const Event& ea = log.events[size_t(evs[a])];
                for (size_t b = a + 1; b < evs.size() && b <= a + size_t(opt.cooc_max_pairs); b++) {
                    const Event& eb = log.events[size_t(evs[b])];
                    if (eb.time - ea.time > opt.cooc_window_s) break;
                    if (ea.item != eb.item) pairs.emplace_back(std::min(ea.item, eb.item), std::max(ea.item, eb.item));
                }
            }
            std::sort(pairs.begin(), pairs.end());
            pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
            for (auto [x, y] : pairs) {
                c.add(x, y, 1.f);
                c.add(y, x, 1.f);
            }
        }
        g.relations.push_back({"co_occurs", "item", "item", coo_to_csr(c)});
    }

    // Build record (JSON): options and counts, shown by `graph info`.
    json::Value m;
    m.type = json::Type::object;
    auto put_num = [&](const char* k, double x) {
        json::Value v;
        v.type = json::Type::number;
        v.num = x;
        v.is_int = x == std::floor(x) && std::fabs(x) < 9e15;
        v.i = v.is_int ? int64_t(x) : 0;
        m.obj.emplace_back(k, v);
    };
    auto put_str = [&](const char* k, const std::string& s) {
        json::Value v;
        v.type = json::Type::string;
        v.s = s;
        m.obj.emplace_back(k, v);
    };
    std::string srcs;
    for (auto& s : log.sources) srcs += (srcs.empty() ? "" : ";") + s;
    put_str("sources", srcs);
    put_str("event_weights", opt.event_weights.to_string());
    put_num("half_life_days", opt.half_life_days);
    put_str("aggregate", opt.agg == DupAgg::Sum ? "sum" : "max");
    put_num("test_ratio", opt.test_ratio);
    put_num("test_last_n", opt.test_last_n);
    put_num("min_user_items", opt.min_user_items);
    put_num("cooc_window_s", double(opt.cooc_window_s));
    put_num("t_newest", log.has_time ? double(t_newest) : 0.0);
    put_num("events", double(log.events.size()));
    put_num("events_train", double(n_train_events));
    put_num("users_split", double(users_split));
    put_num("bad_rows", double(log.bad_rows));
    for (size_t t = 0; t < type_count.size(); t++) put_num(("events_" + log.event_types.name(int32_t(t))).c_str(), double(type_count[t]));
    g.meta_json = json::dump(m, 12);
    return g;
}

EventLog kcore_filter(const EventLog& log, int32_t n) {
    // Distinct (user, item) pairs; degrees are counted over pairs whose user and item are both alive.
    std::vector<std::pair<int32_t, int32_t>> pairs;
    pairs.reserve(log.events.size());
    for (auto& e : log.events) pairs.emplace_back(e.user, e.item);
    std::sort(pairs.begin(), pairs.end());
    pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
    std::vector<uint8_t> user_ok(size_t(log.users.size()), 1), item_ok(size_t(log.items.size()), 1);
    for (bool changed = true; changed;) {
        changed = false;
        std::vector<int32_t> du(user_ok.size(), 0), di(item_ok.size(), 0);
        for (auto [u, i] : pairs)
            if (user_ok[size_t(u)] && item_ok[size_t(i)]) du[size_t(u)]++, di[size_t(i)]++;
        for (size_t u = 0; u < du.size(); u++)
            if (user_ok[u] && du[u] < n) user_ok[u] = 0, changed = true;
        for (size_t i = 0; i < di.size(); i++)
            if (item_ok[i] && di[i] < n) item_ok[i] = 0, changed = true;
    }
    // Rebuild with dense ids in order of first appearance among the kept events.
    EventLog out;
    out.event_types = log.event_types;
    out.has_time = log.has_time;
    out.bad_rows = log.bad_rows;
    out.side_rows_unmatched = log.side_rows_unmatched;
    out.bad_examples = log.bad_examples;
    out.sources = log.sources;
    for (auto e : log.events) {
        if (!user_ok[size_t(e.user)] || !item_ok[size_t(e.item)]) continue;
        int32_t old_item = e.item;
        e.user = out.users.get_or_add(log.users.name(e.user));
        e.item = out.items.get_or_add(log.items.name(old_item));
        out.events.push_back(e);
        auto has = [&](const std::vector<int32_t>& v) { return size_t(old_item) < v.size() && v[size_t(old_item)] >= 0; };
        if (has(log.item_category)) out.set_item_category(e.item, log.categories.name(log.item_category[size_t(old_item)]));
        if (has(log.item_brand)) out.set_item_brand(e.item, log.brands.name(log.item_brand[size_t(old_item)]));
        if (size_t(old_item) < log.item_title.size()) out.set_item_title(e.item, log.item_title[size_t(old_item)]);
    }
    return out;
}

std::string graph_summary(const InterestGraph& g) {
    const Dataset& d = g.data;
    int64_t users_with_test = 0;
    for (auto& t : d.test) users_with_test += !t.empty();
    std::string s = str("nodes: ", d.n_users, " users, ", d.n_items, " items");
    if (g.categories.size()) s += str(", ", g.categories.size(), " categories");
    if (g.brands.size()) s += str(", ", g.brands.size(), " brands");
    s += "\n";
    double density = d.n_users && d.n_items ? double(d.n_train()) / (double(d.n_users) * double(d.n_items)) : 0.0;
    auto line = [&](const std::string& types, const std::string& name, const std::string& what) {
        char buf[512];
        std::snprintf(buf, sizeof buf, "  %-18s %-12s %s\n", types.c_str(), name.c_str(), what.c_str());
        s += buf;
    };
    line("user -> item", "interacts", str(d.n_train(), " edges (train, density ", density, ")"));
    line("user -> item", "test", str(d.n_test(), " held-out pairs over ", users_with_test, " users"));
    for (auto& r : g.relations) line(r.src + " -> " + r.dst, r.name, str(r.adj.nnz(), " edges"));
    return s;
}

}  // namespace tg::graph
