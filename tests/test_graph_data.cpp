// test_graph_data.cpp — the interest graph's data side: LightGCN loader, log ingest (errors with
// file:line:field, --skip-bad), COO -> CSR / transpose / normalization against dense references,
// event weights and time decay against hand-computed values, the per-user time split, co-occurrence,
// the graph file (round trip, corruption and truncation), and gen-shop determinism.
//
// References are independent of the code under test: dense matrices filled by plain loops, numbers
// worked out by hand in the comments.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "graph/dataset.h"
#include "graph/gen_shop.h"
#include "graph/graph_build.h"
#include "graph/graph_io.h"
#include "graph/ingest.h"
#include "tensor/common.h"
#include "tensor/io.h"
#include "test_util.h"

using namespace tg::graph;
namespace fs = std::filesystem;

namespace {

// A fresh scratch directory per test, removed at the end.
struct TempDir {
    std::string path;
    explicit TempDir(const std::string& name) {
        path = (fs::temp_directory_path() / ("tg_graphdata_" + std::to_string(::getpid()) + "_" + name)).string();
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~TempDir() { fs::remove_all(path); }
    std::string write(const std::string& file, const std::string& text) const {
        std::string p = path + "/" + file;
        tg::write_file_atomic(p, text);
        return p;
    }
};

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const tg::Error& e) {
        return e.what();
    }
    return "(no error)";
}

using Dense = std::vector<std::vector<double>>;

Dense to_dense(const Csr& m) {
    Dense d(size_t(m.rows), std::vector<double>(size_t(m.cols), 0.0));
    for (int64_t r = 0; r < m.rows; r++) {
        REQUIRE(m.row_begin(r) <= m.row_end(r));
        for (int64_t e = m.row_begin(r); e < m.row_end(r); e++) {
            if (e > m.row_begin(r)) REQUIRE(m.indices[size_t(e)] > m.indices[size_t(e) - 1]);  // sorted, unique
            d[size_t(r)][size_t(m.indices[size_t(e)])] += m.value(e);
        }
    }
    return d;
}

void check_dense(const Dense& a, const Dense& b, double tol) {
    REQUIRE(a.size() == b.size());
    for (size_t r = 0; r < a.size(); r++) {
        REQUIRE(a[r].size() == b[r].size());
        for (size_t c = 0; c < a[r].size(); c++) CHECK(a[r][c] == doctest::Approx(b[r][c]).epsilon(tol));
    }
}

// Random COO with empty rows (every 4th row) and many duplicates (coordinates from a small range).
Coo random_coo(int64_t rows, int64_t cols, size_t n, uint64_t seed) {
    auto u = tg::test::rand_vec(3 * n, seed, 0.f, 1.f);
    Coo c;
    c.rows = rows;
    c.cols = cols;
    for (size_t k = 0; k < n; k++) {
        int32_t r = int32_t(u[3 * k] * float(rows)) % int32_t(rows);
        if (r % 4 == 1) continue;
        c.add(r, int32_t(u[3 * k + 1] * float(cols)) % int32_t(cols), 0.25f + u[3 * k + 2]);
    }
    return c;
}

}  // namespace

// ---- LightGCN format -----------------------------------------------------------------------

TEST_CASE("graph data: LightGCN dir loads ids as dense indices, sizes over train and test") {
    TempDir t("lgcn");
    t.write("train.txt", "0 1 2 2\n2 0\r\n\n1\n");   // user 0: items 1,2 (2 twice), user 2: item 0, user 1: none
    t.write("test.txt", "0 5\n3 4 1\n");             // user 3 and item 5 appear only here
    Dataset d = load_lightgcn_dir(t.path);
    CHECK(d.n_users == 4);
    CHECK(d.n_items == 6);
    CHECK(d.train.indptr == std::vector<int64_t>{0, 2, 2, 3, 3});
    CHECK(d.train.indices == std::vector<int32_t>{1, 2, 0});
    CHECK(d.train.values == std::vector<float>{1, 1, 1});
    REQUIRE(d.test.size() == 4);
    CHECK(d.test[0] == std::vector<int32_t>{5});
    CHECK(d.test[3] == std::vector<int32_t>{1, 4});
    CHECK(d.users.name(3) == "3");
    CHECK(d.items.find("5") == 5);
    CHECK(d.items.find("6") == -1);
    // load_dataset recognises the directory
    CHECK(load_dataset(t.path).n_train() == 3);
}

