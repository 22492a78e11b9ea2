// cmd_eval.cpp — `tastegraph eval`: full-ranking Recall/NDCG/Precision/HR@{10,20,50} of a model file.
#include <cstdio>
#include <string>

#include "cli.h"
#include "graph/dataset.h"
#include "graph/trainer.h"
#include "tensor/common.h"

namespace {

using namespace tg::graph;

const char* kHelp =
    R"(usage: tastegraph eval --model MODEL_FILE (--test FILE | --data DIR) [--json]

Rank every item for every user with test items (the user's training items, stored in the model file,
are masked) and report Recall, NDCG, Precision and HR at K = 10, 20, 50, defined as in the LightGCN
authors' code (metrics averaged over users with a non-empty test set).

  --test FILE   held-out items in LightGCN format ("user item item ...", dense ids as in the model;
                `tastegraph graph export` writes it)
  --data DIR    a LightGCN directory: its test.txt
  --json        print one JSON object: {"recall@20": ..., "ndcg@20": ..., ...}
  --threads N   worker threads
)";

int cmd_eval(tg::cli::Args& a) {
    if (a.help()) {
        std::fputs(kHelp, stdout);
        return 0;
    }
    tg::cli::apply_threads(a);
    const std::string model = a.required({"--model", "-m"});
    auto test = a.value({"--test"});
    auto data = a.value({"--data"});
    const bool as_json = a.flag({"--json"});
    a.finish();
    TG_CHECK(test.has_value() != data.has_value(), "give exactly one of --test FILE or --data DIR");
    std::vector<std::vector<int32_t>> lists;
    if (test) {
        int32_t mu = -1, mi = -1;
        lists = read_lightgcn_file(*test, &mu, &mi);
    } else {
        lists = load_lightgcn_dir(*data).test;
    }
    Metrics m = evaluate_model_file(model, lists);
    if (as_json) std::printf("%s\n", m.to_json().c_str());
    else std::printf("%s", m.table().c_str());
    return 0;
}

}  // namespace

TG_COMMAND("eval", "evaluate a model file: Recall/NDCG/Precision/HR@K with full ranking", cmd_eval);
