// gen_shop.h — a synthetic but realistic shop behaviour log with planted interests (`tastegraph gen-shop`).
//
// What is generated (everything from one seed, with a private RNG, so the output is byte-identical on
// every machine and compiler):
//
//   catalogue   n_categories categories (Chinese + English names: 手机 Phones, 咖啡 Coffee, ...), each
//               with a few brands (plus a few brands that sell in several categories); n_items items,
//               category sizes skewed, each item with a brand, a price, and a title in Chinese and
//               English ("轻薄 无线耳机 Kovani K12 / Kovani Lightweight Wireless Headphones K12").
//               Within a category, item popularity follows a Zipf law (exponent zipf_s), so a few items
//               draw most views, as in real shops.
//   users       each has 1-3 favourite categories (the planted interests, with random weights) and
//               usually a favourite brand in each, plus an activity level (log-normal number of
//               sessions, so a few users are very active).
//   sessions    spread over `days` days with an evening-heavy daily rhythm. A session browses one
//               category: a favourite one with probability 1 - explore, else one picked by catalogue
//               size. Each page view picks an item of that category: the user's favourite brand with
//               probability brand_loyalty, else by popularity. Views within a session are 10 s – 5 min
//               apart.
//   funnel      after each view: fav with p_fav, cart with p_cart, and a cart becomes a buy with
//               p_buy_given_cart (defaults give roughly Taobao's mix: ~88% pv, ~6% cart, ~3% fav,
//               ~3% buy).
//
// Files written to `dir`:
//   events.csv     user_id,item_id,event,timestamp    (event ∈ pv, fav, cart, buy; Unix seconds; time order)
//   items.csv      item_id,category,brand,title,title_zh,title_en,price
//   interests.csv  user_id,categories,brands,sessions (the planted ground truth; '|'-separated names)
//   README.txt     what the files are and the options used
#pragma once
#include <cstdint>
#include <string>

namespace tg::graph {

struct ShopOptions {
    int32_t n_users = 3000;
    int32_t n_items = 3000;
    int32_t n_categories = 24;        // at most the built-in list's size (32)
    int32_t brands_per_category = 6;
    int32_t days = 30;
    double sessions_mean = 8.0;       // mean sessions per user (log-normal, sigma 0.8)
    double views_per_session = 5.0;   // mean page views per session (geometric)
    double explore = 0.15;            // share of sessions outside the user's favourite categories
    double brand_loyalty = 0.35;      // share of views that go to the user's favourite brand
    double zipf_s = 1.0;              // item popularity exponent within a category
    double p_fav = 0.03, p_cart = 0.065, p_buy_given_cart = 0.45;
    int64_t start_time = 1790812800;  // 2026-10-01 00:00:00 UTC
    uint64_t seed = 42;
};

struct ShopStats {
    int64_t events = 0, pv = 0, fav = 0, cart = 0, buy = 0;
    int32_t users = 0, items = 0, categories = 0, brands = 0;
};

// Generate into `dir` (created if missing; files written atomically). Throws tg::Error on bad options.
ShopStats gen_shop(const ShopOptions& opt, const std::string& dir);

}  // namespace tg::graph
