// finetune.cpp — multi-task fine-tuning and prediction (see finetune.h).
#include "nn/finetune.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <numeric>
#include <set>
#include <sstream>

#include "nn/bert_train.h"
#include "nn/checkpoint.h"
#include "nn/model_config.h"
#include "nn/optim.h"
#include "nn/tokenizer.h"
#include "tensor/io.h"
#include "tensor/json.h"
#include "tensor/report.h"
#include "tensor/rng.h"
#include "tensor/textio.h"

namespace tg::nn {

// ------------------------------------------------------------------------------------------- inputs

TaskSpec parse_task_spec(const std::string& s) {
    std::vector<std::string> parts;
    std::stringstream ss(s);
    for (std::string p; std::getline(ss, p, ':');) parts.push_back(p);
    TG_CHECK(parts.size() == 3 || parts.size() == 4, "--task '", s, "': expected NAME:KIND:COLUMN[:WEIGHT]");
    TaskSpec t;
    t.name = parts[0];
    t.kind = task_kind_parse(parts[1]);
    t.column = parts[2];
    TG_CHECK(!t.name.empty() && !t.column.empty(), "--task '", s, "': empty name or column");
    if (parts.size() == 4) {
        char* end = nullptr;
        t.weight = std::strtof(parts[3].c_str(), &end);
        TG_CHECK(end && *end == 0 && std::isfinite(t.weight) && t.weight >= 0, "--task '", s, "': bad weight '",
                 parts[3], "'");
    }
    return t;
}

const std::vector<std::string>& Table::col(const std::string& name, const std::string& path) const {
    for (size_t i = 0; i < names.size(); ++i)
        if (names[i] == name) return cols[i];
    std::string have;
    for (auto& n : names) have += (have.empty() ? "" : ", ") + n;
    TG_FAIL(path, ": no column '", name, "' (columns: ", have, ")");
}

Table read_table(const std::string& path, int64_t limit) {
    Table t;
    const bool jsonl = path.size() > 6 && (path.ends_with(".jsonl") || path.ends_with(".json"));
    if (!jsonl) {
        CsvReader csv(path, csv_separator_for(path));
        t.names = csv.header();
        t.cols.resize(t.names.size());
        std::vector<std::string> f;
        while ((limit <= 0 || t.rows < limit) && csv.next(f)) {
            for (size_t c = 0; c < f.size(); ++c) t.cols[c].push_back(std::move(f[c]));
            ++t.rows;
        }
        return t;
    }
    JsonlReader in(path);
    json::Value v;
    while ((limit <= 0 || t.rows < limit) && in.next(v)) {
        TG_CHECK(v.is_object(), path, ":", in.line(), ": expected a JSON object");
        for (auto& [k, val] : v.obj) {
            auto it = std::find(t.names.begin(), t.names.end(), k);
            if (it == t.names.end()) {
                t.names.push_back(k);
                t.cols.emplace_back(size_t(t.rows));  // earlier rows lacked it: empty strings
                it = t.names.end() - 1;
            }
            auto& col = t.cols[size_t(it - t.names.begin())];
            col.resize(size_t(t.rows));
            col.push_back(val.is_string() ? val.s : json::dump(val));
        }
        ++t.rows;
        for (auto& c : t.cols) c.resize(size_t(t.rows));
    }
    return t;
}

// ------------------------------------------------------------------------------------------ metrics

double macro_f1(const std::vector<int64_t>& y, const std::vector<int64_t>& p, int64_t K) {
    double s = 0;
    int n = 0;
    for (int64_t c = 0; c < K; ++c) {
        int64_t tp = 0, fp = 0, fn = 0;
        for (size_t i = 0; i < y.size(); ++i) {
            tp += y[i] == c && p[i] == c;
            fp += y[i] != c && p[i] == c;
            fn += y[i] == c && p[i] != c;
        }
        if (tp + fp + fn == 0) continue;  // class absent from truth and predictions
        s += 2.0 * tp / double(2 * tp + fp + fn);
        ++n;
    }
    return n ? s / n : 0.0;
}

double roc_auc(const std::vector<int64_t>& y, const std::vector<double>& score) {
    const size_t n = y.size();
    int64_t pos = 0;
    for (int64_t v : y) pos += v == 1;
    const int64_t neg = int64_t(n) - pos;
    if (pos == 0 || neg == 0) return NAN;
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score[a] < score[b]; });
    double rank_pos = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && score[order[j + 1]] == score[order[i]]) ++j;
        const double r = (double(i) + double(j)) / 2 + 1;  // average rank of the tie group
        for (size_t k = i; k <= j; ++k)
            if (y[order[k]] == 1) rank_pos += r;
        i = j + 1;
    }
    return (rank_pos - double(pos) * (pos + 1) / 2) / (double(pos) * neg);
}

// ---------------------------------------------------------------------------------------- the model

namespace {

uint64_t splitmix(uint64_t& s) {
    uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
void shuffle(std::vector<int64_t>& v, uint64_t& s) {  // Fisher–Yates
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[splitmix(s) % i]);
}

// A task with its encoded targets.
struct Task {
    TaskSpec spec;
    std::vector<std::string> classes;          // softmax / multilabel
    std::unique_ptr<LinearHead> head;          // softmax, multilabel, binary, regression
    std::unique_ptr<MLMHead> mlm;
    int64_t K = 1;
};

struct Encoded {
    std::vector<std::vector<int32_t>> ids;     // per row, [CLS] .. [SEP]
    std::vector<std::vector<int32_t>> ids2;    // similarity: the second text (per similarity task, first one)
    std::vector<std::vector<double>> target;   // per task: class id / 0-1 / value (multilabel: unused)
    std::vector<std::vector<std::vector<float>>> multi;  // per task, per row: K 0/1 values (multilabel)
};

struct Model {
    std::unique_ptr<BertTrainable> bert;
    PoolMode pool = PoolMode::cls;
    std::vector<Task> tasks;
    std::unique_ptr<LossBalancer> balancer;
    int32_t pad = 0, mask_id = 103, cls_id = 101, sep_id = 102;

