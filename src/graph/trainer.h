// trainer.h — train a recommender on a Dataset: epochs, evaluation, metrics log, curves, checkpoints.
//
// train_model() is what `tastegraph train` runs:
//   lightgcn, gcn, gat   epoch loop: batches of BPR triples, a progress bar on
//              stderr, one metrics.jsonl line per epoch ({"epoch", "loss", "epoch_seconds",
//              "train_seconds", and the test metrics every eval_every epochs}), the SVG curves redrawn
//              from the whole log, and the model file rewritten atomically every save_every epochs
//              with the full training state (parameters, Adam moments and step, epoch, config).
//              average_from > 0 adds stochastic weight averaging (see TrainOptions).
//              resume = true continues from that file: sampling is keyed by (seed, epoch, sample), so
//              a resumed run is bit-identical to an uninterrupted one. With node features, the
//              projection W and its Adam moments are state too (state.feat_W, state.feat_adam_m/v).
//   svd, pop   closed form: computed once, evaluated, saved.
// Every model file also carries the id maps and the training items (model_io.h), so `eval` and
// `recommend` need nothing else.
#pragma once
#include <cstdint>
#include <string>

#include "graph/dataset.h"
#include "graph/lightgcn.h"
#include "graph/metrics.h"
#include "graph/node_features.h"

namespace tg::graph {

struct TrainOptions {
    std::string model = "lightgcn";  // lightgcn | gcn | gat | svd | pop
    LightGcnConfig cfg;              // dim (also the SVD rank), layers, lr, reg, batch, seed
    int64_t epochs = 100;            // total epochs (a resumed run continues up to this number)
    int64_t eval_every = 1;          // evaluate on the test split every N epochs (0 = only at the end)
    int64_t save_every = 1;          // checkpoint every N epochs (and always at the end)
    double max_minutes = 0;          // stop cleanly (checkpoint saved) after this wall time; 0 = no limit
    int heads = 4;                   // GAT attention heads
    // Optional node features for lightgcn/gcn/gat (node_features.h): E0 = E + X W. Not stored in the
    // model file (only W and a checksum of the aligned X): --resume needs the same files again.
    FeatureSpec user_features, item_features;
    int svd_oversample = 16;   // PureSVD: extra Krylov vectors carried into the Rayleigh–Ritz step
    int svd_power_iters = 0;   // PureSVD: cap on block-Krylov steps (0 = until the singular values settle)
    std::string out;                 // model file (required)
    std::string metrics_path;        // default: out + ".metrics.jsonl"
    std::string curve_path;          // default: out + ".curve.svg" (loss: out + ".loss.svg")
    bool resume = false;
    // On resume, hyperparameters come from the checkpoint, except these when set: cfg.lr / cfg.batch
    // then take effect from the next epoch (a schedule run in sittings; sampling is keyed by epoch
    // and sample index, so a new batch size needs no sampler state).
    bool override_lr = false, override_batch = false;
    // Weight averaging (SWA): from this epoch on (0 = off), the running mean of the parameters after each
    // epoch is kept (state.average_*) and is the model that is evaluated and saved for scoring; the
    // iterate's own Recall/NDCG@20 are logged beside. On resume the checkpoint's setting continues unless
    // override_average is set with a different epoch, which restarts the mean (or turns it off with 0).
    int64_t average_from = 0;
    bool override_average = false;
    // Also keep out + ".best": the whole checkpoint (resumable, scorable) as it was at the evaluation with the
    // highest Recall@20 so far, written atomically when an evaluation beats it. On resume the bar is the Recall@20
    // stored in that file, so the best survives sittings; a fresh run starts a new one. (A long run's best
    // evaluation is otherwise overwritten by the next epoch's checkpoint.)
    bool keep_best = false;
    bool quiet = false;              // no per-epoch lines on stdout
};

// Returns the last evaluation (n_users == 0 if the dataset has no test split).
Metrics train_model(const Dataset& ds, const TrainOptions& opt);

// Evaluate a saved model (its embeddings and training-item masks) on per-user test lists.
Metrics evaluate_model_file(const std::string& model_path, const std::vector<std::vector<int32_t>>& test,
                            const std::vector<int>& ks = default_ks());

}  // namespace tg::graph
