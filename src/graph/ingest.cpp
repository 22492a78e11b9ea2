// ingest.cpp — see ingest.h. Records come from tg::CsvReader / tg::JsonlReader (src/tensor/textio.h);
// this file only maps fields to events and reports bad rows as "path:LINE, column 'x': what".
#include "graph/ingest.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

#include "tensor/common.h"
#include "tensor/json.h"
#include "tensor/textio.h"

namespace tg::graph {

// ---- item side data setters (first value wins; the vectors grow on demand) --------------------

template <typename T>
static void set_at(std::vector<T>& v, int32_t i, const T& x, const T& unknown) {
    if (v.size() <= size_t(i)) v.resize(size_t(i) + 1, unknown);
    if (v[size_t(i)] == unknown) v[size_t(i)] = x;
}

void EventLog::set_item_category(int32_t item, const std::string& cat) {
    if (!cat.empty()) set_at(item_category, item, categories.get_or_add(cat), -1);
}
void EventLog::set_item_brand(int32_t item, const std::string& brand) {
    if (!brand.empty()) set_at(item_brand, item, brands.get_or_add(brand), -1);
}
void EventLog::set_item_title(int32_t item, const std::string& title) {
    if (!title.empty()) set_at(item_title, item, title, std::string());
}

// ---- small parsers ---------------------------------------------------------------------------

std::string format_from_extension(const std::string& path) {
    auto ends = [&](const char* e) {
        std::string s(e);
        return path.size() >= s.size() && path.compare(path.size() - s.size(), s.size(), s) == 0;
    };
    if (ends(".csv")) return "csv";
    if (ends(".tsv") || ends(".tab")) return "tsv";
    if (ends(".jsonl") || ends(".json") || ends(".ndjson")) return "jsonl";
    return "";
}

static std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

bool parse_timestamp(const std::string& text, int64_t* out) {
    std::string_view s = trim(text);
    if (s.empty()) return false;
    int64_t v = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec == std::errc() && r.ptr == s.data() + s.size()) {
        *out = v;
        return true;
    }
    // YYYY-MM-DD[( |T)HH:MM[:SS]][Z]
    auto num = [&](size_t pos, size_t len, int64_t* x) {
        if (pos + len > s.size()) return false;
        auto rr = std::from_chars(s.data() + pos, s.data() + pos + len, *x);
        return rr.ec == std::errc() && rr.ptr == s.data() + pos + len;
    };
    int64_t y, mo, d, h = 0, mi = 0, se = 0;
    if (s.size() < 10 || s[4] != '-' || s[7] != '-' || !num(0, 4, &y) || !num(5, 2, &mo) || !num(8, 2, &d)) return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31) return false;
    size_t p = 10;
    if (p < s.size() && (s[p] == ' ' || s[p] == 'T')) {
        if (!num(p + 1, 2, &h) || p + 3 >= s.size() || s[p + 3] != ':' || !num(p + 4, 2, &mi)) return false;
        p += 6;
        if (p < s.size() && s[p] == ':') {
            if (!num(p + 1, 2, &se)) return false;
            p += 3;
        }
        if (h > 23 || mi > 59 || se > 60) return false;
    }
    if (p < s.size() && s[p] == 'Z') p++;
    if (p != s.size()) return false;
    *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    return true;
}

// ---- one row -> one event --------------------------------------------------------------------