    NamedTensors named() const {
        NamedTensors out;
        for (auto& [n, p] : bert->named_parameters()) out.emplace_back("bert." + n, p);
        for (auto& t : tasks) {
            if (t.head)
                for (auto& [n, p] : t.head->named_parameters()) out.emplace_back("head." + t.spec.name + "." + n, p);
            if (t.mlm)
                for (auto& [n, p] : t.mlm->named_parameters()) out.emplace_back("cls.predictions." + n, p);
        }
        if (balancer)
            for (auto& [n, p] : balancer->named_parameters()) out.emplace_back("balance." + n, p);
        return out;
    }
};

void collate(const std::vector<std::vector<int32_t>>& ids, const std::vector<int64_t>& rows, int32_t pad,
             Tensor& tid, Tensor& tmask, Tensor& ttype) {
    int64_t T = 0;
    for (int64_t r : rows) T = std::max<int64_t>(T, int64_t(ids[size_t(r)].size()));
    const int64_t B = int64_t(rows.size());
    tid = Tensor::full({B, T}, float(pad), DType::i32);
    tmask = Tensor::zeros({B, T}, DType::i32);
    ttype = Tensor::zeros({B, T}, DType::i32);
    int32_t* pi = tid.data<int32_t>();
    int32_t* pm = tmask.data<int32_t>();
    for (int64_t b = 0; b < B; ++b) {
        const auto& s = ids[size_t(rows[size_t(b)])];
        for (size_t t = 0; t < s.size(); ++t) pi[b * T + int64_t(t)] = s[t], pm[b * T + int64_t(t)] = 1;
    }
}

// BERT's masking: 15% of the real, non-special tokens are chosen; 80% -> [MASK], 10% random id, 10% kept.
// labels: the original id at chosen positions, -100 elsewhere. At least one position is chosen per batch
// unless it has no real token to choose (only empty texts); *n_chosen: how many were chosen.
Tensor mlm_mask(Tensor& ids, const Tensor& mask, int32_t mask_id, int32_t cls, int32_t sep, int64_t V, uint64_t seed,
                int64_t* n_chosen) {
    const int64_t n = ids.numel();
    Tensor labels = Tensor::full(ids.shape(), -100.0f, DType::i64);
    int32_t* p = ids.data<int32_t>();
    const int32_t* m = mask.data<int32_t>();
    int64_t* l = labels.data<int64_t>();
    int64_t first = -1, chosen = 0;
    for (int64_t i = 0; i < n; ++i) {
        if (!m[i] || p[i] == cls || p[i] == sep) continue;
        if (first < 0) first = i;
        if (philox_uniform(seed, uint64_t(3 * i)) >= 0.15f) continue;
        l[i] = p[i];
        ++chosen;
        const float u = philox_uniform(seed, uint64_t(3 * i + 1));
        if (u < 0.8f) p[i] = mask_id;
        else if (u < 0.9f) p[i] = int32_t(philox_uniform(seed, uint64_t(3 * i + 2)) * float(V)) % int32_t(V);
    }
    if (chosen == 0 && first >= 0) l[first] = p[first], p[first] = mask_id, chosen = 1;
    *n_chosen = chosen;
    return labels;
}

// Forward of every task on one batch: the per-task losses, in task order. pooled_out (optional) receives
// the pooled vector z. With leaf_out, the heads read a detached copy of z made a leaf (returned there)
// instead of z itself: each task's ∂L_t/∂z can then be taken on its own before one backward pass through
// the encoder (--grad-surgery).
std::vector<Tensor> task_losses(Model& M, const Encoded& E, const std::vector<int64_t>& rows, uint64_t seed,
                                Tensor* pooled_out = nullptr, Tensor* leaf_out = nullptr) {
    Tensor ids, mask, tt;
    collate(E.ids, rows, M.pad, ids, mask, tt);
    // the clean forward is only needed by the tasks that read the pooled vector (MLM masks its own copy)
    bool need_z = pooled_out != nullptr;
    for (const Task& t : M.tasks) need_z = need_z || t.spec.kind != TaskKind::mlm;
    Tensor z;
    if (need_z) z = M.bert->pool(M.bert->forward(ids, mask, tt), mask, M.pool);
    if (pooled_out) *pooled_out = z;
    if (leaf_out) z = *leaf_out = z.detach().set_requires_grad(true);
    const int64_t B = int64_t(rows.size());
    std::vector<Tensor> out;
    for (size_t k = 0; k < M.tasks.size(); ++k) {
        Task& t = M.tasks[k];
        switch (t.spec.kind) {
            case TaskKind::softmax: {
                std::vector<int64_t> y;
                for (int64_t r : rows) y.push_back(int64_t(E.target[k][size_t(r)]));
                out.push_back(t.head->loss(t.head->forward(z), Tensor::from_ints(y, {B})));
                break;
            }
            case TaskKind::binary:
            case TaskKind::regression: {
                std::vector<float> y;
                for (int64_t r : rows) y.push_back(float(E.target[k][size_t(r)]));
                out.push_back(t.head->loss(t.head->forward(z), Tensor::from_vector(y, {B})));
                break;
            }
            case TaskKind::multilabel: {
                std::vector<float> y;
                for (int64_t r : rows) y.insert(y.end(), E.multi[k][size_t(r)].begin(), E.multi[k][size_t(r)].end());
                out.push_back(t.head->loss(t.head->forward(z), Tensor::from_vector(y, {B, t.K})));
                break;
            }
            case TaskKind::similarity: {
                Tensor ids2, mask2, tt2;
                collate(E.ids2, rows, M.pad, ids2, mask2, tt2);
                Tensor z2 = M.bert->pool(M.bert->forward(ids2, mask2, tt2), mask2, M.pool);
                out.push_back(info_nce(z, z2, 0.05f));
                break;
            }
            case TaskKind::mlm: {
                // a separately masked copy of the batch (the other tasks see the clean text)
                Tensor mids = ids.clone();
                int64_t chosen = 0;
                Tensor labels = mlm_mask(mids, mask, M.mask_id, M.cls_id, M.sep_id, M.bert->config().vocab_size,
                                         seed ^ 0x6D6C6DULL, &chosen);
                if (chosen == 0)  // only empty texts: nothing to predict, a zero loss (zero gradients)
                    out.push_back(sum(t.mlm->bias) * 0.0f);
                else
                    out.push_back(t.mlm->loss(M.bert->forward(mids, mask, tt), labels));
                break;
            }
        }
    }
    return out;
}

// Predictions on a whole encoded split (eval mode, no autograd), in row order. scores[k][row]: class id,
// positive-class logit (binary), value (regression); probs for multilabel flattened [rows, K].
struct Predictions {
    std::vector<std::vector<double>> value;       // per task, per row
    std::vector<std::vector<float>> multi;        // per task, [rows, K] logits
    std::vector<std::vector<float>> embedding;    // per row [C]
};

// Row indices sorted by token count (stable): batches of similar lengths waste little on padding.
std::vector<int64_t> length_order(const Encoded& E) {
    std::vector<int64_t> order(E.ids.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return E.ids[size_t(a)].size() < E.ids[size_t(b)].size(); });
    return order;
}

