// trainer.cpp — epoch loop, evaluation, logging and checkpoints for the recommenders (see trainer.h).
#include "graph/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <tuple>
#include <vector>

#include "graph/gnn.h"
#include "graph/model_io.h"
#include "graph/popularity.h"
#include "graph/svd.h"
#include "tensor/common.h"
#include "tensor/io.h"
#include "tensor/json.h"
#include "tensor/report.h"

namespace tg::graph {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string fmt(const char* f, double v) {
    char b[64];
    std::snprintf(b, sizeof b, f, v);
    return b;
}

// Metrics JSON without the closing brace, to splice into a larger object.
std::string metrics_fields(const Metrics& m) {
    std::string j = m.to_json();
    return j.substr(1, j.size() - 2);
}

RecModel base_model(const Dataset& ds, const std::string& kind) {
    RecModel m;
    m.kind = kind;
    m.n_users = ds.n_users;
    m.n_items = ds.n_items;
    m.train = ds.train;
    m.train.values.clear();
    m.users = ds.users;
    m.items = ds.items;
    return m;
}

// Redraw the curves from the whole metrics log (so a resumed run's picture covers every sitting).
void draw_curves(const std::string& log_path, const std::string& curve_path, const std::string& loss_path,
                 const std::string& title) {
    CurveSeries loss{"train loss", {}, {}}, rec{"Recall@20", {}, {}}, ndcg{"NDCG@20", {}, {}};
    for (const auto& line : MetricsLog::read_lines(log_path)) {
        auto v = json::parse(line, log_path);
        const double ep = v.get_number("epoch", NAN);
        if (const auto* l = v.find("loss")) loss.x.push_back(ep), loss.y.push_back(l->as_number());
        if (const auto* r = v.find("recall@20")) rec.x.push_back(ep), rec.y.push_back(r->as_number());
        if (const auto* n = v.find("ndcg@20")) ndcg.x.push_back(ep), ndcg.y.push_back(n->as_number());
    }
    write_curve_svg(curve_path, title + ": test metrics", "epoch", "metric", {rec, ndcg});
    write_curve_svg(loss_path, title + ": training loss", "epoch", "BPR + L2 loss", {loss});
}

// ---- the two BPR model types behind one epoch loop ----
HugeVector<float>& param_vec(LightGcn& m) { return m.E0; }
HugeVector<float>& param_vec(Gnn& m) { return m.params; }
const HugeVector<float>& param_vec(const LightGcn& m) { return m.E0; }
const HugeVector<float>& param_vec(const Gnn& m) { return m.params; }
const LightGcnConfig& base_cfg(const LightGcn& m) { return m.cfg; }
const LightGcnConfig& base_cfg(const Gnn& m) { return m.cfg.base; }
int heads_of(const LightGcn&) { return 0; }
int heads_of(const Gnn& m) { return m.cfg.attention ? m.cfg.heads : 0; }
void init_model(LightGcn& m, const Csr& train, const TrainOptions& o) { m.init(train, o.cfg); }
void init_model(Gnn& m, const Csr& train, const TrainOptions& o) {
    GnnConfig g;
    g.base = o.cfg;
    g.attention = o.model == "gat";
    g.heads = o.heads;
    m.init(train, g);
}
void set_config(LightGcn& m, const LightGcnConfig& c, const std::string&, int) { m.cfg = c; }
void set_config(Gnn& m, const LightGcnConfig& c, const std::string& kind, int heads) {
    m.cfg.base = c;
    m.cfg.attention = kind == "gat";
    m.cfg.heads = heads;
}

// ---- weight averaging (TrainOptions::average_from) ----
// Stochastic weight averaging (Izmailov et al., 2018): keep the running mean of the trainable parameters
// (ego embeddings, GCN/GAT layer weights, the feature projection W) over the epochs from `from` on, and
// score with the averaged model. Late in a run at a constant learning rate the iterates wander around a
// flat optimum; their mean sits nearer its centre than any one of them, which a learning-rate decay
// approaches only by shrinking the steps. For LightGCN the final embeddings are linear in E0, so the
// averaged model's embeddings are also the mean of the iterates' embeddings.
struct WeightAverage {
    int64_t from = 0;    // first averaged epoch (0 = off)
    int64_t count = 0;   // epochs averaged so far
    std::vector<float> params, feat_W;