namespace {

// The fields of one row, as text, and a way to name each in a message.
struct Row {
    const std::string *user = nullptr, *item = nullptr, *event = nullptr, *time = nullptr, *weight = nullptr,
                      *category = nullptr;
};

// Collects errors of one file: throws, or (skip_bad) counts and keeps the first few.
struct BadRows {
    EventLog& log;
    bool skip;
    size_t max_examples;
    void report(const std::string& msg) {
        if (!skip) throw Error(msg + "  (use --skip-bad to skip such rows)");
        log.bad_rows++;
        if (log.bad_examples.size() < max_examples) log.bad_examples.push_back(msg);
    }
};

// Validate and append. `where(field)` gives "path:LINE, column 'x'". Returns an error message or "".
template <typename Where>
std::string add_event(EventLog& log, const IngestOptions& opt, const Row& row, Where where) {
    auto missing = [&](const char* f, const std::string* v) -> std::string {
        if (!v) return str(where(f), ": missing");
        if (trim(*v).empty()) return str(where(f), ": empty");
        return "";
    };
    std::string e;
    if (!(e = missing("user", row.user)).empty()) return e;
    if (!(e = missing("item", row.item)).empty()) return e;
    Event ev{};
    ev.weight = 1.f;
    std::string type = "event";
    if (row.event) {
        if (!(e = missing("event", row.event)).empty()) return e;
        type = std::string(trim(*row.event));
        if (!opt.known_event_types.empty() &&
            std::find(opt.known_event_types.begin(), opt.known_event_types.end(), type) == opt.known_event_types.end()) {
            std::string known;
            for (auto& k : opt.known_event_types) known += (known.empty() ? "" : ", ") + k;
            return str(where("event"), ": unknown event type \"", type, "\" (known: ", known, ")");
        }
    }
    if (row.time) {
        if (!parse_timestamp(*row.time, &ev.time))
            return str(where("time"), ": expected Unix seconds or an ISO-8601 date, got \"", *row.time, "\"");
    }
    if (row.weight) {
        std::string_view s = trim(*row.weight);
        double w = 0;
        auto r = std::from_chars(s.data(), s.data() + s.size(), w);
        if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size() || !std::isfinite(w) || w < 0)
            return str(where("weight"), ": expected a finite non-negative number, got \"", *row.weight, "\"");
        ev.weight = float(w);
    }
    ev.user = log.users.get_or_add(std::string(trim(*row.user)));
    ev.item = log.items.get_or_add(std::string(trim(*row.item)));
    ev.type = log.event_types.get_or_add(type);
    if (row.category) log.set_item_category(ev.item, std::string(trim(*row.category)));
    log.events.push_back(ev);
    return "";
}

}  // namespace

// ---- log readers -----------------------------------------------------------------------------

static void read_csv_log(const std::string& path, const IngestOptions& opt, char sep, EventLog& log) {
    CsvOptions co;
    co.sep = sep;
    co.ragged = true;  // short rows are reported per row (and skippable), not as a fatal reader error
    CsvReader csv(path, co);
    auto col = [&](const std::string& name, bool required, bool explicit_) -> int {
        if (name.empty()) return -1;
        if (required || explicit_) return csv.require_column(name);
        return csv.column(name);
    };
    int cu = col(opt.user_col, true, true), ci = col(opt.item_col, true, true);
    int ce = col(opt.event_col, false, opt.event_col_explicit), ct = col(opt.time_col, false, opt.time_col_explicit);
    int cw = col(opt.weight_col, false, true), cc = col(opt.category_col, false, true);
    if (ct >= 0) log.has_time = true;
    const auto& header = csv.header();
    BadRows bad{log, opt.skip_bad, opt.max_bad_examples};
    std::vector<std::string> f;
    while (csv.next(f)) {
        auto where = [&](const char* field) {
            int c = !std::strcmp(field, "user")    ? cu
                    : !std::strcmp(field, "item")  ? ci
                    : !std::strcmp(field, "event") ? ce
                    : !std::strcmp(field, "time")  ? ct
                    : !std::strcmp(field, "weight") ? cw
                                                    : cc;
            return str(path, ":", csv.line(), ", column '", c >= 0 ? header[size_t(c)] : std::string(field), "'");
        };
        auto get = [&](int c) -> const std::string* { return c >= 0 && size_t(c) < f.size() ? &f[size_t(c)] : nullptr; };
        Row row;
        row.user = get(cu);
        row.item = get(ci);
        row.event = ce >= 0 ? get(ce) : nullptr;
        row.time = ct >= 0 ? get(ct) : nullptr;
        row.weight = cw >= 0 ? get(cw) : nullptr;
        row.category = cc >= 0 ? get(cc) : nullptr;
        std::string err;
        if (f.size() != header.size())
            err = str(path, ":", csv.line(), ": ", f.size(), " fields, expected ", header.size(), " (as in the header)");
        else
            err = add_event(log, opt, row, where);
        if (!err.empty()) bad.report(err);
    }
}