Predictions predict_all(Model& M, const Encoded& E, int64_t batch, bool keep_embeddings) {
    NoGradGuard ng;
    const bool was_training = M.bert->training();  // a frozen encoder stays in eval mode
    M.bert->eval();
    const int64_t n = int64_t(E.ids.size());
    const std::vector<int64_t> order = length_order(E);
    Predictions P;
    P.value.assign(M.tasks.size(), std::vector<double>(size_t(n), 0.0));
    P.multi.resize(M.tasks.size());
    if (keep_embeddings) P.embedding.resize(size_t(n));
    for (size_t k = 0; k < M.tasks.size(); ++k)
        if (M.tasks[k].spec.kind == TaskKind::multilabel) P.multi[k].assign(size_t(n * M.tasks[k].K), 0.0f);
    for (int64_t s = 0; s < n; s += batch) {
        std::vector<int64_t> rows(order.begin() + s, order.begin() + std::min(n, s + batch));
        Tensor ids, mask, tt;
        collate(E.ids, rows, M.pad, ids, mask, tt);
        Tensor z = M.bert->pool(M.bert->forward(ids, mask, tt), mask, M.pool).contiguous();
        const int64_t C = z.size(1);
        if (keep_embeddings) {
            const std::vector<float> zv = z.to_vector();
            for (size_t b = 0; b < rows.size(); ++b)
                P.embedding[size_t(rows[b])].assign(zv.begin() + int64_t(b) * C, zv.begin() + int64_t(b + 1) * C);
        }
        for (size_t k = 0; k < M.tasks.size(); ++k) {
            Task& t = M.tasks[k];
            if (!t.head) continue;
            const std::vector<float> o = t.head->forward(z).to_vector();  // [B, K]
            for (size_t b = 0; b < rows.size(); ++b) {
                const float* ob = o.data() + int64_t(b) * t.K;
                double v = ob[0];
                if (t.spec.kind == TaskKind::softmax) v = double(std::max_element(ob, ob + t.K) - ob);
                if (t.spec.kind == TaskKind::multilabel)
                    std::copy(ob, ob + t.K, P.multi[k].begin() + rows[b] * t.K);
                P.value[k][size_t(rows[b])] = v;
            }
        }
    }
    M.bert->train(was_training);
    return P;
}

// Masked-LM on a split: the mean cross-entropy over the masked positions ("<task>.loss") and the share of them
// whose original token is the top-1 prediction ("<task>.accuracy"). The masks come from a seed fixed per
// batch, so every epoch is scored on the same positions and the figures are comparable across epochs.
void evaluate_mlm(Model& M, const Task& t, const Encoded& E, int64_t batch,
                  std::vector<std::pair<std::string, double>>& m) {
    NoGradGuard ng;
    const bool was_training = M.bert->training();
    M.bert->eval();
    const int64_t n = int64_t(E.ids.size()), V = M.bert->config().vocab_size;
    const std::vector<int64_t> order = length_order(E);
    double loss_sum = 0;
    int64_t count = 0, correct = 0;
    for (int64_t s = 0; s < n; s += batch) {
        std::vector<int64_t> rows(order.begin() + s, order.begin() + std::min(n, s + batch));
        Tensor ids, mask, tt;
        collate(E.ids, rows, M.pad, ids, mask, tt);
        int64_t chosen = 0;
        Tensor labels = mlm_mask(ids, mask, M.mask_id, M.cls_id, M.sep_id, V, 0x76616C6964ULL ^ uint64_t(s), &chosen);
        if (chosen == 0) continue;  // a batch of empty texts
        std::vector<int64_t> ys;
        Tensor logits = t.mlm->masked_logits(M.bert->forward(ids, mask, tt), labels, &ys);
        const int64_t k = int64_t(ys.size());
        loss_sum += double(cross_entropy(logits, Tensor::from_ints(ys, {k})).item()) * double(k);
        const std::vector<float> lg = logits.contiguous().to_vector();
        for (int64_t i = 0; i < k; ++i) {
            const float* row = lg.data() + i * V;
            correct += std::max_element(row, row + V) - row == ys[size_t(i)];
        }
        count += k;
    }
    M.bert->train(was_training);
    m.emplace_back(t.spec.name + ".loss", loss_sum / double(std::max<int64_t>(count, 1)));
    m.emplace_back(t.spec.name + ".accuracy", double(correct) / double(std::max<int64_t>(count, 1)));
}