TEST_CASE("graph data: LightGCN errors name file, line and token") {
    TempDir t("lgcn_bad");
    t.write("train.txt", "0 1 2\n1 3 x7 4\n");
    std::string e = error_of([&] { load_lightgcn_dir(t.path); });
    CHECK(e.find(t.path + "/train.txt:2: item id #2 is 'x7'") != std::string::npos);
    t.write("train.txt", "0 1\n-1 2\n");
    e = error_of([&] { load_lightgcn_dir(t.path); });
    CHECK(e.find("train.txt:2: user id #0 is '-1'") != std::string::npos);
    t.write("train.txt", "0 99999999999\n");
    CHECK(error_of([&] { load_lightgcn_dir(t.path); }).find("below 2^31") != std::string::npos);
    CHECK(error_of([&] { load_lightgcn_dir(t.path + "/nope"); }).find("no train.txt") != std::string::npos);
}

TEST_CASE("graph data: Gowalla split (skipped without ../shared)") {
    std::string dir = tg::test::shared_dir() + "/data/lightgcn-gowalla";
    if (!tg::file_exists(dir + "/train.txt")) {
        MESSAGE("skipped: " << dir << " not present");
        return;
    }
    Dataset d = load_lightgcn_dir(dir);
    // Published statistics of the NGCF/LightGCN Gowalla split.
    CHECK(d.n_users == 29858);
    CHECK(d.n_items == 40981);
    CHECK(d.n_train() == 810128);
    CHECK(d.n_test() == 217242);
}

// ---- ingest ----------------------------------------------------------------------------------

TEST_CASE("graph data: CSV log with named columns, ISO times, weights") {
    TempDir t("csv");
    std::string p = t.write("log.csv",
                            "ts,who,what,kind,w\n"
                            "1000,alice,apple,pv,1\n"
                            "2017-11-25 10:00:00,bob,\"pear, green\",buy,2.5\n"
                            "2017-11-25,alice,pear,cart,1\n");
    IngestOptions o;
    o.user_col = "who";
    o.item_col = "what";
    o.event_col = "kind";
    o.time_col = "ts";
    o.weight_col = std::string("w");  // (not = "w": GCC 12 -Wrestrict false positive)
    EventLog log;
    read_event_log(p, o, log);
    REQUIRE(log.events.size() == 3);
    CHECK(log.has_time);
    CHECK(log.users.size() == 2);
    CHECK(log.items.name(1) == "pear, green");
    CHECK(log.events[0].time == 1000);
    // 2017-11-25 00:00:00 UTC = 1511568000 (date -u -d 2017-11-25 +%s)
    CHECK(log.events[1].time == 1511568000 + 36000);
    CHECK(log.events[2].time == 1511568000);
    CHECK(log.events[1].weight == 2.5f);
    CHECK(log.event_types.name(log.events[1].type) == "buy");
}

TEST_CASE("graph data: bad rows name file, line and field; --skip-bad counts them") {
    TempDir t("bad");
    std::string p = t.write("log.csv",
                            "user_id,item_id,event,timestamp\n"
                            "u1,i1,pv,100\n"
                            "u1,i2,pv,yesterday\n"   // line 3: bad time
                            "u2,,buy,100\n"          // line 4: empty item
                            "u2,i1,zap,100\n"        // line 5: unknown event type
                            "u3,i3,pv\n"             // line 6: short row
                            "u3,i3,buy,200\n");
    IngestOptions o;
    o.known_event_types = {"pv", "fav", "cart", "buy"};
    {
        EventLog log;
        std::string e = error_of([&] { read_event_log(p, o, log); });
        CHECK(e.find(p + ":3, column 'timestamp': expected Unix seconds") != std::string::npos);
        CHECK(e.find("--skip-bad") != std::string::npos);
    }
    o.skip_bad = true;
    EventLog log;
    read_event_log(p, o, log);
    CHECK(log.events.size() == 2);
    CHECK(log.bad_rows == 4);
    REQUIRE(log.bad_examples.size() == 4);
    CHECK(log.bad_examples[1].find(p + ":4, column 'item_id': empty") != std::string::npos);
    CHECK(log.bad_examples[2].find(p + ":5, column 'event': unknown event type \"zap\"") != std::string::npos);
    CHECK(log.bad_examples[3].find(p + ":6: 3 fields, expected 4") != std::string::npos);

    // A missing required column is reported with the columns there are.
    std::string q = t.write("nouser.csv", "uid,item_id\nu1,i1\n");
    EventLog l2;
    CHECK(error_of([&] { read_event_log(q, IngestOptions{}, l2); }).find("no column 'user_id'") != std::string::npos);
}