// Taobao UserBehavior: no header; user,item,category,behaviour,timestamp.
static void read_taobao_log(const std::string& path, const IngestOptions& opt, EventLog& log) {
    CsvOptions co;
    co.header = false;
    co.ragged = true;
    CsvReader csv(path, co);
    static const char* kNames[5] = {"user", "item", "category", "behaviour", "timestamp"};
    IngestOptions o = opt;
    if (o.known_event_types.empty()) o.known_event_types = {"pv", "cart", "fav", "buy"};
    log.has_time = true;
    BadRows bad{log, opt.skip_bad, opt.max_bad_examples};
    std::vector<std::string> f;
    while (csv.next(f)) {
        auto where = [&](const char* field) {
            int c = !std::strcmp(field, "user") ? 0 : !std::strcmp(field, "item") ? 1 : !std::strcmp(field, "event") ? 3
                                                                                   : !std::strcmp(field, "time")    ? 4
                                                                                                                    : 2;
            return str(path, ":", csv.line(), ", field ", c + 1, " (", kNames[c], ")");
        };
        std::string err;
        if (f.size() != 5) {
            err = str(path, ":", csv.line(), ": ", f.size(), " fields, expected 5 (user,item,category,behaviour,timestamp)");
        } else {
            Row row{&f[0], &f[1], &f[3], &f[4], nullptr, &f[2]};
            err = add_event(log, o, row, where);
        }
        if (!err.empty()) bad.report(err);
    }
}

// JSON field as text: strings as they are, integers in decimal, other numbers as written by %g.
static bool json_text(const json::Value* v, std::string* out) {
    if (!v || v->is_null()) return false;
    if (v->is_string()) *out = v->s;
    else if (v->is_number()) *out = v->is_int ? std::to_string(v->i) : str(v->num);
    else if (v->is_bool()) *out = v->b ? "true" : "false";
    else return false;
    return true;
}

static void read_jsonl_log(const std::string& path, const IngestOptions& opt, EventLog& log) {
    JsonlReader in(path);
    BadRows bad{log, opt.skip_bad, opt.max_bad_examples};
    json::Value v;
    std::string su, si, se, st, sw, sc;
    bool first = true;
    for (;;) {
        try {
            if (!in.next(v)) break;
        } catch (const Error& e) {  // an unparsable line: the reader has moved past it
            bad.report(e.what());
            continue;
        }
        auto where = [&](const char* field) {
            const std::string& key = !std::strcmp(field, "user")    ? opt.user_col
                                     : !std::strcmp(field, "item")  ? opt.item_col
                                     : !std::strcmp(field, "event") ? opt.event_col
                                     : !std::strcmp(field, "time")  ? opt.time_col
                                     : !std::strcmp(field, "weight") ? opt.weight_col
                                                                     : opt.category_col;
            return str(path, ":", in.line(), ", field '", key, "'");
        };
        if (!v.is_object()) {
            bad.report(str(path, ":", in.line(), ": expected a JSON object"));
            continue;
        }
        // Optional fields not set explicitly: decided by the first record (like a CSV header).
        if (first) {
            if (!opt.time_col.empty() && (opt.time_col_explicit || v.find(opt.time_col))) log.has_time = true;
            first = false;
        }
        Row row;
        row.user = json_text(v.find(opt.user_col), &su) ? &su : nullptr;
        row.item = json_text(v.find(opt.item_col), &si) ? &si : nullptr;
        bool want_event = !opt.event_col.empty() && (opt.event_col_explicit || v.find(opt.event_col));
        if (want_event) row.event = json_text(v.find(opt.event_col), &se) ? &se : nullptr;
        if (log.has_time) row.time = json_text(v.find(opt.time_col), &st) ? &st : nullptr;
        if (!opt.weight_col.empty()) row.weight = json_text(v.find(opt.weight_col), &sw) ? &sw : nullptr;
        if (!opt.category_col.empty()) row.category = json_text(v.find(opt.category_col), &sc) ? &sc : nullptr;
        std::string err;
        if (want_event && !row.event) err = str(where("event"), ": missing");
        else if (log.has_time && !row.time) err = str(where("time"), ": missing");
        else if (!opt.weight_col.empty() && !row.weight) err = str(where("weight"), ": missing");
        else err = add_event(log, opt, row, where);
        if (!err.empty()) bad.report(err);
    }
}

