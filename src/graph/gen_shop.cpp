// gen_shop.cpp — see gen_shop.h for the model of the shop. Sampling uses a private SplitMix64 stream and
// only integer/IEEE arithmetic (no <random> distributions, whose output differs between standard
// libraries), so a seed gives the same files everywhere.
#include "graph/gen_shop.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <numeric>
#include <set>
#include <vector>

#include "tensor/common.h"
#include "tensor/io.h"

namespace tg::graph {

namespace {

// SplitMix64 (Steele, Lea & Flood 2014): a 64-bit counter passed through a strong mixer.
struct Rng {
    uint64_t s;
    explicit Rng(uint64_t seed) : s(seed) {}
    uint64_t next() {
        uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    double uniform() { return double(next() >> 11) * 0x1.0p-53; }          // [0, 1)
    int64_t below(int64_t n) { return int64_t(uniform() * double(n)); }   // [0, n)
    bool chance(double p) { return uniform() < p; }
    double normal() {  // Box–Muller
        double u1 = 1.0 - uniform(), u2 = uniform();
        return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    }
    int64_t geometric(double mean) {  // on {1, 2, ...} with the given mean
        if (mean <= 1) return 1;
        double p = 1.0 / mean;
        return 1 + int64_t(std::floor(std::log(1.0 - uniform()) / std::log(1.0 - p)));
    }
};

// Sample index k with probability w[k] / Σw: cumulative sums + binary search.
struct Discrete {
    std::vector<double> cum;
    explicit Discrete(const std::vector<double>& w = {}) {
        double s = 0;
        for (double x : w) cum.push_back(s += x);
    }
    int32_t sample(Rng& r) const {
        double x = r.uniform() * cum.back();
        return int32_t(std::upper_bound(cum.begin(), cum.end(), x) - cum.begin());
    }
};

struct CategoryDef {
    const char *zh, *en;
    const char *noun_zh[2], *noun_en[2];
    double price;  // typical price (yuan)
};

// The built-in catalogue: 32 categories, two product kinds each.
const CategoryDef kCategories[] = {
    {"手机", "Phones", {"智能手机", "5G手机"}, {"Smartphone", "5G Phone"}, 2500},
    {"耳机", "Headphones", {"无线耳机", "头戴式耳机"}, {"Wireless Earbuds", "Over-ear Headphones"}, 300},
    {"笔记本电脑", "Laptops", {"轻薄本", "游戏本"}, {"Ultrabook", "Gaming Laptop"}, 5500},
    {"键盘", "Keyboards", {"机械键盘", "无线键盘"}, {"Mechanical Keyboard", "Wireless Keyboard"}, 250},
    {"手表", "Watches", {"智能手表", "石英表"}, {"Smartwatch", "Quartz Watch"}, 900},
    {"运动鞋", "Sneakers", {"跑步鞋", "篮球鞋"}, {"Running Shoes", "Basketball Shoes"}, 450},
    {"连衣裙", "Dresses", {"碎花连衣裙", "针织连衣裙"}, {"Floral Dress", "Knit Dress"}, 260},
    {"T恤", "T-shirts", {"纯棉T恤", "印花T恤"}, {"Cotton T-shirt", "Graphic Tee"}, 80},
    {"牛仔裤", "Jeans", {"直筒牛仔裤", "修身牛仔裤"}, {"Straight Jeans", "Slim Jeans"}, 200},
    {"背包", "Bags", {"双肩包", "电脑包"}, {"Backpack", "Laptop Bag"}, 220},
    {"口红", "Lipstick", {"哑光口红", "唇釉"}, {"Matte Lipstick", "Lip Gloss"}, 180},
    {"护肤", "Skincare", {"保湿面霜", "精华液"}, {"Moisturizer", "Serum"}, 320},
    {"洗护", "Hair care", {"去屑洗发水", "护发素"}, {"Anti-dandruff Shampoo", "Conditioner"}, 60},
    {"咖啡", "Coffee", {"咖啡豆", "挂耳咖啡"}, {"Coffee Beans", "Drip Coffee Bags"}, 90},
    {"茶叶", "Tea", {"绿茶", "普洱茶"}, {"Green Tea", "Pu-erh Tea"}, 150},
    {"零食", "Snacks", {"每日坚果", "牛肉干"}, {"Mixed Nuts", "Beef Jerky"}, 45},
    {"猫粮", "Cat food", {"全价猫粮", "猫罐头"}, {"Cat Food", "Canned Cat Food"}, 120},
    {"狗粮", "Dog food", {"成犬粮", "狗零食"}, {"Adult Dog Food", "Dog Treats"}, 140},
    {"图书", "Books", {"科幻小说", "编程书"}, {"Sci-fi Novel", "Programming Book"}, 55},
    {"玩具", "Toys", {"积木", "毛绒玩具"}, {"Building Blocks", "Plush Toy"}, 160},
    {"母婴", "Baby care", {"纸尿裤", "奶瓶"}, {"Diapers", "Baby Bottle"}, 110},
    {"厨具", "Cookware", {"不粘锅", "刀具套装"}, {"Non-stick Pan", "Knife Set"}, 190},
    {"床上用品", "Bedding", {"四件套", "乳胶枕"}, {"Bedding Set", "Latex Pillow"}, 280},
    {"露营", "Camping", {"帐篷", "睡袋"}, {"Tent", "Sleeping Bag"}, 420},
    {"瑜伽", "Yoga", {"瑜伽垫", "瑜伽服"}, {"Yoga Mat", "Yoga Wear"}, 130},
    {"水杯", "Drinkware", {"保温杯", "玻璃杯"}, {"Vacuum Flask", "Glass Tumbler"}, 85},
    {"骑行", "Cycling", {"公路车", "骑行头盔"}, {"Road Bike", "Cycling Helmet"}, 1600},
    {"相机", "Cameras", {"微单相机", "镜头"}, {"Mirrorless Camera", "Camera Lens"}, 4800},
    {"游戏", "Gaming", {"游戏手柄", "游戏机"}, {"Game Controller", "Game Console"}, 600},
    {"家电", "Appliances", {"空气炸锅", "扫地机器人"}, {"Air Fryer", "Robot Vacuum"}, 700},
    {"香水", "Fragrance", {"淡香水", "香薰"}, {"Eau de Toilette", "Aroma Diffuser"}, 380},
    {"文具", "Stationery", {"钢笔", "笔记本"}, {"Fountain Pen", "Notebook"}, 40},
};
constexpr int kNumCategories = int(sizeof(kCategories) / sizeof(kCategories[0]));

const char* kAdjZh[] = {"轻薄", "经典", "新款", "高端", "便携", "加厚", "迷你", "复古", "智能", "大容量", "静音", "防水", "有机", "简约", "限量"};
const char* kAdjEn[] = {"Lightweight", "Classic", "New", "Premium", "Portable", "Thick", "Mini", "Retro", "Smart", "Large", "Silent", "Waterproof", "Organic", "Minimalist", "Limited"};
constexpr int kNumAdj = int(sizeof(kAdjZh) / sizeof(kAdjZh[0]));

const char* kSyllables[] = {"ko", "va", "ni", "lu", "mo", "ra", "ti", "sen", "pa", "zo", "ki", "an", "bel", "do", "fi", "ga",
                            "ha", "jo", "ly", "mi", "no", "or", "ri", "sa", "tu", "ve", "xi", "yo", "ze", "nor", "lin", "tar"};
const char* kHanzi[] = {"安", "博", "辰", "达", "恩", "飞", "光", "华", "佳", "凯", "朗", "美", "楠", "欧", "品", "青",
                        "瑞", "森", "拓", "维", "星", "雅", "悦", "卓", "云", "悠", "致", "极", "米", "酷", "禾", "然"};

struct Brand {
    std::string zh, en;
};

std::string csv_field(const std::string& f) {
    if (f.find_first_of(",\"\r\n") == std::string::npos) return f;
    std::string o = "\"";
    for (char c : f) {
        if (c == '"') o += '"';
        o += c;
    }
    return o + "\"";
}

struct Ev {
    int64_t time;
    int32_t user, item;
    int8_t type;  // 0 pv, 1 fav, 2 cart, 3 buy
    int64_t seq;  // generation order (tie-break, keeps the sort deterministic)
};

}  // namespace

ShopStats gen_shop(const ShopOptions& o, const std::string& dir) {
    TG_CHECK(o.n_users >= 1 && o.n_items >= 1, "gen-shop: need at least one user and one item");
    TG_CHECK(o.n_categories >= 1 && o.n_categories <= kNumCategories, "gen-shop: --categories must be in 1..", kNumCategories);
    TG_CHECK(o.n_items >= o.n_categories, "gen-shop: need at least one item per category (", o.n_categories, ")");
    TG_CHECK(o.brands_per_category >= 1 && o.brands_per_category <= 50, "gen-shop: brands per category must be in 1..50");
    TG_CHECK(o.days >= 1 && o.sessions_mean > 0 && o.views_per_session >= 1, "gen-shop: bad days/sessions/views");
    TG_CHECK(o.explore >= 0 && o.explore <= 1 && o.brand_loyalty >= 0 && o.brand_loyalty <= 1, "gen-shop: explore and brand loyalty are probabilities");
    TG_CHECK(o.p_fav >= 0 && o.p_cart >= 0 && o.p_fav + o.p_cart <= 1 && o.p_buy_given_cart >= 0 && o.p_buy_given_cart <= 1,
             "gen-shop: funnel probabilities must lie in [0, 1]");
    Rng rng(o.seed * 0x2545F4914F6CDD1DULL + 0x1234567ULL);
    const int C = o.n_categories;

    // ---- catalogue: categories (sizes skewed), brands, items --------------------------------
    // Category weight ~ 1/(rank+1)^0.6 with a random rank: some categories are much bigger.
    std::vector<int> cat_rank(static_cast<size_t>(C));
    std::iota(cat_rank.begin(), cat_rank.end(), 0);
    for (int k = C - 1; k > 0; k--) std::swap(cat_rank[size_t(k)], cat_rank[size_t(rng.below(k + 1))]);
    std::vector<double> cat_w(static_cast<size_t>(C));
    for (int c = 0; c < C; c++) cat_w[size_t(c)] = 1.0 / std::pow(cat_rank[size_t(c)] + 1.0, 0.6);
    Discrete cat_pick(cat_w);

    // Brands: brands_per_category per category plus C/4 (at least 1) brands that span categories.
    std::vector<Brand> brands;
    std::set<std::string> used;
    auto new_brand = [&]() {
        for (;;) {
            std::string en;
            int ns = 2 + int(rng.below(2));
            for (int k = 0; k < ns; k++) en += kSyllables[rng.below(32)];
            en[0] = char(en[0] - 'a' + 'A');
            int h1 = int(rng.below(32)), h2 = int(rng.below(31));
            std::string zh = std::string(kHanzi[h1]) + kHanzi[h2 >= h1 ? h2 + 1 : h2];  // two different characters
            if (used.insert(en).second && used.insert(zh).second) {
                brands.push_back({zh, en});
                return int32_t(brands.size() - 1);
            }
        }
    };
    std::vector<std::vector<int32_t>> cat_brands(static_cast<size_t>(C));
    for (int c = 0; c < C; c++)
        for (int b = 0; b < o.brands_per_category; b++) cat_brands[size_t(c)].push_back(new_brand());
    std::vector<int32_t> wide_brands;
    for (int b = 0; b < std::max(1, C / 4); b++) wide_brands.push_back(new_brand());

    // Items: every category gets one, the rest by category weight; brand by a skewed draw among the
    // category's brands (10% from the cross-category brands).
    struct Item {
        int32_t cat, brand;
        std::string title_zh, title_en;
        double price;
    };
    std::vector<Item> items(static_cast<size_t>(o.n_items));
    std::vector<std::vector<int32_t>> cat_items(static_cast<size_t>(C));
    std::vector<double> brand_w;
    for (int b = 0; b < o.brands_per_category; b++) brand_w.push_back(1.0 / std::pow(b + 1.0, 0.8));
    Discrete brand_pick(brand_w);
    for (int32_t i = 0; i < o.n_items; i++) {
        Item& it = items[size_t(i)];
        it.cat = i < C ? i : cat_pick.sample(rng);
        const CategoryDef& cd = kCategories[it.cat];
        it.brand = rng.chance(0.1) ? wide_brands[size_t(rng.below(int64_t(wide_brands.size())))]
                                   : cat_brands[size_t(it.cat)][size_t(brand_pick.sample(rng))];
        int adj = int(rng.below(kNumAdj)), noun = int(rng.below(2));
        std::string model = str(char('A' + rng.below(26)), 1 + rng.below(99));
        const Brand& br = brands[size_t(it.brand)];
        it.title_zh = str(br.zh, " ", kAdjZh[adj], cd.noun_zh[noun], " ", model);
        it.title_en = str(br.en, " ", kAdjEn[adj], " ", cd.noun_en[noun], " ", model);
        it.price = std::round(cd.price * std::exp(0.5 * rng.normal()) * 10.0) / 10.0;
        cat_items[size_t(it.cat)].push_back(i);
    }
    // Popularity inside a category: Zipf over a random order of its items.
    std::vector<Discrete> cat_pop(static_cast<size_t>(C));
    std::vector<std::vector<std::pair<int32_t, Discrete>>> brand_pop(static_cast<size_t>(C));  // (brand, items of it)
    std::vector<double> item_pop(static_cast<size_t>(o.n_items));
    for (int c = 0; c < C; c++) {
        auto& v = cat_items[size_t(c)];
        for (size_t k = v.size(); k > 1; k--) std::swap(v[k - 1], v[size_t(rng.below(int64_t(k)))]);
        std::vector<double> w(v.size());
        for (size_t k = 0; k < v.size(); k++) w[k] = item_pop[size_t(v[k])] = 1.0 / std::pow(double(k + 1), o.zipf_s);
        cat_pop[size_t(c)] = Discrete(w);
    }
    // Items of (category, brand), by popularity, for brand-loyal views.
    auto brand_items = [&](int c, int32_t b, std::vector<int32_t>& out) {
        out.clear();
        for (int32_t i : cat_items[size_t(c)])
            if (items[size_t(i)].brand == b) out.push_back(i);
    };

    // ---- users and their planted interests ----------------------------------------------------
    struct User {
        std::vector<int> cats;
        std::vector<double> cat_w;
        std::vector<int32_t> fav_brand;  // per favourite category, -1 = none
        int64_t sessions;
    };
    std::vector<User> users(static_cast<size_t>(o.n_users));
    const double hour_w[24] = {3, 1.5, 0.8, 0.5, 0.4, 0.5, 1, 2, 3, 4, 4.5, 5, 6, 5.5, 5, 5, 5.5, 6, 7, 8.5, 10, 10, 8, 5};
    Discrete hour_pick(std::vector<double>(hour_w, hour_w + 24));
    std::vector<Ev> evs;
    std::vector<int32_t> tmp;
    int64_t seq = 0;
    for (int32_t u = 0; u < o.n_users; u++) {
        User& us = users[size_t(u)];
        int nfav = std::min(C, 1 + int(rng.chance(0.55)) + int(rng.chance(0.25)));
        while (int(us.cats.size()) < nfav) {
            int c = cat_pick.sample(rng);
            if (std::find(us.cats.begin(), us.cats.end(), c) == us.cats.end()) us.cats.push_back(c);
        }
        for (int c : us.cats) {
            us.cat_w.push_back(0.5 + rng.uniform());
            int32_t b = -1;
            if (rng.chance(0.8)) {
                b = cat_brands[size_t(c)][size_t(brand_pick.sample(rng))];
                brand_items(c, b, tmp);
                if (tmp.empty()) b = -1;
            }
            us.fav_brand.push_back(b);
        }
        Discrete fav_pick(us.cat_w);
        // log-normal sessions with mean sessions_mean: mu = log(mean) - sigma²/2, sigma = 0.8
        us.sessions = std::max<int64_t>(1, std::llround(std::exp(std::log(o.sessions_mean) - 0.32 + 0.8 * rng.normal())));

        // ---- sessions -> events ----
        for (int64_t s = 0; s < us.sessions; s++) {
            int64_t t = o.start_time + rng.below(o.days) * 86400 + hour_pick.sample(rng) * 3600 + rng.below(3600);
            int c, fav_slot = -1;
            if (rng.chance(o.explore)) {
                c = cat_pick.sample(rng);
            } else {
                fav_slot = fav_pick.sample(rng);
                c = us.cats[size_t(fav_slot)];
            }
            int32_t fb = fav_slot >= 0 ? us.fav_brand[size_t(fav_slot)] : -1;
            std::vector<double> bw;
            if (fb >= 0) {
                brand_items(c, fb, tmp);
                for (int32_t i : tmp) bw.push_back(item_pop[size_t(i)]);
            }
            Discrete fb_pick(bw);
            int64_t nviews = rng.geometric(o.views_per_session);
            for (int64_t v = 0; v < nviews; v++) {
                int32_t item = fb >= 0 && rng.chance(o.brand_loyalty) ? tmp[size_t(fb_pick.sample(rng))]
                                                                       : cat_items[size_t(c)][size_t(cat_pop[size_t(c)].sample(rng))];
                evs.push_back({t, u, item, 0, seq++});
                double x = rng.uniform();
                if (x < o.p_fav) {
                    evs.push_back({t + 3 + rng.below(30), u, item, 1, seq++});
                } else if (x < o.p_fav + o.p_cart) {
                    evs.push_back({t + 5 + rng.below(60), u, item, 2, seq++});
                    if (rng.chance(o.p_buy_given_cart)) evs.push_back({t + 60 + rng.below(1800), u, item, 3, seq++});
                }
                t += 10 + rng.below(290);
            }
        }
    }
    std::sort(evs.begin(), evs.end(), [](const Ev& a, const Ev& b) { return a.time != b.time ? a.time < b.time : a.seq < b.seq; });

    // ---- write ----------------------------------------------------------------------------------
    if (::mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST) TG_FAIL(dir, ": cannot create directory (", std::strerror(errno), ")");
    auto user_id = [](int32_t u) { return std::to_string(100001 + u); };
    // item ids: a fixed scramble of the index (i * 7919 mod a prime > n), so ids do not reveal order
    const int64_t P = 1000003;
    TG_CHECK(o.n_items < P, "gen-shop: at most ", P - 1, " items");
    auto item_id = [&](int32_t i) { return std::to_string(5000000 + (int64_t(i) + 1) * 7919 % P); };
    static const char* kType[4] = {"pv", "fav", "cart", "buy"};
    ShopStats st;
    std::string out = "user_id,item_id,event,timestamp\n";
    out.reserve(evs.size() * 32);
    for (auto& e : evs) {
        out += user_id(e.user);
        out += ',';
        out += item_id(e.item);
        out += ',';
        out += kType[e.type];
        out += ',';
        out += std::to_string(e.time);
        out += '\n';
        (e.type == 0 ? st.pv : e.type == 1 ? st.fav : e.type == 2 ? st.cart : st.buy)++;
    }
    write_file_atomic(dir + "/events.csv", out);
    out = "item_id,category,brand,title,title_zh,title_en,price\n";
    for (int32_t i = 0; i < o.n_items; i++) {
        const Item& it = items[size_t(i)];
        const CategoryDef& cd = kCategories[it.cat];
        const Brand& br = brands[size_t(it.brand)];
        out += str(item_id(i), ",", csv_field(str(cd.en, " ", cd.zh)), ",", csv_field(str(br.en, " ", br.zh)), ",",
                   csv_field(it.title_zh + " / " + it.title_en), ",", csv_field(it.title_zh), ",", csv_field(it.title_en), ",",
                   it.price, "\n");
    }
    write_file_atomic(dir + "/items.csv", out);
    out = "user_id,categories,brands,sessions\n";
    for (int32_t u = 0; u < o.n_users; u++) {
        const User& us = users[size_t(u)];
        std::string cs, bs;
        for (size_t k = 0; k < us.cats.size(); k++) {
            cs += str(k ? "|" : "", kCategories[us.cats[k]].en, " ", kCategories[us.cats[k]].zh);
            if (us.fav_brand[k] >= 0)
                bs += str(bs.empty() ? "" : "|", brands[size_t(us.fav_brand[k])].en, " ", brands[size_t(us.fav_brand[k])].zh);
        }
        out += str(user_id(u), ",", csv_field(cs), ",", csv_field(bs), ",", us.sessions, "\n");
    }
    write_file_atomic(dir + "/interests.csv", out);
    write_file_atomic(dir + "/README.txt",
                      str("Synthetic shop log written by `tastegraph gen-shop` (src/graph/gen_shop.h explains the model).\n"
                          "events.csv     user_id,item_id,event,timestamp (pv/fav/cart/buy, Unix seconds, time order)\n"
                          "items.csv      item_id,category,brand,title,title_zh,title_en,price\n"
                          "interests.csv  user_id,categories,brands,sessions: each user's planted favourite categories and brands\n\n"
                          "options: users=", o.n_users, " items=", o.n_items, " categories=", C, " brands_per_category=",
                          o.brands_per_category, " days=", o.days, " sessions_mean=", o.sessions_mean,
                          " views_per_session=", o.views_per_session, " explore=", o.explore, " brand_loyalty=", o.brand_loyalty,
                          " zipf_s=", o.zipf_s, " p_fav=", o.p_fav, " p_cart=", o.p_cart, " p_buy_given_cart=", o.p_buy_given_cart,
                          " start_time=", o.start_time, " seed=", o.seed, "\n"));
    st.events = int64_t(evs.size());
    st.users = o.n_users;
    st.items = o.n_items;
    st.categories = C;
    st.brands = int32_t(brands.size());
    return st;
}

}  // namespace tg::graph
