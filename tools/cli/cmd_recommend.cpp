// cmd_recommend.cpp — `tastegraph recommend`: top-K items for one user, with ORIGINAL ids and scores.
#include <cstdio>
#include <string>
#include <vector>

#include "cli.h"
#include "graph/metrics.h"
#include "graph/model_io.h"
#include "tensor/common.h"
#include "tensor/json.h"

namespace {

using namespace tg::graph;

const char* kHelp =
    R"(usage: tastegraph recommend --model MODEL_FILE --user ID [-k 20] [--format csv|jsonl]

Score every item for the user (dot product of the model's user and item embeddings), skip the items
the user already has in training, and print the top K best first, with the original item ids.

  --user ID       original user id (as in the input log / train.txt)
  -k N            how many items (default 20)
  --format F      csv (default: "rank,item,score" lines with a header) or jsonl (one object a line)
)";

int cmd_recommend(tg::cli::Args& a) {
    if (a.help()) {
        std::fputs(kHelp, stdout);
        return 0;
    }
    tg::cli::apply_threads(a);
    const std::string path = a.required({"--model", "-m"});
    const std::string user = a.required({"--user", "-u"});
    const int64_t K = a.int_or({"-k", "--k"}, 20);
    const std::string format = a.value_or({"--format"}, "csv");
    a.finish();
    TG_CHECK(K > 0, "-k must be positive, got ", K);
    TG_CHECK(format == "csv" || format == "jsonl", "--format must be csv or jsonl, got '", format, "'");
    RecModel m = load_model(path);
    const int32_t u = m.user_index(user);
    TG_CHECK(u >= 0, "unknown user '", user, "': not in the model's ", m.n_users, " users (", path, ")");
    std::vector<float> scores(static_cast<size_t>(m.n_items));
    const float* ue = m.user_emb.data() + int64_t(u) * m.dim;
    for (int64_t i = 0; i < m.n_items; i++) {
        double s = 0;
        for (int64_t d = 0; d < m.dim; d++) s += double(ue[d]) * m.item_emb[size_t(i * m.dim + d)];
        scores[size_t(i)] = float(s);
    }
    std::vector<int32_t> top(static_cast<size_t>(K));
    const int32_t* mask = m.train.indices.data() + m.train.row_begin(u);
    const int64_t n = topk_row(scores.data(), m.n_items, mask, m.train.row_end(u) - m.train.row_begin(u), K, top.data());
    if (format == "csv") std::printf("rank,item,score\n");
    for (int64_t r = 0; r < n; r++) {
        const std::string& id = m.items.name(top[size_t(r)]);
        const float s = scores[size_t(top[size_t(r)])];
        if (format == "csv") {
            // Quote ids that would break a CSV field (RFC 4180).
            const bool quote = id.find_first_of(",\"\r\n") != std::string::npos;
            std::string f = id;
            if (quote) {
                f = "\"";
                for (char c : id) f += c == '"' ? std::string("\"\"") : std::string(1, c);
                f += "\"";
            }
            std::printf("%lld,%s,%.6g\n", (long long)(r + 1), f.c_str(), s);
        } else {
            std::string line = "{\"user\":";
            tg::json::write_string(line, user);
            line += ",\"rank\":" + std::to_string(r + 1) + ",\"item\":";
            tg::json::write_string(line, id);
            char b[48];
            std::snprintf(b, sizeof b, ",\"score\":%.6g}", s);
            std::printf("%s%s\n", line.c_str(), b);
        }
    }
    return 0;
}

}  // namespace

TG_COMMAND("recommend", "top-K items for a user from a model file (original ids, scores)", cmd_recommend);