// Metrics of one split: "<task>.accuracy", ".macro_f1", ".auc", ".rmse"; masked-LM tasks ".loss", ".accuracy".
std::vector<std::pair<std::string, double>> evaluate(Model& M, const Encoded& E, int64_t batch) {
    // (a masked-LM-only model has no head that reads the pooled vector: no prediction pass)
    const bool heads = std::any_of(M.tasks.begin(), M.tasks.end(), [](const Task& t) { return bool(t.head); });
    const Predictions P = heads ? predict_all(M, E, batch, false) : Predictions{};
    std::vector<std::pair<std::string, double>> m;
    const size_t n = E.ids.size();
    for (size_t k = 0; k < M.tasks.size(); ++k) {
        const Task& t = M.tasks[k];
        const std::string& nm = t.spec.name;
        if (t.spec.kind == TaskKind::softmax || t.spec.kind == TaskKind::binary) {
            std::vector<int64_t> y(n), p(n);
            std::vector<double> score(n);
            int64_t ok = 0;
            for (size_t i = 0; i < n; ++i) {
                y[i] = int64_t(E.target[k][i]);
                p[i] = t.spec.kind == TaskKind::binary ? int64_t(P.value[k][i] > 0) : int64_t(P.value[k][i]);
                score[i] = P.value[k][i];
                ok += y[i] == p[i];
            }
            m.emplace_back(nm + ".accuracy", double(ok) / double(std::max<size_t>(n, 1)));
            m.emplace_back(nm + ".macro_f1", macro_f1(y, p, t.spec.kind == TaskKind::binary ? 2 : t.K + 1));
            if (t.spec.kind == TaskKind::binary) m.emplace_back(nm + ".auc", roc_auc(y, score));
        } else if (t.spec.kind == TaskKind::regression) {
            double se = 0;
            for (size_t i = 0; i < n; ++i) se += std::pow(P.value[k][i] - E.target[k][i], 2);
            m.emplace_back(nm + ".rmse", std::sqrt(se / double(std::max<size_t>(n, 1))));
        } else if (t.spec.kind == TaskKind::multilabel) {
            // per-label decisions (logit > 0): element accuracy and macro-F1 over the labels
            int64_t ok = 0;
            double f1 = 0;
            for (int64_t c = 0; c < t.K; ++c) {
                int64_t tp = 0, fp = 0, fn = 0;
                for (size_t i = 0; i < n; ++i) {
                    const bool yt = E.multi[k][i][size_t(c)] > 0.5f, pt = P.multi[k][i * size_t(t.K) + size_t(c)] > 0;
                    ok += yt == pt, tp += yt && pt, fp += !yt && pt, fn += yt && !pt;
                }
                f1 += tp + fp + fn ? 2.0 * tp / double(2 * tp + fp + fn) : 1.0;
            }
            m.emplace_back(nm + ".accuracy", double(ok) / double(std::max<size_t>(n * size_t(t.K), 1)));
            m.emplace_back(nm + ".macro_f1", f1 / double(t.K));
        } else if (t.spec.kind == TaskKind::mlm) {
            evaluate_mlm(M, t, E, batch, m);
        }
    }
    return m;
}

std::string num17(double v) {
    char b[40];
    std::snprintf(b, sizeof b, "%.17g", v);
    return b;
}

std::string num(double v) {
    if (!std::isfinite(v)) return "null";
    char b[32];
    std::snprintf(b, sizeof b, "%.6g", v);
    return b;
}

// Build the model for a task list: encoder from the model folder, heads seeded in task order.
Model build_model(const std::string& model_dir, std::vector<Task> tasks, const std::string& balance, uint64_t seed) {
    Model M;
    M.bert = BertTrainable::load(model_dir);
    const ModelFiles mf = load_model_dir(model_dir);
    M.pool = mf.st.pooling.value_or(PoolMode::cls);
    M.pad = int32_t(mf.config.pad_token_id);
    const int64_t C = mf.config.hidden_size;
    uint64_t s = seed * 7919 + 1;
    std::vector<std::string> names;
    std::vector<float> weights;
    for (Task& t : tasks) {
        names.push_back(t.spec.name);
        weights.push_back(t.spec.weight);
        if (t.spec.kind == TaskKind::mlm)
            t.mlm = std::make_unique<MLMHead>(C, mf.config.vocab_size, M.bert->word_embeddings(),
                                              float(mf.config.layer_norm_eps), mf.config.gelu_tanh(), ++s);
        else if (t.spec.kind != TaskKind::similarity)
            t.head = std::make_unique<LinearHead>(t.spec.kind, C, t.K, ++s);
    }
    M.tasks = std::move(tasks);
    TG_CHECK(balance == "fixed" || balance == "uncertainty", "--balance must be fixed or uncertainty, got '", balance,
             "'");
    M.balancer = std::make_unique<LossBalancer>(
        balance == "fixed" ? LossBalancer::Mode::fixed : LossBalancer::Mode::uncertainty, names, weights);
    return M;
}

void encode_split(Model& M, const BertTokenizer& tok, const Table& tab, const std::string& path,
                  const std::string& text_col, int64_t max_len, Encoded& E, bool with_targets) {
    const auto& text = tab.col(text_col, path);
    for (const auto& s : text) E.ids.push_back(tok.encode(s, std::nullopt, max_len).ids);
    if (!with_targets) return;
    E.target.resize(M.tasks.size());
    E.multi.resize(M.tasks.size());
    int64_t unseen = 0;
    for (size_t k = 0; k < M.tasks.size(); ++k) {
        const Task& t = M.tasks[k];
        if (t.spec.kind == TaskKind::mlm) continue;
        const auto& col = tab.col(t.spec.column, path);
        for (size_t i = 0; i < col.size(); ++i) {
            const std::string& v = col[i];
            const std::string where = path + ": row " + std::to_string(i + 1) + ", column '" + t.spec.column + "'";
            switch (t.spec.kind) {
                case TaskKind::softmax: {
                    // a class the training file lacks (small --limit) gets id K: never predicted, so it
                    // counts as an error in accuracy and as a class of its own in macro-F1
                    auto it = std::find(t.classes.begin(), t.classes.end(), v);
                    if (it == t.classes.end() && unseen++ == 0)
                        std::fprintf(stderr, "finetune: warning: %s: class '%s' is not in the training file\n",
                                     where.c_str(), v.c_str());
                    E.target[k].push_back(double(it - t.classes.begin()));
                    break;
                }
                case TaskKind::binary:
                    TG_CHECK(v == "0" || v == "1", where, ": binary label must be 0 or 1, got '", v, "'");
                    E.target[k].push_back(v == "1");
                    break;
                case TaskKind::regression: {
                    char* end = nullptr;
                    const double d = std::strtod(v.c_str(), &end);
                    TG_CHECK(!v.empty() && end && *end == 0 && std::isfinite(d), where, ": not a number: '", v, "'");
                    E.target[k].push_back(d);
                    break;
                }
                case TaskKind::multilabel: {
                    std::vector<float> y(size_t(t.K), 0.0f);
                    std::stringstream ss(v);
                    for (std::string l; std::getline(ss, l, '|');) {
                        if (l.empty()) continue;
                        auto it = std::find(t.classes.begin(), t.classes.end(), l);
                        TG_CHECK(it != t.classes.end(), where, ": label '", l, "' not in the training file");
                        y[size_t(it - t.classes.begin())] = 1.0f;
                    }
                    E.multi[k].push_back(std::move(y));
                    E.target[k].push_back(0);
                    break;
                }
                case TaskKind::similarity:
                    if (E.ids2.size() < col.size()) E.ids2.push_back(tok.encode(v, std::nullopt, max_len).ids);
                    E.target[k].push_back(0);
                    break;
                case TaskKind::mlm: break;
            }
        }
    }
}

}  // namespace