    bool active() const { return count > 0; }
    // After epoch `epoch` has finished: fold the model's parameters into the mean.
    template <typename Model>
    void add(const Model& m, int64_t epoch) {
        if (from <= 0 || epoch < from) return;
        count++;
        fold(params, param_vec(m), count);
        fold(feat_W, m.feat.W, count);
    }
    // Exchange the model's parameters with the averages (twice = back where it was, bit for bit).
    template <typename Model>
    void swap_with(Model& m) {
        auto& p = param_vec(m);
        std::swap_ranges(p.begin(), p.end(), params.begin());
        std::swap_ranges(m.feat.W.begin(), m.feat.W.end(), feat_W.begin());
    }

  private:
    template <typename Vec>
    static void fold(std::vector<float>& mean, const Vec& x, int64_t n) {
        if (n == 1) {
            mean.assign(x.begin(), x.end());
            return;
        }
        const float w = 1.f / float(n);
        for (size_t k = 0; k < mean.size(); k++) mean[k] += (x[k] - mean[k]) * w;
    }
};

// Run f with the averaged parameters in the model when averaging is active (restored afterwards).
template <typename Model, typename F>
auto with_average(Model& m, WeightAverage& avg, F&& f) {
    if (!avg.active()) return f();
    avg.swap_with(m);
    struct Back {
        Model& m;
        WeightAverage& a;
        ~Back() { a.swap_with(m); }
    } back{m, avg};
    return f();
}

// ---- node features (node_features.h) ----
// Load the features the options name, aligned to the data set's ids; a report line each on stdout.
void load_features(const Dataset& ds, const TrainOptions& o, NodeFeatures& user, NodeFeatures& item) {
    if (o.user_features.given()) user = load_node_features(o.user_features, ds.users, "user");
    if (o.item_features.given()) item = load_node_features(o.item_features, ds.items, "item");
    if (o.quiet) return;
    if (user.F > 0) std::printf("%s\n", user.summary("user").c_str());
    if (item.F > 0) std::printf("%s\n", item.summary("item").c_str());
}

// ,"user_features":{"F":384,"checksum":"…","source":"…"} for each node type that has features.
std::string features_json(const FeatureProj& f) {
    std::string j;
    for (const auto& [name, nf] : {std::pair{"user_features", &f.user}, std::pair{"item_features", &f.item}}) {
        if (nf->F == 0) continue;
        char ck[24];
        std::snprintf(ck, sizeof ck, "%016llx", (unsigned long long)nf->checksum);
        j += ",\"" + std::string(name) + "\":{\"F\":" + std::to_string(nf->F) + ",\"checksum\":\"" + ck +
             "\",\"source\":";
        json::write_string(j, nf->source);
        j += "}";
    }
    return j;
}

// A resumed run must get the features it was trained with (same width, same aligned values).
void check_resume_features(const json::Value& c, const FeatureProj& f, const std::string& path) {
    for (const auto& [name, nf, opt] : {std::tuple{"user_features", &f.user, "--user-features"},
                                        std::tuple{"item_features", &f.item, "--item-features"}}) {
        const json::Value* saved = c.find(name);
        TG_CHECK(saved || nf->F == 0, path, ": the checkpoint was trained without ", opt,
                 "; features cannot be added on --resume");
        if (!saved) continue;
        const int64_t F = saved->get_int("F", 0);
        const std::string src = saved->get_string("source", "?");
        TG_CHECK(nf->F > 0, path, ": the checkpoint was trained with ", opt, " ", src, " (width ", F,
                 "); give the same files again to --resume");
        TG_CHECK(nf->F == F, nf->source, ": width ", nf->F, ", but ", path, " was trained with width ", F, " (", src,
                 ")");
        char ck[24];
        std::snprintf(ck, sizeof ck, "%016llx", (unsigned long long)nf->checksum);
        TG_CHECK(saved->get_string("checksum", "") == ck, nf->source, ": these features (aligned to the graph) differ from",
                 " the ones ", path, " was trained with (", src, "); a resumed run needs the same ones");
    }
}

template <typename Model>
std::string model_config_json(const Model& m, const WeightAverage& avg, double train_seconds, const Metrics* last) {
    const auto& c = base_cfg(m);
    std::string j = "{\"dim\":" + std::to_string(c.dim) + ",\"layers\":" + std::to_string(c.layers) +
                    ",\"lr\":" + fmt("%.9g", c.lr) + ",\"reg\":" + fmt("%.9g", c.reg) +
                    ",\"batch\":" + std::to_string(c.batch) + ",\"seed\":" + std::to_string(c.seed) +
                    ",\"init_std\":" + fmt("%.9g", c.init_std) + ",\"epoch\":" + std::to_string(m.epoch) +
                    ",\"adam_t\":" + std::to_string(m.adam.t) + ",\"train_seconds\":" + fmt("%.3f", train_seconds);
    if (heads_of(m) > 0) j += ",\"heads\":" + std::to_string(heads_of(m));
    j += features_json(m.feat);
    if (avg.from > 0)
        j += ",\"average_from\":" + std::to_string(avg.from) + ",\"average_count\":" + std::to_string(avg.count);
    if (last && last->n_users > 0) j += ",\"metrics\":" + last->to_json();
    return j + "}";
}

// The scoring embeddings are the averaged model's when weight averaging is active; the state holds the
// iterate (what training continues from) and the averages.
template <typename Model>
void save_bpr_model(const Dataset& ds, Model& m, WeightAverage& avg, const std::string& kind, const std::string& path,
                    double train_seconds, const Metrics* last) {
    RecModel r = base_model(ds, kind);
    r.dim = base_cfg(m).dim;
    auto F = with_average(m, avg, [&] { return m.final_embeddings(); });
    const size_t split = size_t(m.U) * size_t(r.dim);
    r.user_emb.assign(F.begin(), F.begin() + int64_t(split));
    r.item_emb.assign(F.begin() + int64_t(split), F.end());
    r.state["params"].assign(param_vec(m).begin(), param_vec(m).end());
    r.state["adam_m"] = m.adam.m;
    r.state["adam_v"] = m.adam.v;
    if (m.feat.enabled()) {
        r.state["feat_W"] = m.feat.W;
        r.state["feat_adam_m"] = m.feat.adam.m;
        r.state["feat_adam_v"] = m.feat.adam.v;
    }
    if (avg.active()) {
        r.state["average_params"] = avg.params;
        if (m.feat.enabled()) r.state["average_feat_W"] = avg.feat_W;
    }
    r.config_json = model_config_json(m, avg, train_seconds, last);
    save_model(path, r);
}

// --keep-best: the Recall@20 that a model file's config records ("metrics"), -1 when the file does not exist or
// records none.
double best_recall_of(const std::string& path) {
    if (!file_exists(path)) return -1.0;
    const auto c = json::parse(load_model_config(path), path + " config");
    if (const auto* mt = c.find("metrics"))
        if (const auto* r = mt->find("recall@20")) return r->as_number("recall@20");
    return -1.0;
}

template <typename Model>
Metrics eval_bpr_model(const Dataset& ds, const Model& m) {
    auto F = m.final_embeddings();
    const int64_t D = base_cfg(m).dim;
    return evaluate_embeddings(F.data(), F.data() + m.U * D, m.U, m.I, D, ds.train, ds.test);
}

template <typename Model>
Metrics train_bpr(const Dataset& ds, const TrainOptions& opt) {
    const std::string log_path = opt.metrics_path.empty() ? opt.out + ".metrics.jsonl" : opt.metrics_path;
    const std::string curve_path = opt.curve_path.empty() ? opt.out + ".curve.svg" : opt.curve_path;
    const std::string loss_path = curve_path.size() > 10 && curve_path.substr(curve_path.size() - 10) == ".curve.svg"
                                      ? curve_path.substr(0, curve_path.size() - 10) + ".loss.svg"
                                      : curve_path + ".loss.svg";
    const bool has_test = ds.n_test() > 0;
    Model m;
    const std::string& kind = opt.model;
    const std::string title = kind == "lightgcn" ? "LightGCN" : kind == "gcn" ? "GCN" : "GAT";
    double train_seconds = 0;
    WeightAverage avg;
    avg.from = opt.average_from;
    NodeFeatures user_feat, item_feat;
    load_features(ds, opt, user_feat, item_feat);
    const bool features = user_feat.F > 0 || item_feat.F > 0;
    if (opt.resume && file_exists(opt.out)) {
        RecModel r = load_model(opt.out);
        TG_CHECK(r.kind == kind, opt.out, ": cannot resume a '", r.kind, "' model as ", kind);
        TG_CHECK(r.n_users == ds.n_users && r.n_items == ds.n_items && r.train.nnz() == ds.train.nnz(), opt.out,
                 ": checkpoint was trained on ", r.n_users, " users x ", r.n_items, " items (", r.train.nnz(),
                 " interactions), not on this data set (", ds.n_users, " x ", ds.n_items, ", ", ds.train.nnz(), ")");
        auto c = json::parse(r.config_json, opt.out + " config");
        LightGcnConfig cfg;
        cfg.dim = int(c.get_int("dim", 64));
        cfg.layers = int(c.get_int("layers", 3));
        cfg.lr = float(c.get_number("lr", 1e-3));
        cfg.reg = float(c.get_number("reg", 1e-4));
        cfg.batch = c.get_int("batch", 2048);
        cfg.seed = uint64_t(c.get_int("seed", 2020));
        cfg.init_std = float(c.get_number("init_std", 0.1));
        if (opt.override_lr && opt.cfg.lr != cfg.lr) {
            if (!opt.quiet) std::fprintf(stderr, "resume: learning rate %g -> %g\n", cfg.lr, opt.cfg.lr);
            cfg.lr = opt.cfg.lr;
        }
        if (opt.override_batch && opt.cfg.batch != cfg.batch) {
            if (!opt.quiet)
                std::fprintf(stderr, "resume: batch %lld -> %lld\n", (long long)cfg.batch, (long long)opt.cfg.batch);
            cfg.batch = opt.cfg.batch;
        }
        set_config(m, cfg, kind, int(c.get_int("heads", opt.heads)));
        m.build_graph(ds.train);
        const size_t NP = r.state.count("params") ? r.state["params"].size() : 0;
        TG_CHECK(NP > 0, opt.out, ": checkpoint has no training state (was it saved by `train`?)");
        for (const char* s : {"adam_m", "adam_v"})
            TG_CHECK(r.state.count(s) && r.state[s].size() == NP, opt.out, ": checkpoint state '", s,
                     "' does not match the ", NP, " parameters");
        param_vec(m).assign(r.state["params"].begin(), r.state["params"].end());
        m.adam.lr = cfg.lr;
        m.adam.m = r.state["adam_m"];
        m.adam.v = r.state["adam_v"];
        m.adam.t = c.get_int("adam_t", 0);
        m.epoch = c.get_int("epoch", 0);
        if (features) m.set_features(std::move(user_feat), std::move(item_feat));
        check_resume_features(c, m.feat, opt.out);
        if (features) {
            const size_t NW = size_t(m.feat.size());
            for (const char* s : {"feat_W", "feat_adam_m", "feat_adam_v"})
                TG_CHECK(r.state.count(s) && r.state[s].size() == NW, opt.out, ": checkpoint state '", s,
                         "' does not match the ", NW, " feature-projection weights");
            m.feat.W = r.state["feat_W"];
            m.feat.adam.m = r.state["feat_adam_m"];
            m.feat.adam.v = r.state["feat_adam_v"];
            m.feat.adam.t = m.adam.t;  // the two Adams step together
        }
        train_seconds = c.get_number("train_seconds", 0);
        // Weight averaging continues from the checkpoint unless --average-from names another start.
        const int64_t saved_from = c.get_int("average_from", 0), saved_count = c.get_int("average_count", 0);
        if (!opt.override_average || opt.average_from == saved_from) {
            avg.from = saved_from;
            avg.count = saved_count;
            if (avg.count > 0) {
                TG_CHECK(r.state.count("average_params") && r.state["average_params"].size() == NP, opt.out,
                         ": checkpoint averages ", avg.count, " epochs but its state 'average_params' does not",
                         " match the ", NP, " parameters");
                avg.params = std::move(r.state["average_params"]);
                if (features) {
                    TG_CHECK(r.state.count("average_feat_W") && r.state["average_feat_W"].size() == m.feat.W.size(),
                             opt.out, ": checkpoint state 'average_feat_W' does not match the feature projection");
                    avg.feat_W = std::move(r.state["average_feat_W"]);
                }
            }
        } else if (!opt.quiet) {
            const std::string now = opt.average_from > 0 ? str("from epoch ", opt.average_from) : std::string("off");
            if (saved_from > 0)
                std::fprintf(stderr, "resume: weight averaging %s (was from epoch %lld, %lld epochs averaged: dropped)\n",
                             now.c_str(), (long long)saved_from, (long long)saved_count);
            else
                std::fprintf(stderr, "resume: weight averaging %s\n", now.c_str());
        }
        if (!opt.quiet)
            std::fprintf(stderr, "resuming %s at epoch %lld (hyperparameters from the checkpoint unless overridden)\n", opt.out.c_str(),
                     (long long)m.epoch);
    } else {
        init_model(m, ds.train, opt);
        if (features) m.set_features(std::move(user_feat), std::move(item_feat));
    }
    MetricsLog log(log_path, !opt.resume);
    Metrics last;
    const std::string best_path = opt.out + ".best";
    double best_recall = opt.keep_best && opt.resume ? best_recall_of(best_path) : -1.0;
    const auto wall0 = Clock::now();
    const int64_t nb = m.batches_per_epoch();
    if (!opt.quiet)
        std::printf("%s: %lld users, %lld items, %lld interactions; dim %d, %d layers, batch %lld (%lld "
                    "batches/epoch), lr %g, reg %g\n",
                    kind.c_str(), (long long)m.U, (long long)m.I, (long long)m.R.nnz(), base_cfg(m).dim,
                    base_cfg(m).layers, (long long)base_cfg(m).batch, (long long)nb, base_cfg(m).lr, base_cfg(m).reg);
    while (m.epoch < opt.epochs) {
        const auto t0 = Clock::now();
        ProgressBar bar(str("epoch ", m.epoch + 1, "/", opt.epochs), nb);
        double loss = 0;
        for (int64_t b = 0; b < nb; b++) {
            loss += m.train_batch(b);
            bar.update(b + 1, fmt("loss %.4f", loss / double(b + 1)));
        }
        bar.clear();
        m.epoch++;
        const double ep_s = since(t0);
        train_seconds += ep_s;
        std::string line = "{\"epoch\":" + std::to_string(m.epoch) + ",\"loss\":" + fmt("%.6f", loss / double(nb)) +
                           ",\"epoch_seconds\":" + fmt("%.3f", ep_s) + ",\"train_seconds\":" + fmt("%.3f", train_seconds);
        const bool out_of_time = opt.max_minutes > 0 && since(wall0) > opt.max_minutes * 60;
        const bool final_epoch = m.epoch >= opt.epochs || out_of_time;
        const bool eval_now = has_test && ((opt.eval_every > 0 && m.epoch % opt.eval_every == 0) || final_epoch);
        avg.add(m, m.epoch);
        Metrics iterate;  // with averaging on: the current parameters' own metrics, logged beside
        if (eval_now) {
            last = with_average(m, avg, [&] { return eval_bpr_model(ds, m); });
            line += "," + metrics_fields(last);
            if (avg.active()) {
                iterate = eval_bpr_model(ds, m);
                line += ",\"averaged_epochs\":" + std::to_string(avg.count) + ",\"iterate_recall@20\":" +
                        fmt("%.6f", iterate.get("recall", 20)) + ",\"iterate_ndcg@20\":" +
                        fmt("%.6f", iterate.get("ndcg", 20));
            }
        }
        log.write(line + "}");
        if (!opt.quiet) {
            std::printf("epoch %lld  loss %.4f  %.1fs", (long long)m.epoch, loss / double(nb), ep_s);
            if (eval_now) std::printf("  recall@20 %.4f  ndcg@20 %.4f  (eval %.1fs)", last.get("recall", 20),
                                      last.get("ndcg", 20), last.seconds);
            if (eval_now && avg.active())
                std::printf("  [average of %lld epochs; iterate %.4f / %.4f]", (long long)avg.count,
                            iterate.get("recall", 20), iterate.get("ndcg", 20));
            std::printf("\n");
            std::fflush(stdout);
        }
        if (eval_now && opt.keep_best && last.get("recall", 20) > best_recall) {
            best_recall = last.get("recall", 20);
            save_bpr_model(ds, m, avg, kind, best_path, train_seconds, &last);
        }
        if (final_epoch || (opt.save_every > 0 && m.epoch % opt.save_every == 0)) {
            save_bpr_model(ds, m, avg, kind, opt.out, train_seconds, eval_now ? &last : nullptr);
            draw_curves(log_path, curve_path, loss_path, title);
        }
        if (out_of_time) {
            std::fprintf(stderr, "stopping after %.1f minutes (--max-minutes); continue with --resume\n",
                         since(wall0) / 60);
            break;
        }
    }
    if (last.n_users == 0 && has_test) last = with_average(m, avg, [&] { return eval_bpr_model(ds, m); });
    return last;
}

Metrics train_closed_form(const Dataset& ds, const TrainOptions& opt) {
    RecModel r = base_model(ds, opt.model);
    const auto t0 = Clock::now();
    std::string cfg;
    if (opt.model == "svd") {
        const int64_t k = opt.cfg.dim;
        std::vector<double> sig;
        puresvd_factors(ds.train, k, opt.svd_oversample, opt.svd_power_iters, opt.cfg.seed, r.user_emb, r.item_emb,
                        &sig);
        r.dim = k;
        cfg = "{\"rank\":" + std::to_string(k) + ",\"oversample\":" + std::to_string(opt.svd_oversample) +
              ",\"power_iters\":" + std::to_string(opt.svd_power_iters) + ",\"seed\":" + std::to_string(opt.cfg.seed) +
              ",\"sigma_1\":" + fmt("%.6f", sig.front()) + ",\"sigma_k\":" + fmt("%.6f", sig.back());
    } else {
        popularity_factors(ds.train, r.user_emb, r.item_emb);
        r.dim = 1;
        cfg = "{";
    }
    const double fit_s = since(t0);
    if (cfg.size() > 1) cfg += ",";
    cfg += "\"train_seconds\":" + fmt("%.3f", fit_s);
    Metrics last;
    if (ds.n_test() > 0) {
        last = evaluate_embeddings(r.user_emb.data(), r.item_emb.data(), r.n_users, r.n_items, r.dim, ds.train, ds.test);
        cfg += ",\"metrics\":" + last.to_json();
    }
    r.config_json = cfg + "}";
    save_model(opt.out, r);
    const std::string log_path = opt.metrics_path.empty() ? opt.out + ".metrics.jsonl" : opt.metrics_path;
    MetricsLog log(log_path, true);
    log.write("{\"epoch\":1,\"train_seconds\":" + fmt("%.3f", fit_s) +
              (last.n_users > 0 ? "," + metrics_fields(last) : std::string()) + "}");
    if (!opt.quiet) std::printf("%s: fitted in %.2fs\n", opt.model.c_str(), fit_s);
    return last;
}

}  // namespace

