// cmd_train.cpp — `tastegraph train`: fit a recommender on an interest graph or a LightGCN split.
//
// Maps options onto graph::TrainOptions; the library (src/graph/trainer.h) does the work: progress bar,
// per-epoch metrics, metrics.jsonl, SVG curves, atomic checkpoints and --resume.
#include <cstdio>
#include <string>

#include "cli.h"
#include "graph/dataset.h"
#include "graph/trainer.h"
#include "tensor/common.h"

namespace {

using namespace tg::graph;

const char* kHelp =
    R"(usage: tastegraph train (--graph FILE | --data DIR) --model MODEL [options] -o MODEL_FILE

Train a recommender and write MODEL_FILE (safetensors: embeddings, id maps, training items to mask,
and for LightGCN the full training state). With a test split, metrics are printed per epoch.

input:
  --graph FILE        graph file from `tastegraph graph build` (or a LightGCN directory)
  --data DIR          LightGCN split directory (train.txt + test.txt)
model:
  --model M           lightgcn | gcn | gat | svd | pop
  --dim N             embedding width / SVD rank (default 64)
  --layers K          LightGCN propagation layers (default 3)
  --epochs N          total epochs (default 100; --resume continues up to N)
  --lr X              Adam learning rate (default 0.001)
  --batch B           BPR triples per batch (default 2048)
  --reg X             L2 weight on the batch's ego embeddings (default 1e-4)
  --seed S            initialization and sampling seed (default 2020)
  --heads H           GAT attention heads (default 4; dim must be a multiple)
  --power-iters Q     PureSVD: at most Q block-Krylov steps (default 0: until the singular values
                      settle to 1e-14); --oversample P extra Ritz vectors (default 16)
node features (lightgcn, gcn, gat; the ego embedding becomes e + x W, W [F, dim] learned):
  --item-features F.npy      float32 [rows, F] item features, e.g. from `tastegraph embed`
  --item-feature-ids FILE    original item id of each row, in row order: .txt (one per line),
                             .csv/.tsv (column --feature-id-column) or .jsonl (that field)
  --user-features F.npy, --user-feature-ids FILE   the same for users
  --feature-id-column NAME   id column / field (default item_id for items, user_id for users)
                             Rows whose id is not in the graph are ignored and graph nodes without a
                             row get zero features (both counted). --resume needs the same files.
training:
  --eval-every N      evaluate on the test split every N epochs (default 1; 0 = at the end only)
  --save-every N      checkpoint every N epochs (default 1)
  --max-minutes X     stop cleanly after X minutes (checkpoint written); continue with --resume
  --resume            continue from MODEL_FILE (bit-identical to an uninterrupted run); hyper-
                      parameters come from the checkpoint, except --lr and --batch when given:
                      those take effect from the next epoch (a learning-rate schedule by sittings)
  --average-from E    weight averaging (SWA): from epoch E on, keep the mean of the parameters after
                      each epoch and evaluate and save that averaged model (the iterate's own
                      Recall/NDCG@20 are logged beside); with --resume, continues the checkpoint's
                      average unless E differs (then it restarts; 0 turns it off)
  --keep-best         also keep MODEL_FILE.best: the checkpoint at the evaluation with the highest
                      Recall@20 so far (with --resume, it must be beaten again); eval, recommend and
                      --resume take it like any model file
  --metrics FILE      metrics log (default MODEL_FILE.metrics.jsonl)
  --curve FILE        SVG curve (default MODEL_FILE.curve.svg; loss in MODEL_FILE.loss.svg)
  --threads N         worker threads (default: all cores, or TG_THREADS)
)";

int cmd_train(tg::cli::Args& a) {
    if (a.help()) {
        std::fputs(kHelp, stdout);
        return 0;
    }
    tg::cli::apply_threads(a);
    auto graph = a.value({"--graph"});
    auto data = a.value({"--data"});
    TrainOptions o;
    o.model = a.required({"--model", "-m"});
    o.out = a.required({"-o", "--out"});
    o.cfg.dim = int(a.int_or({"--dim"}, 64));
    o.cfg.layers = int(a.int_or({"--layers"}, 3));
    o.epochs = a.int_or({"--epochs"}, 100);
    o.override_lr = a.given({"--lr"});
    o.override_batch = a.given({"--batch"});
    o.cfg.lr = float(a.double_or({"--lr"}, 1e-3));
    o.cfg.batch = a.int_or({"--batch"}, 2048);
    o.cfg.reg = float(a.double_or({"--reg"}, 1e-4));
    o.cfg.seed = uint64_t(a.int_or({"--seed"}, 2020));
    o.heads = int(a.int_or({"--heads"}, 4));
    o.svd_power_iters = int(a.int_or({"--power-iters"}, 0));
    o.svd_oversample = int(a.int_or({"--oversample"}, 16));
    const auto id_column = a.value({"--feature-id-column"});
    o.item_features = {a.value_or({"--item-features"}, ""), a.value_or({"--item-feature-ids"}, ""),
                       id_column.value_or("item_id")};
    o.user_features = {a.value_or({"--user-features"}, ""), a.value_or({"--user-feature-ids"}, ""),
                       id_column.value_or("user_id")};
    o.eval_every = a.int_or({"--eval-every"}, 1);
    o.save_every = a.int_or({"--save-every"}, 1);
    o.max_minutes = a.double_or({"--max-minutes"}, 0);
    o.resume = a.flag({"--resume"});
    o.override_average = a.given({"--average-from"});
    o.average_from = a.int_or({"--average-from"}, 0);
    o.keep_best = a.flag({"--keep-best"});
    o.metrics_path = a.value_or({"--metrics"}, "");
    o.curve_path = a.value_or({"--curve"}, "");
    a.finish();
    TG_CHECK(graph.has_value() != data.has_value(), "give exactly one of --graph FILE or --data DIR");
    for (const auto* f : {&o.item_features, &o.user_features})
        TG_CHECK(f->npy.empty() == f->ids.empty(), "give --", f == &o.item_features ? "item" : "user",
                 "-features and --", f == &o.item_features ? "item" : "user", "-feature-ids together");
    TG_CHECK(o.cfg.dim > 0 && o.cfg.layers >= 0 && o.cfg.batch > 0 && o.epochs >= 0 && o.cfg.lr > 0 &&
                 o.average_from >= 0,
             "--dim, --batch and --lr must be positive, --layers, --epochs and --average-from non-negative");
    Dataset ds = load_dataset(graph ? *graph : *data);
    std::printf("data: %s: %d users, %d items, %lld train, %lld test interactions\n", ds.source.c_str(), ds.n_users,
                ds.n_items, (long long)ds.n_train(), (long long)ds.n_test());
    Metrics m = train_model(ds, o);
    if (m.n_users > 0) std::printf("\n%s", m.table().c_str());
    std::printf("model written to %s\n", o.out.c_str());
    return 0;
}

}  // namespace

TG_COMMAND("train", "train a recommender (LightGCN, GCN, GAT, PureSVD, popularity) on a graph or LightGCN split", cmd_train);