TEST_CASE("graph data: JSONL log and item side data; Taobao format") {
    TempDir t("jsonl");
    std::string p = t.write("log.jsonl",
                            "{\"user_id\": 7, \"item_id\": \"a\", \"event\": \"pv\", \"timestamp\": 5}\n"
                            "{\"user_id\": 7, \"item_id\": \"b\", \"event\": \"buy\"}\n"   // line 2: no time
                            "not json\n"                                                   // line 3
                            "{\"user_id\": 8, \"item_id\": \"b\", \"event\": \"fav\", \"timestamp\": 9}\n");
    IngestOptions o;
    EventLog log;
    std::string e = error_of([&] { read_event_log(p, o, log); });
    CHECK(e.find(p + ":2, field 'timestamp': missing") != std::string::npos);
    o.skip_bad = true;
    EventLog l2;
    read_event_log(p, o, l2);
    CHECK(l2.events.size() == 2);
    CHECK(l2.bad_rows == 2);
    CHECK(l2.users.name(0) == "7");

    std::string side = t.write("items.csv", "item_id,category,brand,title\nb,Fruit,Acme,\"Pear, 梨\"\nzzz,X,Y,unused\n");
    read_item_side(side, ItemSideOptions{}, l2);
    CHECK(l2.side_rows_unmatched == 1);
    int32_t b = l2.items.find("b");
    REQUIRE(b >= 0);
    CHECK(l2.categories.name(l2.item_category[size_t(b)]) == "Fruit");
    CHECK(l2.brands.name(l2.item_brand[size_t(b)]) == "Acme");
    CHECK(l2.item_title[size_t(b)] == "Pear, 梨");

    std::string tb = t.write("ub.csv", "1,2268318,2520377,pv,1511544070\n1,2333346,2520771,cart,1511561733\n2,2268318,2520377,see,1\n");
    IngestOptions to;
    to.format = "taobao";
    EventLog l3;
    e = error_of([&] { read_event_log(tb, to, l3); });
    CHECK(e.find(tb + ":3, field 4 (behaviour): unknown event type \"see\"") != std::string::npos);
    to.skip_bad = true;
    EventLog l4;
    read_event_log(tb, to, l4);
    CHECK(l4.events.size() == 2);
    CHECK(l4.categories.name(l4.item_category[1]) == "2520771");
}

TEST_CASE("graph data: TSV log without event/time columns; JSONL side data") {
    TempDir t("tsv");
    std::string p = t.write("log.tsv", "user_id\titem_id\n1\ta\n1\tb\n2\ta\n");
    EventLog log;
    read_event_log(p, IngestOptions{}, log);  // format from the extension
    CHECK(log.events.size() == 3);
    CHECK(!log.has_time);
    CHECK(log.event_types.names == std::vector<std::string>{"event"});
    IngestOptions o;
    o.time_col = "ts";
    o.time_col_explicit = true;  // asked for explicitly: its absence is an error
    EventLog l2;
    CHECK(error_of([&] { read_event_log(p, o, l2); }).find("no column 'ts'") != std::string::npos);

    std::string side = t.write("items.jsonl", "{\"item_id\": \"a\", \"brand\": \"Acme\", \"title\": \"苹果\"}\n"
                                              "{\"brand\": \"x\"}\n");
    ItemSideOptions so;
    CHECK(error_of([&] { read_item_side(side, so, log); }).find(side + ":2, field 'item_id': missing item id") !=
          std::string::npos);
    so.skip_bad = true;
    EventLog l3;
    read_event_log(p, IngestOptions{}, l3);
    read_item_side(side, so, l3);
    CHECK(l3.bad_rows == 1);
    CHECK(l3.item_title[size_t(l3.items.find("a"))] == "苹果");
    CHECK(l3.brands.name(l3.item_brand[size_t(l3.items.find("a"))]) == "Acme");
    // a graph without timestamps cannot have time-window co-occurrence
    BuildOptions bo;
    bo.cooc_window_s = 60;
    CHECK(error_of([&] { build_graph(l3, bo); }).find("need timestamps") != std::string::npos);
    // load_dataset on a file that is not a graph
    CHECK(error_of([&] { load_dataset(p); }).find("bad magic") != std::string::npos);
}

