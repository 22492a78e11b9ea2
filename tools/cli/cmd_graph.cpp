// cmd_graph.cpp — `tastegraph graph build|info|export`: behaviour logs -> interest graph file, and back.
//
// The library does the work (src/graph/ingest.h, graph_build.h, graph_io.h); this file maps options to
// IngestOptions / BuildOptions and prints summaries.
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>

#include "cli.h"
#include "graph/dataset.h"
#include "graph/graph_build.h"
#include "graph/graph_io.h"
#include "graph/ingest.h"
#include "tensor/common.h"
#include "tensor/json.h"

namespace {

using namespace tg::graph;

const char* kHelp =
    R"(usage: tastegraph graph build --log FILE [options] -o GRAPH
       tastegraph graph build --data LIGHTGCN_DIR -o GRAPH
       tastegraph graph info GRAPH [--json]
       tastegraph graph export GRAPH DIR

build   read a behaviour log (and optional item side data), split it per user by time, weight and
        aggregate the interactions, add category/brand/co-occurrence relations, and save the interest
        graph atomically (versioned binary file with a checksum; see src/graph/graph_io.h).
info    print a graph file's node and edge counts and how it was built.
export  write users.csv, items.csv (id maps and side data) and train.txt/test.txt (the split in the
        LightGCN format, dense ids: what `tastegraph eval --test` reads) into DIR.

input (build):
  --log FILE              interaction log (repeatable; all files share one id space)
  --format F              csv | tsv | jsonl | taobao | lightgcn (default: from the extension; taobao =
                          Tianchi UserBehavior: no header, user,item,category,behaviour,timestamp)
  --data DIR              a LightGCN split directory (train.txt + test.txt): same as --log DIR
                          --format lightgcn; the split is taken as it is
  --user-col NAME         user id column / JSON field (default user_id)
  --item-col NAME         item id column (default item_id)
  --event-col NAME        event type column (default event; if absent every row is type "event")
  --time-col NAME         time column, Unix seconds or ISO-8601 UTC (default timestamp; if absent,
                          file order stands in for time)
  --weight-col NAME       optional per-row weight column (multiplies the event weight)
  --category-col NAME     optional item category column inside the log
  --items FILE            item side data (csv/tsv/jsonl) with columns item_id, category, brand, title
  --items-format F        csv | tsv | jsonl (default: from the extension)
  --items-id-col NAME     item id column of the side file (default: --item-col)
  --skip-bad              skip malformed rows (counted and reported) instead of stopping at the first

graph (build):
  --event-weights SPEC    event type weights (default pv=1,fav=2,cart=3,buy=4,*=1; '*' = any other type;
                          without '*', any other type is a bad row). Weight 0 drops a type.
  --half-life DAYS        exponential time decay 0.5^(age/half-life), age relative to the newest event
                          (default 0 = no decay)
  --agg sum|max           how repeated events on one (user, item) pair combine (default sum)
  --cooc-window SECONDS   add item-item co-occurrence edges for items a user touched within this window
                          (default 0 = none); --cooc-max-pairs N bounds pairs per event (default 20)