AdamWState::AdamWState(const NamedTensors& ps, float weight_decay) : wd(weight_decay) {
    for (const auto& [n, p] : ps) {
        names.push_back(n);
        params.push_back(p);
        m.push_back(Tensor::zeros(p.shape()));
        v.push_back(Tensor::zeros(p.shape()));
        t.push_back(0);
    }
}

void AdamWState::step(float lr) {
    // One parallel region for every parameter (not one per parameter: ~100 fork/joins per step on BERT): the
    // per-parameter constants are worked out first, then each thread updates its static share of each tensor
    // (nowait: the tensors are disjoint). Every element sees the same arithmetic whatever the thread count.
    struct Job {
        float *p, *m, *v;
        const float* g;
        int64_t n;
        float decay, stepsize, bc2s;
    };
    std::vector<Job> jobs;
    std::vector<Tensor> grads;  // keeps contiguous copies alive (leaf gradients normally are contiguous)
    for (size_t i = 0; i < params.size(); ++i) {
        Tensor g = params[i].grad();
        if (!g.defined()) continue;  // as PyTorch: no gradient, no update (no decay either)
        grads.push_back(g.contiguous());
        ++t[i];
        const float bc1 = 1.0f - std::pow(b1, float(t[i])), bc2s = std::sqrt(1.0f - std::pow(b2, float(t[i])));
        jobs.push_back({params[i].data<float>(), m[i].data<float>(), v[i].data<float>(), grads.back().data<float>(),
                        params[i].numel(), 1.0f - lr * wd, lr / bc1, bc2s});
    }
    int64_t total = 0;
    for (const Job& j : jobs) total += j.n;
#pragma omp parallel if (total >= (1 << 16))
    for (const Job& j : jobs) {
        float *p = j.p, *mm = j.m, *vv = j.v;
        const float* gg = j.g;
#pragma omp for simd schedule(static) nowait
        for (int64_t k = 0; k < j.n; ++k) {
            p[k] *= j.decay;
            mm[k] = b1 * mm[k] + (1.0f - b1) * gg[k];
            vv[k] = b2 * vv[k] + (1.0f - b2) * gg[k] * gg[k];
            p[k] -= j.stepsize * mm[k] / (std::sqrt(vv[k]) / j.bc2s + eps);
        }
    }
}

// ------------------------------------------------------------------------------------------ training