TEST_CASE("graph data: timestamps") {
    int64_t t = 0;
    CHECK((parse_timestamp("1511544070", &t) && t == 1511544070));
    CHECK((parse_timestamp("1970-01-01T00:00:00Z", &t) && t == 0));
    CHECK((parse_timestamp("2000-03-01 12:30", &t) && t == 951913800));  // date -u -d '2000-03-01 12:30' +%s
    CHECK(!parse_timestamp("2000-13-01", &t));
    CHECK(!parse_timestamp("12:00", &t));
}

// ---- sparse building blocks vs dense references ----------------------------------------------

TEST_CASE("graph data: COO -> CSR and transpose vs dense, with empty rows and duplicates") {
    for (uint64_t seed : {1, 2, 3}) {
        Coo c = random_coo(37, 23, 400, seed);
        Dense ref(37, std::vector<double>(23, 0.0)), ref_max(37, std::vector<double>(23, 0.0));
        for (size_t k = 0; k < c.size(); k++) {
            ref[size_t(c.row[k])][size_t(c.col[k])] += c.val[k];
            auto& m = ref_max[size_t(c.row[k])][size_t(c.col[k])];
            m = std::max(m, double(c.val[k]));
        }
        Csr s = coo_to_csr(c);
        CHECK(s.row_begin(1) == s.row_end(1));  // row 1 is empty by construction
        CHECK(s.nnz() < int64_t(c.size()));     // duplicates were merged
        check_dense(to_dense(s), ref, 1e-6);
        check_dense(to_dense(coo_to_csr(c, DupAgg::Max)), ref_max, 1e-7);
        Dense reft(23, std::vector<double>(37, 0.0));
        for (size_t r = 0; r < 37; r++)
            for (size_t q = 0; q < 23; q++) reft[q][r] = ref[r][q];
        check_dense(to_dense(transpose(s)), reft, 1e-6);
    }
    Coo bad;
    bad.rows = 2;
    bad.cols = 2;
    bad.add(0, 2);
    CHECK(error_of([&] { coo_to_csr(bad); }).find("outside 2x2") != std::string::npos);
}

TEST_CASE("graph data: symmetric normalization vs dense D^-1/2 A D^-1/2") {
    Csr R = coo_to_csr(random_coo(13, 9, 60, 7));  // users 1, 5, 9 have no items
    const size_t U = 13, I = 9, N = U + I;
    // Dense bipartite adjacency and its degrees, by plain loops.
    Dense A(N, std::vector<double>(N, 0.0));
    Dense Rd = to_dense(R);
    for (size_t u = 0; u < U; u++)
        for (size_t i = 0; i < I; i++) A[u][U + i] = A[U + i][u] = Rd[u][i];
    std::vector<double> deg(N, 0.0);
    for (size_t r = 0; r < N; r++)
        for (size_t c = 0; c < N; c++) deg[r] += A[r][c];
    Dense An(N, std::vector<double>(N, 0.0));
    for (size_t r = 0; r < N; r++)
        for (size_t c = 0; c < N; c++)
            if (A[r][c] != 0) An[r][c] = A[r][c] / std::sqrt(deg[r] * deg[c]);
    check_dense(to_dense(bipartite_adjacency(R)), A, 1e-7);
    check_dense(to_dense(sym_normalize(bipartite_adjacency(R))), An, 1e-6);
    Dense block(U, std::vector<double>(I, 0.0));
    for (size_t u = 0; u < U; u++)
        for (size_t i = 0; i < I; i++) block[u][i] = An[u][U + i];
    check_dense(to_dense(sym_normalize_bipartite(R)), block, 1e-6);
}

// ---- weights, decay, split, co-occurrence ------------------------------------------------------