  --kcore N               keep only the N-core: repeatedly drop items fewer than N users touched and
                          users who touched fewer than N items (the usual benchmark preprocessing;
                          default 0 = keep everything)

split (build): each user's distinct items are ordered by the time the user first touched them; the
last ceil(ratio * n) (or the last N) go to test, all their events leave train; a user always keeps at
least one training item, and users with fewer than --min-user-items distinct items are not split.
  --test-ratio R          (default 0.2; 0 = no test split)
  --test-last N           hold out exactly the last N distinct items instead
  --min-user-items N      (default 3)

output:
  -o, --output GRAPH      the graph file (written atomically)
  --export DIR            also write the tables (as `graph export`)

examples:
  tastegraph gen-shop -o demo_out/shop
  tastegraph graph build --log demo_out/shop/events.csv --items demo_out/shop/items.csv \
      --half-life 14 --cooc-window 3600 -o demo_out/shop.tgg
  tastegraph graph build --log ../shared/data/taobao-userbehavior-prefix/UserBehavior_prefix.csv \
      --format taobao -o taobao.tgg
  tastegraph graph info demo_out/shop.tgg
)";

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int graph_build(tg::cli::Args& a) {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::string> logs = a.values({"--log"});
    auto data_dir = a.value({"--data"});
    std::string format = a.value_or({"--format"}, "");
    IngestOptions io;
    if (auto v = a.value({"--user-col"})) io.user_col = *v;
    if (auto v = a.value({"--item-col"})) io.item_col = *v;
    if (auto v = a.value({"--event-col"})) io.event_col = *v, io.event_col_explicit = true;
    if (auto v = a.value({"--time-col"})) io.time_col = *v, io.time_col_explicit = true;
    io.weight_col = a.value_or({"--weight-col"}, "");
    io.category_col = a.value_or({"--category-col"}, "");
    auto items = a.value({"--items"});
    ItemSideOptions so;
    so.format = a.value_or({"--items-format"}, "");
    so.item_col = a.value_or({"--items-id-col"}, io.item_col);
    io.skip_bad = so.skip_bad = a.flag({"--skip-bad"});

    BuildOptions bo;
    auto ew = a.value({"--event-weights"});
    bo.event_weights = EventWeights::parse(ew ? *ew : "pv=1,fav=2,cart=3,buy=4,*=1");
    if (bo.event_weights.fallback < 0)
        for (auto& [name, _] : bo.event_weights.table) io.known_event_types.push_back(name);
    bo.half_life_days = a.double_or({"--half-life"}, 0);
    std::string agg = a.value_or({"--agg"}, "sum");
    TG_CHECK(agg == "sum" || agg == "max", "--agg: expected sum or max, got '", agg, "'");
    bo.agg = agg == "sum" ? DupAgg::Sum : DupAgg::Max;
    bo.cooc_window_s = a.int_or({"--cooc-window"}, 0);
    bo.cooc_max_pairs = int32_t(a.int_or({"--cooc-max-pairs"}, 20));
    bo.test_ratio = a.double_or({"--test-ratio"}, 0.2);
    bo.test_last_n = int32_t(a.int_or({"--test-last"}, 0));
    bo.min_user_items = int32_t(a.int_or({"--min-user-items"}, 3));
    int64_t kcore = a.int_or({"--kcore"}, 0);
    auto out = a.value({"-o", "--output"});
    auto export_dir = a.value({"--export"});
    auto pos = a.positional();  // options are consumed, so these are real positionals: just "build"
    TG_CHECK(pos.size() == 1, "graph build: unexpected argument '", pos.size() > 1 ? pos[1] : "", "'");
    a.finish();
    TG_CHECK(out, "graph build: missing -o GRAPH (see --help)");
    if (data_dir) {
        logs.push_back(*data_dir);
        format = "lightgcn";
    }
    TG_CHECK(!logs.empty(), "graph build: no input; give --log FILE or --data DIR (see --help)");

    InterestGraph g;
    if (format == "lightgcn") {
        TG_CHECK(logs.size() == 1 && !items, "graph build: a LightGCN directory is read alone (one --data DIR, no --items)");
        g.data = load_lightgcn_dir(logs[0]);
        std::string m;
        tg::json::write_string(m, logs[0]);
        g.meta_json = "{\"sources\":" + m + ",\"split\":\"as given (LightGCN train.txt/test.txt)\"}";
        std::printf("read LightGCN split %s\n", logs[0].c_str());
    } else {
        EventLog log;
        for (auto& path : logs) {
            IngestOptions o = io;
            o.format = format;
            size_t before = log.events.size();
            int64_t bad_before = log.bad_rows;
            read_event_log(path, o, log);
            std::printf("read %zu events from %s", log.events.size() - before, path.c_str());
            if (log.bad_rows > bad_before) std::printf(" (%lld bad rows skipped)", (long long)(log.bad_rows - bad_before));
            std::printf("\n");
        }
        if (items) {
            int64_t bad_before = log.bad_rows;
            read_item_side(*items, so, log);
            std::printf("read item side data from %s (%lld rows for items not in the log ignored", items->c_str(),
                        (long long)log.side_rows_unmatched);
            if (log.bad_rows > bad_before) std::printf(", %lld bad rows skipped", (long long)(log.bad_rows - bad_before));
            std::printf(")\n");
        }
        for (auto& m : log.bad_examples) std::printf("  skipped: %s\n", m.c_str());
        if (log.bad_rows > int64_t(log.bad_examples.size()))
            std::printf("  ... %lld bad rows in all\n", (long long)log.bad_rows);
        if (kcore > 1) {
            int32_t u0 = log.users.size(), i0 = log.items.size();
            size_t e0 = log.events.size();
            log = kcore_filter(log, int32_t(kcore));
            std::printf("%lld-core: kept %d of %d users, %d of %d items, %zu of %zu events\n", (long long)kcore,
                        log.users.size(), u0, log.items.size(), i0, log.events.size(), e0);
        }
        g = build_graph(log, bo);
    }
    save_graph(*out, g);
    std::fputs(graph_summary(g).c_str(), stdout);
    if (export_dir) {
        export_graph_tables(g, *export_dir);
        std::printf("tables written to %s/ (users.csv, items.csv, train.txt, test.txt)\n", export_dir->c_str());
    }
    std::printf("wrote %s in %.2f s\n", out->c_str(), seconds_since(t0));
    return 0;
}