void run_finetune(const FinetuneOptions& o) {
    TG_CHECK(!o.tasks.empty(), "finetune: at least one --task is needed");
    TG_CHECK(o.batch > 0 && o.epochs > 0 && o.accum > 0 && o.max_len > 2, "finetune: bad --batch/--epochs/--accum/"
             "--max-len");
    std::filesystem::create_directories(o.out);
    const Table train = read_table(o.train, o.limit), valid = read_table(o.valid, o.limit);
    TG_CHECK(train.rows > 0 && valid.rows > 0, "finetune: empty --train or --valid file");

    // classes from the training file, sorted by code point (std::string compares bytes = UTF-8 code points)
    std::vector<Task> tasks;
    int n_similarity = 0;
    for (const TaskSpec& s : o.tasks) {
        TG_CHECK(s.kind != TaskKind::similarity || ++n_similarity == 1, "finetune: one similarity task per run");
        Task t;
        t.spec = s;
        if (s.kind == TaskKind::softmax || s.kind == TaskKind::multilabel) {
            std::set<std::string> cs;
            for (const auto& v : train.col(s.column, o.train)) {
                if (s.kind == TaskKind::softmax) cs.insert(v);
                else {
                    std::stringstream ss(v);
                    for (std::string l; std::getline(ss, l, '|');)
                        if (!l.empty()) cs.insert(l);
                }
            }
            t.classes.assign(cs.begin(), cs.end());
            t.K = int64_t(t.classes.size());
            TG_CHECK(t.K >= 2 || s.kind == TaskKind::multilabel, "task ", s.name, ": column '", s.column, "' has ",
                     t.K, " class in ", o.train, " (need 2 or more)");
        }
        tasks.push_back(std::move(t));
    }
    TG_CHECK(o.surgery == "none" || o.surgery == "pcgrad", "--grad-surgery must be none or pcgrad, got '", o.surgery,
             "'");
    const bool pcgrad_on = o.surgery == "pcgrad";
    if (pcgrad_on) {
        TG_CHECK(!o.freeze_encoder, "--grad-surgery pcgrad acts on the shared encoder's gradient; with "
                 "--freeze-encoder there is none");
        for (const Task& t : tasks)
            TG_CHECK(t.spec.kind != TaskKind::similarity && t.spec.kind != TaskKind::mlm, "--grad-surgery pcgrad: task ",
                     t.spec.name, " is ", task_kind_name(t.spec.kind), "; surgery works on the pooled vector that "
                     "softmax, multilabel, binary and regression heads read");
    }
    Model M = build_model(o.model_dir, std::move(tasks), o.balance, o.seed);
    M.bert->train();
    const BertTokenizer tok = BertTokenizer::from_model_dir(o.model_dir);
    M.mask_id = tok.ids("[MASK]").at(0);
    M.cls_id = tok.ids("[CLS]").at(0);
    M.sep_id = tok.ids("[SEP]").at(0);
    Encoded Etr, Eva;
    encode_split(M, tok, train, o.train, o.text_col, o.max_len, Etr, true);
    encode_split(M, tok, valid, o.valid, o.text_col, o.max_len, Eva, true);

    // optimiser: AdamW with decay on matrices/embeddings; a frozen encoder trains the heads (and s_t) only
    NamedTensors decay, no_decay;
    for (auto& [n, p] : M.named()) {
        if (o.freeze_encoder && n.rfind("bert.", 0) == 0) {
            p.impl().requires_grad = false;
            continue;
        }
        (p.dim() >= 2 ? decay : no_decay).emplace_back(n, p);
    }
    if (o.freeze_encoder) M.bert->eval();  // features only: no dropout
    M.bert->recompute = o.recompute;  // same numbers either way: not part of the saved options
    AdamWState opt_d(decay, float(o.wd)), opt_n(no_decay, 0.0f);
    std::vector<Tensor> all = opt_d.params;
    all.insert(all.end(), opt_n.params.begin(), opt_n.params.end());

    const int64_t n = int64_t(Etr.ids.size());
    const int64_t batches_per_epoch = (n + o.batch - 1) / o.batch;
    const int64_t steps_per_epoch = (batches_per_epoch + o.accum - 1) / o.accum;
    const int64_t total = steps_per_epoch * o.epochs;
    const int64_t warm = o.warmup < 1 ? int64_t(o.warmup * double(total)) : int64_t(o.warmup);
    auto lr_at = [&](int64_t s) {  // step s = 1..N (the reference's shifted linear schedule)
        if (s <= warm) return o.lr * double(s) / double(std::max<int64_t>(1, warm));
        return o.lr * std::max(0.0, double(total - s) / double(std::max<int64_t>(1, total - warm)));
    };

    // the run's description, for predict
    {
        std::string j = "{\"model\":";
        json::write_string(j, o.model_dir);
        j += ",\"text\":";
        json::write_string(j, o.text_col);
        j += ",\"max_len\":" + std::to_string(o.max_len) + ",\"pool\":\"" + pool_mode_name(M.pool) +
             "\",\"balance\":\"" + o.balance + "\",\"grad_surgery\":\"" + o.surgery + "\",\"tasks\":[";
        for (size_t k = 0; k < M.tasks.size(); ++k) {
            const Task& t = M.tasks[k];
            j += k ? "," : "";
            j += "{\"name\":";
            json::write_string(j, t.spec.name);
            j += ",\"kind\":\"" + std::string(task_kind_name(t.spec.kind)) + "\",\"column\":";
            json::write_string(j, t.spec.column);
            j += ",\"weight\":" + num(t.spec.weight) + ",\"classes\":[";
            for (size_t c = 0; c < t.classes.size(); ++c) {
                j += c ? "," : "";
                json::write_string(j, t.classes[c]);
            }
            j += "]}";
        }
        j += "]}\n";
        write_file_atomic(o.out + "/finetune.json", j);
    }

    std::vector<CurveSeries> curves{{"train loss", {}, {}}};
    double best = -INFINITY;
    int64_t best_epoch = 0, since_best = 0, step = 0, start_epoch = 1;
    std::string best_line;
    const auto t_start = std::chrono::steady_clock::now();
    NamedTensors named = M.named();
    const std::string state_path = o.out + "/state.safetensors";

    // --resume: everything the next epoch depends on comes back from state.safetensors (written atomically
    // after each epoch): parameters, Adam moments and step counts, the epoch/step counters and the selection
    // state. The random streams are functions of (seed, epoch, step), so nothing else is needed.
    bool resumed = false;
    if (o.resume && std::filesystem::exists(state_path)) {
        std::map<std::string, Tensor> st = load_checkpoint(state_path);
        for (auto& [n, p] : named) p.copy_(st.at("param." + n));
        for (AdamWState* opt : {&opt_d, &opt_n})
            for (size_t i = 0; i < opt->params.size(); ++i) {
                const std::string& n = opt->names[i];
                opt->m[i].copy_(st.at("adam.m." + n));
                opt->v[i].copy_(st.at("adam.v." + n));
                opt->t[i] = st.at("adam.t." + n).to_ints().at(0);
            }
        const Tensor js = st.at("state.json");
        const json::Value v = json::parse(std::string_view(static_cast<const char*>(js.raw_data()), size_t(js.numel())),
                                          state_path);
        start_epoch = v.get_int("epoch", 0) + 1;
        step = v.get_int("step", 0);
        best = v.get_number("best", -INFINITY);
        best_epoch = v.get_int("best_epoch", 0);
        since_best = v.get_int("since_best", 0);
        best_line = v.get_string("best_line", "");
        // curves and the log: keep the lines of the finished epochs only
        std::string kept;
        for (const std::string& line : MetricsLog::read_lines(o.out + "/metrics.jsonl")) {
            const json::Value r = json::parse(line, "metrics.jsonl");
            if (r.get_int("epoch", 0) >= start_epoch) continue;
            kept += line + "\n";
            for (auto& [k, val] : r.obj) {
                if (k != "train_loss" && k.rfind("valid.", 0) != 0) continue;
                const std::string name = k == "train_loss" ? "train loss" : "valid " + k.substr(6);
                auto it = std::find_if(curves.begin(), curves.end(), [&](auto& c) { return c.name == name; });
                if (it == curves.end()) curves.push_back({name, {}, {}}), it = curves.end() - 1;
                it->x.push_back(double(r.get_int("epoch", 0)));
                it->y.push_back(val.is_number() ? val.num : 0.0);
            }
        }
        write_file_atomic(o.out + "/metrics.jsonl", kept);
        resumed = true;
        std::fprintf(stderr, "finetune: resuming %s after epoch %lld (step %lld)\n", o.out.c_str(),
                     (long long)(start_epoch - 1), (long long)step);
    }
    MetricsLog log(o.out + "/metrics.jsonl", !resumed);
    auto save_state = [&](int64_t epoch) {
        NamedTensors st;
        for (auto& [n, p] : named) st.emplace_back("param." + n, p);
        for (AdamWState* opt : {&opt_d, &opt_n})
            for (size_t i = 0; i < opt->params.size(); ++i) {
                const std::string& n = opt->names[i];
                st.emplace_back("adam.m." + n, opt->m[i]);
                st.emplace_back("adam.v." + n, opt->v[i]);
                st.emplace_back("adam.t." + n, Tensor::from_ints({opt->t[i]}, {1}));
            }
        std::string j = "{\"epoch\":" + std::to_string(epoch) + ",\"step\":" + std::to_string(step) +
                        ",\"best\":" + (std::isfinite(best) ? num17(best) : std::string("null")) +
                        ",\"best_epoch\":" + std::to_string(best_epoch) + ",\"since_best\":" +
                        std::to_string(since_best) + ",\"best_line\":";
        json::write_string(j, best_line);
        j += "}";
        Tensor js = Tensor::empty({int64_t(j.size())}, DType::u8);
        std::memcpy(js.raw_data(), j.data(), j.size());
        st.emplace_back("state.json", js);
        save_checkpoint(state_path, st);
    };
    for (int64_t epoch = start_epoch; epoch <= o.epochs; ++epoch) {
        default_generator().reseed(o.seed * 0x9E3779B9ULL + uint64_t(epoch));  // dropout streams of this epoch
        // length-bucketed, shuffled batches (see the header)
        uint64_t rs = o.seed * 1000003ULL + uint64_t(epoch);
        std::vector<int64_t> perm(static_cast<size_t>(n));
        std::iota(perm.begin(), perm.end(), 0);
        shuffle(perm, rs);
        std::vector<std::vector<int64_t>> batches;
        for (int64_t c = 0; c < n; c += o.batch * 50) {
            std::vector<int64_t> part(perm.begin() + c, perm.begin() + std::min(n, c + o.batch * 50));
            std::stable_sort(part.begin(), part.end(), [&](int64_t a, int64_t b) {
                return Etr.ids[size_t(a)].size() < Etr.ids[size_t(b)].size();
            });
            for (size_t b = 0; b < part.size(); b += size_t(o.batch))
                batches.emplace_back(part.begin() + int64_t(b), part.begin() + int64_t(std::min(part.size(), b + size_t(o.batch))));
        }
        std::vector<int64_t> border(batches.size());
        std::iota(border.begin(), border.end(), 0);
        shuffle(border, rs);

        SurgeryStats surgery;  // this epoch's task-gradient conflicts (--grad-surgery pcgrad)
        ProgressBar bar("epoch " + std::to_string(epoch), int64_t(batches.size()));
        const auto t0 = std::chrono::steady_clock::now();
        double loss_sum = 0;
        int64_t seen = 0;
        for (size_t bi = 0; bi < border.size(); ++bi) {
            const auto& rows = batches[size_t(border[bi])];
            const uint64_t bseed = rs ^ (uint64_t(step) << 20) ^ bi;
            const float scale = 1.0f / float(o.accum);
            float lv = 0;
            if (!pcgrad_on) {
                Tensor loss = M.balancer->combine(task_losses(M, Etr, rows, bseed));
                lv = loss.item();
                (o.accum > 1 ? loss * scale : loss).backward();
            } else {
                // PCGrad at the pooled vector: each task's term backpropagates through its own head into the
                // leaf copy of z (heads and s_t get their gradients here), the per-task ∂/∂z are de-conflicted,
                // and their sum goes through the shared encoder in one backward pass.
                Tensor z, zl;
                std::vector<Tensor> parts = task_losses(M, Etr, rows, bseed, &z, &zl);
                std::vector<Tensor> gz;
                for (size_t k = 0; k < parts.size(); ++k) {
                    Tensor term = M.balancer->term(k, parts[k]);
                    lv += term.item();
                    (o.accum > 1 ? term * scale : term).backward();
                    gz.push_back(zl.grad().clone());
                    zl.zero_grad();
                }
                z.backward(pcgrad(gz, bseed, &surgery));
            }
            TG_CHECK(std::isfinite(lv), "finetune: loss became ", lv, " at epoch ", epoch, " batch ", bi);
            loss_sum += double(lv) * double(rows.size());
            seen += int64_t(rows.size());
            if ((bi + 1) % size_t(o.accum) == 0 || bi + 1 == border.size()) {
                ++step;
                if (o.clip > 0) clip_grad_norm(all, float(o.clip));
                opt_d.step(float(lr_at(step)));
                opt_n.step(float(lr_at(step)));
                for (Tensor& p : all) p.zero_grad();
            }
            const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            char sfx[96];
            std::snprintf(sfx, sizeof sfx, "loss %.4f  %.1f samples/s", lv, double(seen) / std::max(secs, 1e-9));
            bar.update(int64_t(bi + 1), sfx);
        }
        bar.clear();
        const double train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const auto m = evaluate(M, Eva, 64);
        double score = 0;
        int nscore = 0;
        std::string line = "{\"epoch\":" + std::to_string(epoch) + ",\"step\":" + std::to_string(step) +
                           ",\"train_loss\":" + num(loss_sum / double(std::max<int64_t>(seen, 1))) +
                           ",\"train_samples_per_s\":" + num(double(seen) / train_s);
        for (auto& [k, v] : m) line += ",\"valid." + k + "\":" + num(v);
        // selection: the named metric; by default every macro-F1 and RMSE, else (pre-training) the masked-LM
        // losses; RMSE and losses count negatively (lower is better)
        auto select = [&](auto&& chosen) {
            for (auto& [k, v] : m)
                if (chosen(k)) score += k.ends_with(".rmse") || k.ends_with(".loss") ? -v : v, ++nscore;
        };
        if (!o.metric.empty())
            select([&](const std::string& k) { return k == o.metric; });
        else
            select([](const std::string& k) { return k.ends_with(".macro_f1") || k.ends_with(".rmse"); });
        if (o.metric.empty() && nscore == 0) select([](const std::string& k) { return k.ends_with(".loss"); });
        if (!o.metric.empty() && nscore == 0) {
            std::string names;
            for (auto& [k, v] : m) names += (names.empty() ? "" : ", ") + k;
            TG_CHECK(false, "finetune: --metric '", o.metric, "' is not a valid metric of these tasks (", names, ")");
        }
        for (size_t k = 0; k < M.balancer->s.size(); ++k)
            line += ",\"s." + M.tasks[k].spec.name + "\":" + num(M.balancer->s[k].item());
        if (pcgrad_on && surgery.pairs > 0)  // share of (batch, task pair)s in conflict, their mean cosine
            line += ",\"pcgrad.conflict_rate\":" + num(double(surgery.conflicts) / double(surgery.pairs)) +
                    ",\"pcgrad.mean_cos\":" + num(surgery.cos_sum / double(surgery.pairs));
        line += "}";
        log.write(line);
        std::fprintf(stderr, "%s\n", line.c_str());
        curves[0].x.push_back(double(epoch));
        curves[0].y.push_back(loss_sum / double(std::max<int64_t>(seen, 1)));
        for (auto& [k, v] : m) {
            auto it = std::find_if(curves.begin(), curves.end(), [&](auto& c) { return c.name == "valid " + k; });
            if (it == curves.end()) curves.push_back({"valid " + k, {}, {}}), it = curves.end() - 1;
            it->x.push_back(double(epoch));
            it->y.push_back(std::isfinite(v) ? v : 0.0);
        }
        write_curve_svg(o.out + "/curves.svg", "fine-tuning", "epoch", "value", curves);
        score = nscore ? score / nscore : -loss_sum;  // no metric at all (e.g. similarity only): train loss
        bool stop = false;
        if (score > best) {
            best = score, best_epoch = epoch, since_best = 0, best_line = line;
            save_checkpoint(o.out + "/model.safetensors", named);  // atomic
        } else if (o.patience > 0 && ++since_best >= o.patience) {
            std::fprintf(stderr, "finetune: early stop after epoch %lld (best %lld)\n", (long long)epoch,
                         (long long)best_epoch);
            stop = true;
        }
        save_state(epoch);
        if (stop || epoch == o.stop_after) break;
    }
    // report.json: the best epoch's valid metrics under their bare names ("category.accuracy") too
    const json::Value best_v = json::parse(best_line, "metrics line");
    std::string r = "{\"best_epoch\":" + std::to_string(best_epoch) + ",\"selection\":";
    json::write_string(r, !o.metric.empty() ? o.metric : "mean valid macro_f1 over the tasks (minus RMSE; else minus the masked-LM loss)");
    for (auto& [k, v] : best_v.obj)
        if (k.rfind("valid.", 0) == 0) r += ",\"" + k.substr(6) + "\":" + (v.is_number() ? num(v.num) : "null");
    for (auto& [k, v] : best_v.obj)
        if (k != "epoch") {
            r += ",";
            json::write_string(r, k);
            r += ":" + (v.is_number() ? num(v.num) : std::string("null"));
        }
    r += ",\"wall_seconds\":" +
         num(std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count()) +
         ",\"rows\":{\"train\":" + std::to_string(train.rows) + ",\"valid\":" + std::to_string(valid.rows) + "}}\n";
    write_file_atomic(o.out + "/report.json", r);
}