TEST_CASE("graph data: event weights and time decay, hand-computed") {
    CHECK(decay_weight(100, 100, 10) == 1.0);
    CHECK(decay_weight(90, 100, 10) == doctest::Approx(0.5));
    CHECK(decay_weight(70, 100, 10) == doctest::Approx(0.125));
    CHECK(decay_weight(0, 100, 0) == 1.0);  // no half-life: no decay
    EventWeights w = EventWeights::parse("pv=1,fav=2,cart=3,buy=4");
    CHECK(w.get("buy") == 4.f);
    CHECK(error_of([&] { w.get("zap"); }).find("event type 'zap' has no weight") != std::string::npos);
    CHECK(EventWeights::parse("pv=1,*=0.5").get("zap") == 0.5f);
    CHECK(error_of([] { EventWeights::parse("pv=1,buy"); }).find("'buy' is not type=weight") != std::string::npos);
    CHECK(error_of([] { EventWeights::parse("pv=-1"); }).find("non-negative") != std::string::npos);

    // One user, half-life 1 day, newest event at day 2:
    //   item A: pv at day 0 (age 2 d -> 1 * 0.25) + buy at day 2 (4 * 1)  = 4.25
    //   item B: fav at day 1 (age 1 d -> 2 * 0.5)                          = 1.0
    //   item B: cart at day 1 (3 * 0.5) with row weight 2                  = 3.0   -> B = 4.0 (sum) / 3.0 (max)
    TempDir t("decay");
    std::string p = t.write("log.csv",
                            "user_id,item_id,event,timestamp,w\n"
                            "u,A,pv,0,1\nu,B,fav,86400,1\nu,B,cart,86400,2\nu,A,buy,172800,1\n");
    IngestOptions io;
    io.weight_col = "w";
    EventLog log;
    read_event_log(p, io, log);
    BuildOptions bo;
    bo.half_life_days = 1;
    bo.test_ratio = 0;
    InterestGraph g = build_graph(log, bo);
    Dense d = to_dense(g.data.train);
    CHECK(d[0][size_t(log.items.find("A"))] == doctest::Approx(4.25));
    CHECK(d[0][size_t(log.items.find("B"))] == doctest::Approx(4.0));
    bo.agg = DupAgg::Max;
    d = to_dense(build_graph(log, bo).data.train);
    CHECK(d[0][size_t(log.items.find("A"))] == doctest::Approx(4.0));
    CHECK(d[0][size_t(log.items.find("B"))] == doctest::Approx(3.0));
}

TEST_CASE("graph data: per-user time split holds out the last distinct items") {
    // User a touches (first touch order) i1 i2 i3 i4 i5, i1 again at the end; b touches 2 items;
    // c touches 4 items with times tied (file order decides).
    TempDir t("split");
    std::string p = t.write("log.csv",
                            "user_id,item_id,event,timestamp\n"
                            "a,i3,pv,30\na,i1,pv,10\na,i2,pv,20\na,i4,pv,40\na,i5,buy,50\na,i1,buy,60\na,i5,pv,55\n"
                            "b,i1,pv,1\nb,i2,pv,2\n"
                            "c,i1,pv,7\nc,i2,pv,7\nc,i3,pv,7\nc,i4,pv,7\n");
    EventLog log;
    read_event_log(p, IngestOptions{}, log);
    auto items_of = [&](const std::vector<int32_t>& v) {
        std::vector<std::string> s;
        for (int32_t i : v) s.push_back(log.items.name(i));
        std::sort(s.begin(), s.end());
        return s;
    };
    BuildOptions bo;  // ratio 0.2: a has 5 items -> ceil(1.0) = 1; c has 4 -> ceil(0.8) = 1; b has 2 < 3
    InterestGraph g = build_graph(log, bo);
    int32_t a = log.users.find("a"), b = log.users.find("b"), c = log.users.find("c");
    CHECK(items_of(g.data.test[size_t(a)]) == std::vector<std::string>{"i5"});
    CHECK(g.data.test[size_t(b)].empty());
    CHECK(items_of(g.data.test[size_t(c)]) == std::vector<std::string>{"i4"});
    // every event of a held-out pair leaves train (a's i5 had a buy and a pv); i1 (re-touched late) stays
    Dense d = to_dense(g.data.train);
    CHECK(d[size_t(a)][size_t(log.items.find("i5"))] == 0.0);
    CHECK(d[size_t(a)][size_t(log.items.find("i1"))] == doctest::Approx(1 + 4));
    CHECK(g.data.train.nnz() == 4 + 2 + 3);

    bo.test_last_n = 2;
    g = build_graph(log, bo);
    CHECK(items_of(g.data.test[size_t(a)]) == std::vector<std::string>{"i4", "i5"});
    bo.test_last_n = 9;  // never all of a user's items
    g = build_graph(log, bo);
    CHECK(g.data.test[size_t(a)].size() == 4);
    CHECK(g.data.test[size_t(c)].size() == 3);
}