int graph_info(const std::string& path, bool as_json) {
    InterestGraph g = load_graph(path);
    if (as_json) {
        std::printf("%s\n", g.meta_json.c_str());
        return 0;
    }
    std::printf("%s: tastegraph interest graph, format version %u\n", path.c_str(), kGraphFormatVersion);
    std::fputs(graph_summary(g).c_str(), stdout);
    tg::json::Value m = tg::json::parse(g.meta_json, path + " (build record)");
    std::printf("built with:\n");
    for (auto& [k, v] : m.obj) std::printf("  %-16s %s\n", k.c_str(), v.is_string() ? v.s.c_str() : tg::json::dump(v, 12).c_str());
    return 0;
}

int cmd_graph(tg::cli::Args& a) {
    if (a.help()) {
        std::fputs(kHelp, stdout);
        return 0;
    }
    // The verb is the first positional token. Look at it on a copy (positional() before the options
    // are consumed would also take option values), then let the verb consume its options first.
    std::vector<std::string> probe = tg::cli::Args(a).positional();
    TG_CHECK(!probe.empty(), "graph: missing verb (build, info or export; see tastegraph graph --help)");
    const std::string verb = probe[0];
    if (verb == "build") return graph_build(a);
    bool as_json = a.flag({"--json"});
    auto pos = a.positional();
    a.finish();
    if (verb == "info") {
        TG_CHECK(pos.size() == 2, "usage: tastegraph graph info GRAPH [--json]");
        return graph_info(pos[1], as_json);
    }
    if (verb == "export") {
        TG_CHECK(pos.size() == 3 && !as_json, "usage: tastegraph graph export GRAPH DIR");
        InterestGraph g = load_graph(pos[1]);
        export_graph_tables(g, pos[2]);
        std::printf("wrote %s/users.csv, items.csv, train.txt, test.txt\n", pos[2].c_str());
        return 0;
    }
    TG_FAIL("graph: unknown verb '", verb, "' (expected build, info or export)");
}

}  // namespace

TG_COMMAND("graph", "build an interest graph from behaviour logs; inspect or export one", cmd_graph);
