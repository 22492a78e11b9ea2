// ingest.h — reading behaviour logs and item side data into an EventLog.
//
// Supported inputs:
//   csv / tsv   a header row naming the columns; which column is the user, item, event type, time and
//               (optionally) weight is configurable (IngestOptions). RFC 4180 quoting (src/tensor/textio.h).
//   jsonl       one JSON object per line with the same field names; ids may be strings or integers.
//   taobao      the Tianchi UserBehavior CSV, no header: user,item,category,behaviour,timestamp with
//               behaviour in {pv, cart, fav, buy}; the category fills the item side data.
//   (LightGCN train.txt/test.txt directories are read by dataset.h: they carry a ready-made split.)
// Item side data (category, brand, title per item) comes from a CSV/TSV/JSONL file with an item id
// column; rows for items that never occur in the log are counted and ignored.
//
// Every original id is mapped to a dense index in order of first appearance (IdMap) and saved with the
// graph, so results can be reported in the original ids. Timestamps are Unix seconds (integers) or
// ISO-8601 UTC dates "2017-11-25", "2017-11-25 10:00:00", "2017-11-25T10:00:00Z".
//
// A bad row (missing field, unparsable time or weight, event type absent from the weight table when
// one is given, ...) throws tg::Error "path:LINE, column 'x': what". With skip_bad the row is skipped,
// counted in bad_rows, and the first few messages are kept in bad_examples for the summary.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "graph/dataset.h"

namespace tg::graph {

struct Event {
    int32_t user, item;  // dense indices into EventLog::users / items
    int32_t type;        // dense index into EventLog::event_types
    float weight;        // row weight (1 when the log has no weight column)
    int64_t time;        // Unix seconds (0 when the log has no time column)
};

struct EventLog {
    IdMap users, items, event_types;
    std::vector<Event> events;  // in file order
    bool has_time = false;

    // Item side data, indexed by dense item index (shorter than items.size() or -1/"" = unknown).
    IdMap categories, brands;
    std::vector<int32_t> item_category, item_brand;  // -1 = unknown
    std::vector<std::string> item_title;

    int64_t bad_rows = 0;                  // rows skipped under skip_bad (log and side files)
    int64_t side_rows_unmatched = 0;       // side-data rows for items not in the log
    std::vector<std::string> bad_examples; // first few error messages of skipped rows
    std::vector<std::string> sources;      // files read

    void set_item_category(int32_t item, const std::string& cat);
    void set_item_brand(int32_t item, const std::string& brand);
    void set_item_title(int32_t item, const std::string& title);
};

struct IngestOptions {
    std::string format;                    // csv | tsv | jsonl | taobao ("" = from the extension)
    std::string user_col = "user_id";
    std::string item_col = "item_id";
    std::string event_col = "event";       // absent column (and not set explicitly): every row is "event"
    std::string time_col = "timestamp";    // absent column (and not set explicitly): no times
    std::string weight_col;                // "" = no weight column
    std::string category_col;              // optional: a category column inside the log
    bool event_col_explicit = false, time_col_explicit = false;
    bool skip_bad = false;
    std::vector<std::string> known_event_types;  // non-empty: any other type is a bad row
    size_t max_bad_examples = 5;
};

struct ItemSideOptions {
    std::string format;                    // csv | tsv | jsonl ("" = from the extension)
    std::string item_col = "item_id";
    std::string category_col = "category"; // each optional: absent columns are simply not read
    std::string brand_col = "brand";
    std::string title_col = "title";
    bool skip_bad = false;
    size_t max_bad_examples = 5;
};

// "csv", "tsv" or "jsonl" from a file name's extension (.csv .tsv .tab .jsonl .json .ndjson); "" if unknown.
std::string format_from_extension(const std::string& path);

// Parse a timestamp: integer Unix seconds or ISO-8601 UTC (see above). false if neither.
bool parse_timestamp(const std::string& s, int64_t* out);

// Append the events of one log file to `log`.
void read_event_log(const std::string& path, const IngestOptions& opt, EventLog& log);
// Read item side data for items already in `log`.
void read_item_side(const std::string& path, const ItemSideOptions& opt, EventLog& log);

}  // namespace tg::graph