// ------------------------------------------------------------------------------------------ predict

void run_predict(const std::string& run_dir, const std::string& input, const std::string& output,
                 const std::string& text_col_opt, int64_t limit) {
    const json::Value cfg = json::parse(read_file(run_dir + "/finetune.json"), run_dir + "/finetune.json");
    const std::string model_dir = cfg.find("model")->as_string("model");
    std::vector<Task> tasks;
    for (const json::Value& tv : cfg.find("tasks")->arr) {
        Task t;
        t.spec.name = tv.find("name")->as_string("name");
        t.spec.kind = task_kind_parse(tv.find("kind")->as_string("kind"));
        t.spec.column = tv.find("column")->as_string("column");
        for (const json::Value& c : tv.find("classes")->arr) t.classes.push_back(c.as_string("class"));
        if (!t.classes.empty()) t.K = int64_t(t.classes.size());
        tasks.push_back(std::move(t));
    }
    Model M = build_model(model_dir, std::move(tasks), cfg.get_string("balance", "fixed"), 0);
    M.pool = pool_mode_parse(cfg.get_string("pool", "cls"));
    load_into(run_dir + "/model.safetensors", M.named(), true);
    const BertTokenizer tok = BertTokenizer::from_model_dir(model_dir);
    const std::string text_col = text_col_opt.empty() ? cfg.get_string("text", "text") : text_col_opt;
    const Table tab = read_table(input, limit);
    Encoded E;
    encode_split(M, tok, tab, input, text_col, cfg.get_int("max_len", 128), E, false);
    const Predictions P = predict_all(M, E, 64, true);
    std::string out;
    for (size_t i = 0; i < E.ids.size(); ++i) {
        out += "{\"row\":" + std::to_string(i);
        for (size_t k = 0; k < M.tasks.size(); ++k) {
            const Task& t = M.tasks[k];
            if (!t.head) continue;
            out += ",";
            json::write_string(out, t.spec.name);
            out += ":";
            const double v = P.value[k][i];
            if (t.spec.kind == TaskKind::softmax) json::write_string(out, t.classes[size_t(v)]);
            else if (t.spec.kind == TaskKind::binary) out += num(1.0 / (1.0 + std::exp(-v)));  // P(label 1)
            else if (t.spec.kind == TaskKind::regression) out += num(v);
            else {  // multilabel: the labels with a positive logit
                out += "[";
                bool first = true;
                for (int64_t c = 0; c < t.K; ++c)
                    if (P.multi[k][i * size_t(t.K) + size_t(c)] > 0) {
                        out += first ? "" : ",";
                        json::write_string(out, t.classes[size_t(c)]);
                        first = false;
                    }
                out += "]";
            }
        }
        out += ",\"embedding\":[";
        for (size_t c = 0; c < P.embedding[i].size(); ++c) {
            if (c) out += ',';
            out += num(P.embedding[i][c]);
        }
        out += "]}\n";
    }
    if (output.empty() || output == "-") std::fwrite(out.data(), 1, out.size(), stdout);
    else write_file_atomic(output, out);
}

}  // namespace tg::nn