void read_event_log(const std::string& path, const IngestOptions& opt, EventLog& log) {
    std::string fmt = opt.format.empty() ? format_from_extension(path) : opt.format;
    TG_CHECK(!fmt.empty(), path, ": cannot tell the log format from the file name; pass --format csv|tsv|jsonl|taobao");
    if (fmt == "csv") read_csv_log(path, opt, ',', log);
    else if (fmt == "tsv") read_csv_log(path, opt, '\t', log);
    else if (fmt == "jsonl") read_jsonl_log(path, opt, log);
    else if (fmt == "taobao") read_taobao_log(path, opt, log);
    else TG_FAIL("unknown log format '", fmt, "' (expected csv, tsv, jsonl or taobao)");
    log.sources.push_back(path);
}

// ---- item side data --------------------------------------------------------------------------

void read_item_side(const std::string& path, const ItemSideOptions& opt, EventLog& log) {
    std::string fmt = opt.format.empty() ? format_from_extension(path) : opt.format;
    TG_CHECK(fmt == "csv" || fmt == "tsv" || fmt == "jsonl", path,
             ": item side data must be csv, tsv or jsonl (got '", fmt, "'; pass --items-format)");
    BadRows bad{log, opt.skip_bad, opt.max_bad_examples};
    auto apply = [&](const std::string& id, const std::string* cat, const std::string* brand, const std::string* title) {
        int32_t item = log.items.find(std::string(trim(id)));
        if (item < 0) {
            log.side_rows_unmatched++;
            return;
        }
        if (cat) log.set_item_category(item, std::string(trim(*cat)));
        if (brand) log.set_item_brand(item, std::string(trim(*brand)));
        if (title) log.set_item_title(item, *title);
    };
    if (fmt == "jsonl") {
        JsonlReader in(path);
        json::Value v;
        std::string id, c, b, t;
        for (;;) {
            try {
                if (!in.next(v)) break;
            } catch (const Error& e) {
                bad.report(e.what());
                continue;
            }
            if (!v.is_object() || !json_text(v.find(opt.item_col), &id) || trim(id).empty()) {
                bad.report(str(path, ":", in.line(), ", field '", opt.item_col, "': missing item id"));
                continue;
            }
            bool hc = json_text(v.find(opt.category_col), &c), hb = json_text(v.find(opt.brand_col), &b),
                 ht = json_text(v.find(opt.title_col), &t);
            apply(id, hc ? &c : nullptr, hb ? &b : nullptr, ht ? &t : nullptr);
        }
    } else {
        CsvOptions co;
        co.sep = fmt == "tsv" ? '\t' : ',';
        co.ragged = true;
        CsvReader csv(path, co);
        int ci = csv.require_column(opt.item_col);
        int cc = csv.column(opt.category_col), cb = csv.column(opt.brand_col), ct = csv.column(opt.title_col);
        TG_CHECK(cc >= 0 || cb >= 0 || ct >= 0, path, ": none of the columns '", opt.category_col, "', '", opt.brand_col,
                 "', '", opt.title_col, "' is present");
        std::vector<std::string> f;
        while (csv.next(f)) {
            if (f.size() != csv.header().size()) {
                bad.report(str(path, ":", csv.line(), ": ", f.size(), " fields, expected ", csv.header().size(),
                               " (as in the header)"));
                continue;
            }
            if (trim(f[size_t(ci)]).empty()) {
                bad.report(str(csv.where(ci), ": empty item id"));
                continue;
            }
            auto get = [&](int c) -> const std::string* { return c >= 0 ? &f[size_t(c)] : nullptr; };
            apply(f[size_t(ci)], get(cc), get(cb), get(ct));
        }
    }
    log.sources.push_back(path);
}

}  // namespace tg::graph
