// finetune.h — multi-task fine-tuning of a BERT encoder (`tastegraph finetune` / `predict`).
//
// One BertTrainable encoder, one head per task (nn/heads.h), losses combined by a LossBalancer; optionally
// (--grad-surgery pcgrad) the tasks' gradients at the pooled vector are de-conflicted before they reach
// the encoder (heads.h pcgrad). Tasks are
// given as NAME:KIND:COLUMN[:WEIGHT]:
//   softmax     COLUMN holds a class label (any string); classes = the train file's distinct values, sorted
//               by code point (so the shopping CSV's `cat` gets the ids of tools/ref/finetune_reference.py)
//   multilabel  COLUMN holds labels separated by '|'; classes as above
//   binary      COLUMN holds 0/1
//   regression  COLUMN holds a number
//   similarity  COLUMN holds a second text; InfoNCE (τ = 0.05) between the two texts' pooled vectors
//               (one similarity task per run)
//   mlm         COLUMN is ignored (use the text column); 15% of the tokens masked 80/10/10
// Pooling: the model's sentence-transformers pooling when it has one, else CLS (as the reference's `auto`).
//
// Training loop (the reference's semantics, tools/ref/finetune_reference.py header): every epoch a
// permutation of the training rows (Philox, seed + epoch) is cut into chunks of batch·50 rows, each chunk
// sorted by token count (stable), cut into batches, and the batch order shuffled; each batch padded to its
// longest row. AdamW (decay on matrices and embeddings only), linear warm-up then linear decay, global-norm
// clipping, optional gradient accumulation. After every epoch: valid metrics (accuracy + macro-F1 for
// softmax/binary/multilabel, AUC for binary, RMSE for regression, loss and top-1 accuracy on the masked
// positions for masked-LM), one line in metrics.jsonl, the curve
// (curves.svg), and the checkpoint when the selection metric improved (model.safetensors, atomic).
// Early stopping after `patience` epochs without improvement. report.json holds the best epoch's metrics.
// After every epoch the whole training state (parameters, Adam moments, counters) goes to
// OUT/state.safetensors (atomic); --resume continues from it. Batch order, dropout masks and MLM masks are
// functions of (seed, epoch, step), so a resumed run computes exactly what an uninterrupted one does.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "nn/heads.h"

namespace tg::nn {

struct TaskSpec {
    std::string name;
    TaskKind kind = TaskKind::softmax;
    std::string column;
    float weight = 1.0f;
};
TaskSpec parse_task_spec(const std::string& s);  // "NAME:KIND:COLUMN[:WEIGHT]", throws naming the problem

// A CSV/TSV (header row) or JSONL file as named string columns; `limit` > 0 keeps the first rows only.
struct Table {
    std::vector<std::string> names;
    std::vector<std::vector<std::string>> cols;  // cols[c][row]
    int64_t rows = 0;
    const std::vector<std::string>& col(const std::string& name, const std::string& path) const;
};
Table read_table(const std::string& path, int64_t limit = 0);

struct FinetuneOptions {
    std::string model_dir, train, valid, out, text_col = "text";
    std::vector<TaskSpec> tasks;
    int64_t limit = 0, epochs = 3, batch = 32, max_len = 128, accum = 1, patience = 0;
    double lr = 5e-5, warmup = 0.1, clip = 1.0, wd = 0.01;
    std::string surgery = "none";  // "pcgrad": de-conflict the tasks' gradients at the pooled vector (heads.h pcgrad)
    std::string balance = "fixed", metric;  // metric: e.g. "category.macro_f1" (default: mean valid score); *.rmse, *.loss minimized
    bool freeze_encoder = false;
    bool recompute = false;   // activation checkpointing per encoder layer (BertTrainable::recompute)
    bool resume = false;      // continue from OUT/state.safetensors (bit-identical to an uninterrupted run)
    int64_t stop_after = 0;   // stop after this epoch as if interrupted (tests of --resume); 0 = never
    uint64_t seed = 42;
};

// Trains and writes OUT/{finetune.json, model.safetensors, metrics.jsonl, curves.svg, report.json}.
void run_finetune(const FinetuneOptions& o);

// Loads a run folder and writes one JSON line per input row: each task's prediction and the embedding.
void run_predict(const std::string& run_dir, const std::string& input, const std::string& output,
                 const std::string& text_col, int64_t limit);

// AdamW with inspectable state. The core's nn::AdamW (optim.h, verified against torch.optim) keeps its
// moments private; a resumable run must save them, so the fine-tuning loop uses this twin with the same
// update (PyTorch's: per-parameter step counts, parameters without a gradient skipped):
//   p *= 1 - lr·wd;  m = β1 m + (1-β1) g;  v = β2 v + (1-β2) g²;  p -= lr/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + ε)
// tests/test_heads.cpp checks it against nn::AdamW step for step.
struct AdamWState {
    AdamWState(const std::vector<std::pair<std::string, Tensor>>& params, float weight_decay);
    void step(float lr);
    std::vector<Tensor> params, m, v;
    std::vector<std::string> names;  // full parameter names (state-file keys)
    std::vector<int64_t> t;
    float wd = 0, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
};

// Metrics (exposed for tests). macro-F1 averages the per-class F1 over the classes present in the truth
// or the predictions (scikit-learn's convention); AUC is Mann–Whitney with average ranks (NaN: one class).
double macro_f1(const std::vector<int64_t>& y, const std::vector<int64_t>& p, int64_t K);
double roc_auc(const std::vector<int64_t>& y, const std::vector<double>& score);

}  // namespace tg::nn
