// graph_io.cpp — see graph_io.h for the file layout. The payload is written by Writer and read back
// by Reader in the same fixed order; Reader checks every length against the bytes left, so a file
// whose header was patched to pass the checksum still cannot make the loader read out of bounds.
#include "graph/graph_io.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "tensor/common.h"
#include "tensor/io.h"

namespace tg::graph {

static constexpr char kMagic[8] = {'T', 'G', 'G', 'R', 'A', 'P', 'H', '\0'};
static constexpr size_t kHeaderBytes = 32;

uint64_t fnv1a64(const void* data, size_t n, uint64_t h) {
    auto* p = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

const Relation* InterestGraph::find_relation(std::string_view name) const {
    for (auto& r : relations)
        if (r.name == name) return &r;
    return nullptr;
}

int32_t InterestGraph::node_count(std::string_view type) const {
    if (type == "user") return data.n_users;
    if (type == "item") return data.n_items;
    if (type == "category") return categories.size();
    if (type == "brand") return brands.size();
    return -1;
}

// ---- writing --------------------------------------------------------------------------------

namespace {

struct Writer {
    std::string out;
    template <typename T>
    void pod(const T& v) {
        out.append(reinterpret_cast<const char*>(&v), sizeof(T));
    }
    template <typename T>
    void vec(const std::vector<T>& v) {
        pod(uint64_t(v.size()));
        out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
    }
    void string(std::string_view s) {
        pod(uint64_t(s.size()));
        out.append(s);
    }
    void strings(const std::vector<std::string>& v) {
        pod(uint64_t(v.size()));
        for (auto& s : v) string(s);
    }
    void csr(const Csr& m) {
        pod(m.rows);
        pod(m.cols);
        vec(m.indptr);
        vec(m.indices);
        vec(m.values);
    }
};

struct Reader {
    const char* p;
    const char* end;
    const std::string& name;
    const char* field = "";  // what is being read, for messages

    void need(uint64_t n) {
        if (uint64_t(end - p) < n)
            TG_FAIL(name, ": corrupt graph file: field '", field, "' needs ", n, " bytes, ", end - p, " left");
    }
    template <typename T>
    T pod() {
        need(sizeof(T));
        T v;
        std::memcpy(&v, p, sizeof(T));
        p += sizeof(T);
        return v;
    }
    template <typename T>
    std::vector<T> vec() {
        uint64_t n = pod<uint64_t>();
        if (n > uint64_t(end - p) / sizeof(T))
            TG_FAIL(name, ": corrupt graph file: field '", field, "' claims ", n, " elements, more than the file holds");
        std::vector<T> v(n);
        std::memcpy(v.data(), p, n * sizeof(T));
        p += n * sizeof(T);
        return v;
    }
    std::string string() {
        uint64_t n = pod<uint64_t>();
        need(n);
        std::string s(p, n);
        p += n;
        return s;
    }
    std::vector<std::string> strings() {
        uint64_t n = pod<uint64_t>();
        if (n > uint64_t(end - p) / 8)
            TG_FAIL(name, ": corrupt graph file: field '", field, "' claims ", n, " strings, more than the file holds");
        std::vector<std::string> v(n);
        for (auto& s : v) s = string();
        return v;
    }
    Csr csr() {
        Csr m;
        m.rows = pod<int64_t>();
        m.cols = pod<int64_t>();
        m.indptr = vec<int64_t>();
        m.indices = vec<int32_t>();
        m.values = vec<float>();
        check_csr(m);
        return m;
    }
    // Structural invariants of csr.h: rows+1 monotone offsets from 0 to nnz, sorted unique columns.
    void check_csr(const Csr& m) {
        auto bad = [&](const std::string& what) { TG_FAIL(name, ": corrupt graph file: matrix '", field, "': ", what); };
        if (m.rows < 0 || m.cols < 0 || m.cols > INT32_MAX) bad(str("bad shape ", m.rows, "x", m.cols));
        if (m.indptr.size() != size_t(m.rows) + 1) bad(str("indptr has ", m.indptr.size(), " entries for ", m.rows, " rows"));
        if (m.indptr[0] != 0 || m.indptr.back() != m.nnz()) bad("indptr does not run from 0 to nnz");
        if (!m.values.empty() && m.values.size() != m.indices.size()) bad("values and indices differ in length");
        for (int64_t r = 0; r < m.rows; r++) {
            if (m.indptr[size_t(r) + 1] < m.indptr[size_t(r)]) bad(str("indptr decreases at row ", r));
            for (int64_t e = m.row_begin(r); e < m.row_end(r); e++) {
                int32_t c = m.indices[size_t(e)];
                if (c < 0 || c >= m.cols) bad(str("column ", c, " out of range in row ", r));
                if (e > m.row_begin(r) && c <= m.indices[size_t(e) - 1]) bad(str("columns not sorted/unique in row ", r));
            }
        }
    }
};

IdMap idmap_from(std::vector<std::string> names, const std::string& file, const char* what) {
    IdMap m;
    m.index.reserve(names.size());
    for (size_t i = 0; i < names.size(); i++)
        if (!m.index.emplace(names[i], int32_t(i)).second)
            TG_FAIL(file, ": corrupt graph file: duplicate ", what, " id '", names[i], "'");
    m.names = std::move(names);
    return m;
}

}  // namespace

std::string serialize_graph(const InterestGraph& g) {
    const Dataset& d = g.data;
    TG_CHECK(d.users.size() == d.n_users && d.items.size() == d.n_items,
             "serialize_graph: id maps (", d.users.size(), " users, ", d.items.size(), " items) do not match counts (",
             d.n_users, ", ", d.n_items, ")");
    TG_CHECK(d.train.rows == d.n_users && d.train.cols == d.n_items, "serialize_graph: train matrix is ",
             d.train.rows, "x", d.train.cols, ", expected ", d.n_users, "x", d.n_items);
    Writer w;
    w.string(g.meta_json);
    w.pod(d.n_users);
    w.pod(d.n_items);
    w.strings(d.users.names);
    w.strings(d.items.names);
    w.csr(d.train);
    // test split as offsets + items (a CSR without values)
    std::vector<int64_t> toff(size_t(d.n_users) + 1, 0);
    std::vector<int32_t> titems;
    for (int32_t u = 0; u < d.n_users; u++) {
        if (size_t(u) < d.test.size()) titems.insert(titems.end(), d.test[size_t(u)].begin(), d.test[size_t(u)].end());
        toff[size_t(u) + 1] = int64_t(titems.size());
    }
    w.vec(toff);
    w.vec(titems);
    w.strings(g.categories.names);
    w.strings(g.brands.names);
    w.strings(g.item_titles);
    w.pod(uint64_t(g.relations.size()));
    for (auto& r : g.relations) {
        w.string(r.name);
        w.string(r.src);
        w.string(r.dst);
        w.csr(r.adj);
    }

    std::string file(kHeaderBytes, '\0');
    uint32_t version = kGraphFormatVersion, reserved = 0;
    uint64_t size = w.out.size(), hash = fnv1a64(w.out.data(), w.out.size());
    std::memcpy(&file[0], kMagic, 8);
    std::memcpy(&file[8], &version, 4);
    std::memcpy(&file[12], &reserved, 4);
    std::memcpy(&file[16], &size, 8);
    std::memcpy(&file[24], &hash, 8);
    file += w.out;
    return file;
}

InterestGraph deserialize_graph(std::string_view bytes, const std::string& name) {
    if (bytes.size() < 8 || std::memcmp(bytes.data(), kMagic, 8) != 0)
        TG_FAIL(name, ": not a tastegraph graph file (bad magic; expected \"TGGRAPH\")");
    if (bytes.size() < kHeaderBytes)
        TG_FAIL(name, ": truncated graph file: ", bytes.size(), " bytes, the header alone is ", kHeaderBytes);
    uint32_t version;
    uint64_t size, hash;
    std::memcpy(&version, bytes.data() + 8, 4);
    std::memcpy(&size, bytes.data() + 16, 8);
    std::memcpy(&hash, bytes.data() + 24, 8);
    if (version != kGraphFormatVersion)
        TG_FAIL(name, ": graph file format version ", version, " is not supported (this build reads version ",
                kGraphFormatVersion, "); rebuild it with `tastegraph graph build`");
    if (bytes.size() - kHeaderBytes < size)
        TG_FAIL(name, ": truncated graph file: header promises ", size, " payload bytes, file has ",
                bytes.size() - kHeaderBytes);
    if (bytes.size() - kHeaderBytes > size)
        TG_FAIL(name, ": graph file has ", bytes.size() - kHeaderBytes - size, " unexpected trailing bytes");
    const char* payload = bytes.data() + kHeaderBytes;
    if (fnv1a64(payload, size) != hash) TG_FAIL(name, ": graph file checksum mismatch: the file is corrupted");

    Reader r{payload, payload + size, name};
    InterestGraph g;
    Dataset& d = g.data;
    d.source = name;
    r.field = "meta";
    g.meta_json = r.string();
    r.field = "counts";
    d.n_users = r.pod<int32_t>();
    d.n_items = r.pod<int32_t>();
    if (d.n_users < 0 || d.n_items < 0) TG_FAIL(name, ": corrupt graph file: negative node counts");
    r.field = "user ids";
    d.users = idmap_from(r.strings(), name, "user");
    r.field = "item ids";
    d.items = idmap_from(r.strings(), name, "item");
    if (d.users.size() != d.n_users || d.items.size() != d.n_items)
        TG_FAIL(name, ": corrupt graph file: id map sizes do not match the node counts");
    r.field = "train";
    d.train = r.csr();
    if (d.train.rows != d.n_users || d.train.cols != d.n_items)
        TG_FAIL(name, ": corrupt graph file: train matrix is ", d.train.rows, "x", d.train.cols);
    r.field = "test";
    auto toff = r.vec<int64_t>();
    auto titems = r.vec<int32_t>();
    if (toff.size() != size_t(d.n_users) + 1 || toff[0] != 0 || toff.back() != int64_t(titems.size()))
        TG_FAIL(name, ": corrupt graph file: test offsets inconsistent");
    d.test.resize(size_t(d.n_users));
    for (int32_t u = 0; u < d.n_users; u++) {
        int64_t b = toff[size_t(u)], e = toff[size_t(u) + 1];
        if (b > e) TG_FAIL(name, ": corrupt graph file: test offsets decrease at user ", u);
        for (int64_t k = b; k < e; k++)
            if (titems[size_t(k)] < 0 || titems[size_t(k)] >= d.n_items)
                TG_FAIL(name, ": corrupt graph file: test item ", titems[size_t(k)], " out of range");
        d.test[size_t(u)].assign(titems.begin() + b, titems.begin() + e);
    }
    r.field = "category ids";
    g.categories = idmap_from(r.strings(), name, "category");
    r.field = "brand ids";
    g.brands = idmap_from(r.strings(), name, "brand");
    r.field = "item titles";
    g.item_titles = r.strings();
    if (!g.item_titles.empty() && g.item_titles.size() != size_t(d.n_items))
        TG_FAIL(name, ": corrupt graph file: ", g.item_titles.size(), " item titles for ", d.n_items, " items");
    r.field = "relations";
    uint64_t nrel = r.pod<uint64_t>();
    if (nrel > 1024) TG_FAIL(name, ": corrupt graph file: ", nrel, " relations");
    for (uint64_t k = 0; k < nrel; k++) {
        Relation rel;
        rel.name = r.string();
        rel.src = r.string();
        rel.dst = r.string();
        r.field = "relation";
        rel.adj = r.csr();
        int32_t ns = g.node_count(rel.src), nd = g.node_count(rel.dst);
        if (ns < 0 || nd < 0 || rel.adj.rows != ns || rel.adj.cols != nd)
            TG_FAIL(name, ": corrupt graph file: relation '", rel.name, "' (", rel.src, " -> ", rel.dst, ") is ",
                    rel.adj.rows, "x", rel.adj.cols);
        g.relations.push_back(std::move(rel));
    }
    if (r.p != r.end) TG_FAIL(name, ": corrupt graph file: ", r.end - r.p, " unread payload bytes");
    return g;
}

void save_graph(const std::string& path, const InterestGraph& g) {
    std::string bytes = serialize_graph(g);
    AtomicFile f(path);
    f.write(bytes);
    f.commit();
}

InterestGraph load_graph(const std::string& path) {
    MappedFile f(path);
    return deserialize_graph(std::string_view(reinterpret_cast<const char*>(f.data()), f.size()), path);
}

// RFC 4180 field: quoted when it holds a comma, quote, CR or LF.
static void csv_field(std::string& out, const std::string& f) {
    if (f.find_first_of(",\"\r\n") == std::string::npos) {
        out += f;
        return;
    }
    out += '"';
    for (char c : f) {
        if (c == '"') out += '"';
        out += c;
    }
    out += '"';
}

void export_graph_tables(const InterestGraph& g, const std::string& dir) {
    if (::mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST) TG_FAIL(dir, ": cannot create directory (", std::strerror(errno), ")");
    const Dataset& d = g.data;
    std::string users = "index,user_id\n";
    for (int32_t u = 0; u < d.n_users; u++) {
        users += std::to_string(u) + ",";
        csv_field(users, d.users.name(u));
        users += "\n";
    }
    write_file_atomic(dir + "/users.csv", users);
    // item -> category / brand from the attribute relations (at most one of each per item)
    auto attr_of = [&](const char* rel, const IdMap& names, int32_t i) -> std::string {
        const Relation* r = g.find_relation(rel);
        if (!r || r->adj.row_begin(i) == r->adj.row_end(i)) return "";
        return names.name(r->adj.indices[size_t(r->adj.row_begin(i))]);
    };
    std::string items = "index,item_id,category,brand,title\n";
    for (int32_t i = 0; i < d.n_items; i++) {
        items += std::to_string(i) + ",";
        csv_field(items, d.items.name(i));
        items += ",";
        csv_field(items, attr_of("in_category", g.categories, i));
        items += ",";
        csv_field(items, attr_of("has_brand", g.brands, i));
        items += ",";
        csv_field(items, g.item_titles.empty() ? std::string() : g.item_titles[size_t(i)]);
        items += "\n";
    }
    write_file_atomic(dir + "/items.csv", items);
    write_lightgcn_dir(dir, d);
}

bool is_graph_file(const std::string& path) {
    MappedFile f(path);
    return f.size() >= 8 && std::memcmp(f.data(), kMagic, 8) == 0;
}

}  // namespace tg::graph