TEST_CASE("graph data: co-occurrence edges and attribute relations") {
    // u1: x@0, y@100, z@10000 ; u2: x@0, y@50, y@60 ; window 600 s -> x-y co-used by 2 users, nothing with z.
    TempDir t("cooc");
    std::string p = t.write("log.csv", "user_id,item_id,event,timestamp\n"
                                       "u1,x,pv,0\nu1,y,pv,100\nu1,z,pv,10000\nu2,x,pv,0\nu2,y,pv,50\nu2,y,pv,60\n");
    std::string side = t.write("items.csv", "item_id,category,brand\nx,C1,B1\ny,C1,\nz,C2,B1\n");
    EventLog log;
    read_event_log(p, IngestOptions{}, log);
    read_item_side(side, ItemSideOptions{}, log);
    BuildOptions bo;
    bo.test_ratio = 0;
    bo.cooc_window_s = 600;
    InterestGraph g = build_graph(log, bo);
    const Relation* co = g.find_relation("co_occurs");
    REQUIRE(co);
    Dense d = to_dense(co->adj);
    int32_t x = log.items.find("x"), y = log.items.find("y"), z = log.items.find("z");
    CHECK(d[size_t(x)][size_t(y)] == 2.0);
    CHECK(d[size_t(y)][size_t(x)] == 2.0);
    CHECK(d[size_t(x)][size_t(z)] == 0.0);
    CHECK(co->adj.nnz() == 2);
    const Relation* cat = g.find_relation("in_category");
    const Relation* br = g.find_relation("has_brand");
    REQUIRE((cat && br));
    CHECK(cat->adj.nnz() == 3);
    CHECK(br->adj.nnz() == 2);  // y has no brand
    CHECK(g.brands.name(br->adj.indices[size_t(br->adj.row_begin(z))]) == "B1");
}

TEST_CASE("graph data: k-core filter") {
    // 2-core by hand: item z has one user (dropped); then user w has only x left (1 item: dropped);
    // then x has users u, v (2) and y has u, v (2): the core is {u, v} x {x, y}.
    TempDir t("kcore");
    std::string p = t.write("log.csv", "user_id,item_id\nw,x\nu,x\nu,y\nv,x\nv,y\nw,z\nu,x\n");
    std::string side = t.write("items.csv", "item_id,category\nx,A\ny,B\nz,C\n");
    EventLog log;
    read_event_log(p, IngestOptions{}, log);
    read_item_side(side, ItemSideOptions{}, log);
    EventLog k = kcore_filter(log, 2);
    CHECK(k.users.names == std::vector<std::string>{"u", "v"});
    CHECK(k.items.names == std::vector<std::string>{"x", "y"});
    CHECK(k.events.size() == 5);  // u's repeated x is kept
    CHECK(k.categories.names == std::vector<std::string>{"A", "B"});
    CHECK(k.categories.name(k.item_category[1]) == "B");
    CHECK(kcore_filter(log, 3).events.empty());
}

// ---- the graph file ----------------------------------------------------------------------------