Metrics train_model(const Dataset& ds, const TrainOptions& opt) {
    TG_CHECK(!opt.out.empty(), "train: an output model file is required (-o FILE)");
    TG_CHECK(ds.train.nnz() > 0, "train: ", ds.source, " has no training interactions");
    if (opt.model == "lightgcn") return train_bpr<LightGcn>(ds, opt);
    if (opt.model == "gcn" || opt.model == "gat") return train_bpr<Gnn>(ds, opt);
    if (opt.model == "svd" || opt.model == "pop") {
        TG_CHECK(!opt.user_features.given() && !opt.item_features.given(), "train: node features are for lightgcn, ",
                 "gcn and gat; ", opt.model, " does not use them");
        TG_CHECK(opt.average_from == 0 && !opt.keep_best, "train: --average-from (weight averaging) and --keep-best "
                 "are for lightgcn, gcn and gat; ", opt.model, " is fitted in closed form");
        return train_closed_form(ds, opt);
    }
    TG_FAIL("train: unknown model '", opt.model, "' (expected lightgcn, gcn, gat, svd or pop)");
}

Metrics evaluate_model_file(const std::string& model_path, const std::vector<std::vector<int32_t>>& test,
                            const std::vector<int>& ks) {
    RecModel m = load_model(model_path);
    TG_CHECK(int64_t(test.size()) <= m.n_users, "eval: the test split has ", test.size(),
             " users but the model knows ", m.n_users, " (", model_path, ")");
    return evaluate_embeddings(m.user_emb.data(), m.item_emb.data(), m.n_users, m.n_items, m.dim, m.train, test, ks);
}

}  // namespace tg::graph