TEST_CASE("graph data: graph file round trip, corruption and truncation") {
    TempDir t("io");
    ShopOptions so;
    so.n_users = 60;
    so.n_items = 80;
    so.n_categories = 6;
    gen_shop(so, t.path + "/shop");
    EventLog log;
    read_event_log(t.path + "/shop/events.csv", IngestOptions{}, log);
    read_item_side(t.path + "/shop/items.csv", ItemSideOptions{}, log);
    BuildOptions bo;
    bo.half_life_days = 7;
    bo.cooc_window_s = 3600;
    InterestGraph g = build_graph(log, bo);
    std::string path = t.path + "/g.tgg";
    save_graph(path, g);
    InterestGraph h = load_graph(path);
    CHECK(h.data.n_users == g.data.n_users);
    CHECK(h.data.n_items == g.data.n_items);
    CHECK(h.data.train.indptr == g.data.train.indptr);
    CHECK(h.data.train.indices == g.data.train.indices);
    CHECK(h.data.train.values == g.data.train.values);
    CHECK(h.data.test == g.data.test);
    CHECK(h.data.users.names == g.data.users.names);
    CHECK(h.data.items.find(g.data.items.name(5)) == 5);
    CHECK(h.brands.names == g.brands.names);
    CHECK(h.item_titles == g.item_titles);
    CHECK(h.meta_json == g.meta_json);
    REQUIRE(h.relations.size() == 3);
    for (size_t k = 0; k < 3; k++) {
        CHECK(h.relations[k].name == g.relations[k].name);
        CHECK(h.relations[k].adj.indices == g.relations[k].adj.indices);
        CHECK(h.relations[k].adj.values == g.relations[k].adj.values);
    }
    Dataset ds = load_dataset(path);
    CHECK(ds.n_train() == g.data.n_train());

    std::string bytes = tg::read_file(path);
    auto corrupt = [&](const std::string& b) {
        tg::write_file_atomic(t.path + "/bad.tgg", b);
        return error_of([&] { load_graph(t.path + "/bad.tgg"); });
    };
    for (size_t pos : {size_t(40), bytes.size() / 2, bytes.size() - 1}) {
        std::string b = bytes;
        b[pos] ^= 0x10;
        CHECK(corrupt(b).find("checksum mismatch") != std::string::npos);
    }
    CHECK(corrupt(bytes.substr(0, bytes.size() - 7)).find("truncated graph file") != std::string::npos);
    CHECK(corrupt(bytes.substr(0, 20)).find("truncated graph file") != std::string::npos);
    CHECK(corrupt(bytes + "x").find("trailing bytes") != std::string::npos);
    std::string b = bytes;
    b[0] = 'X';
    CHECK(corrupt(b).find("bad magic") != std::string::npos);
    b = bytes;
    b[8] = 9;  // version
    CHECK(corrupt(b).find("format version 9 is not supported") != std::string::npos);
    // A payload edited consistently (checksum recomputed) is still decoded with bounds checks:
    // make the user id count enormous.
    b = bytes;
    uint64_t meta_len;
    std::memcpy(&meta_len, b.data() + 32, 8);
    size_t users_count_at = 32 + 8 + size_t(meta_len) + 8;
    uint64_t huge = uint64_t(1) << 40;
    std::memcpy(&b[users_count_at], &huge, 8);
    uint64_t hsh = fnv1a64(b.data() + 32, b.size() - 32);
    std::memcpy(&b[24], &hsh, 8);
    CHECK(corrupt(b).find("more than the file holds") != std::string::npos);

    // export writes LightGCN files that load back to the same split
    export_graph_tables(g, t.path + "/tables");
    Dataset back = load_lightgcn_dir(t.path + "/tables");
    CHECK(back.n_test() == g.data.n_test());
    CHECK(back.train.indices == g.data.train.indices);
}

// ---- gen-shop ---------------------------------------------------------------------------------

TEST_CASE("graph data: gen-shop is deterministic and plants the interests") {
    TempDir t("shop");
    ShopOptions so;
    so.n_users = 200;
    so.n_items = 300;
    gen_shop(so, t.path + "/a");
    gen_shop(so, t.path + "/b");
    so.seed = 43;
    gen_shop(so, t.path + "/c");
    for (const char* f : {"events.csv", "items.csv", "interests.csv"}) {
        CHECK(tg::read_file(t.path + "/a/" + f) == tg::read_file(t.path + "/b/" + f));
        CHECK(tg::read_file(t.path + "/a/" + f) != tg::read_file(t.path + "/c/" + f));
    }
    // Most page views fall in the user's planted categories (1 - explore = 85% of sessions).
    EventLog log;
    read_event_log(t.path + "/a/events.csv", IngestOptions{}, log);
    read_item_side(t.path + "/a/items.csv", ItemSideOptions{}, log);
    std::map<std::string, std::string> fav;  // user -> "|"-joined categories
    {
        std::string text = tg::read_file(t.path + "/a/interests.csv");
        size_t p = text.find('\n') + 1;
        while (p < text.size()) {
            size_t e = text.find('\n', p);
            std::string line = text.substr(p, e - p);
            size_t c1 = line.find(','), c2 = line.find(',', c1 + 1);
            fav[line.substr(0, c1)] = line.substr(c1 + 1, c2 - c1 - 1);
            p = e + 1;
        }
    }
    int64_t in_fav = 0, n = 0, pv = 0;
    for (auto& e : log.events) {
        const std::string& cat = log.categories.name(log.item_category[size_t(e.item)]);
        in_fav += fav[log.users.name(e.user)].find(cat) != std::string::npos;
        n++;
        pv += log.event_types.name(e.type) == "pv";
    }
    double share = double(in_fav) / double(n);
    CHECK(share > 0.8);
    CHECK(share < 0.95);
    CHECK(double(pv) / double(n) == doctest::Approx(0.88).epsilon(0.03));
}
