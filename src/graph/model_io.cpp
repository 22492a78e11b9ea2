// model_io.cpp — save/load recommender model files (layout in model_io.h).
#include "graph/model_io.h"

#include <cstring>
#include <tuple>
#include <utility>

#include "tensor/common.h"
#include "tensor/json.h"
#include "tensor/safetensors.h"

namespace tg::graph {

namespace {

constexpr const char* kFormat = "tastegraph.recmodel";

// Ids as one byte blob + end offsets (ids may hold any bytes, so no separator is safe).
void pack_ids(const IdMap& m, std::string& blob, std::vector<int64_t>& ends) {
    for (const auto& s : m.names) {
        blob += s;
        ends.push_back(int64_t(blob.size()));
    }
}

IdMap unpack_ids(const SafeTensorsFile& f, const char* blob_name, const char* ends_name, int64_t n) {
    const SafeTensor& ends = f.get(ends_name, DType::i64, {n});
    const SafeTensor& blob = f.get(blob_name);
    TG_CHECK(blob.dtype == DType::u8 && blob.shape.size() == 1, f.path(), ": tensor '", blob_name, "' must be U8 [bytes]");
    IdMap m;
    int64_t prev = 0;
    for (int64_t k = 0; k < n; k++) {
        int64_t e;
        std::memcpy(&e, ends.data + 8 * k, 8);
        TG_CHECK(e >= prev && e <= int64_t(blob.nbytes), f.path(), ": '", ends_name, "'[", k, "] = ", e,
                 " is not a valid end offset");
        std::string s(reinterpret_cast<const char*>(blob.data) + prev, size_t(e - prev));
        TG_CHECK(m.find(s) < 0, f.path(), ": duplicate id '", s, "' in ", blob_name);
        m.get_or_add(s);
        prev = e;
    }
    return m;
}

template <typename T>
std::vector<T> copy_tensor(const SafeTensor& t) {
    std::vector<T> v(t.nbytes / sizeof(T));
    if (t.nbytes) std::memcpy(v.data(), t.data, t.nbytes);
    return v;
}

}  // namespace

void save_model(const std::string& path, const RecModel& m) {
    const int64_t U = m.n_users, I = m.n_items, D = m.dim;
    TG_CHECK(int64_t(m.user_emb.size()) == U * D && int64_t(m.item_emb.size()) == I * D, "save_model ", path,
             ": embeddings are ", m.user_emb.size(), " and ", m.item_emb.size(), " floats, expected ", U, "x", D,
             " and ", I, "x", D);
    TG_CHECK(m.train.rows == U && m.train.cols == I, "save_model ", path, ": train matrix is ", m.train.rows, "x",
             m.train.cols, ", expected ", U, "x", I);
    TG_CHECK(m.users.size() == U && m.items.size() == I, "save_model ", path, ": id maps have ", m.users.size(),
             " users and ", m.items.size(), " items, expected ", U, " and ", I);
    std::string ublob, iblob;
    std::vector<int64_t> uends, iends;
    pack_ids(m.users, ublob, uends);
    pack_ids(m.items, iblob, iends);
    std::vector<SafeTensorWrite> t = {
        {"user_emb", DType::f32, {U, D}, m.user_emb.data(), m.user_emb.size() * 4},
        {"item_emb", DType::f32, {I, D}, m.item_emb.data(), m.item_emb.size() * 4},
        {"train_indptr", DType::i64, {U + 1}, m.train.indptr.data(), m.train.indptr.size() * 8},
        {"train_indices", DType::i32, {m.train.nnz()}, m.train.indices.data(), m.train.indices.size() * 4},
        {"user_ids", DType::u8, {int64_t(ublob.size())}, ublob.data(), ublob.size()},
        {"user_id_ends", DType::i64, {U}, uends.data(), uends.size() * 8},
        {"item_ids", DType::u8, {int64_t(iblob.size())}, iblob.data(), iblob.size()},
        {"item_id_ends", DType::i64, {I}, iends.data(), iends.size() * 8},
    };
    for (const auto& [name, v] : m.state)
        t.push_back({"state." + name, DType::f32, {int64_t(v.size())}, v.data(), v.size() * 4});
    json::parse(m.config_json, "model config");  // must be valid JSON
    save_safetensors(path, t,
                     {{"format", kFormat}, {"version", "1"}, {"kind", m.kind}, {"config", m.config_json}});
}

namespace {
// The header of a model file: checks format and version, returns kind and config.
std::pair<std::string, std::string> read_header(const SafeTensorsFile& f, const std::string& path) {
    std::string format, version, kind, config = "{}";
    for (const auto& [k, v] : f.metadata()) {
        if (k == "format") format = v;
        if (k == "version") version = v;
        if (k == "kind") kind = v;
        if (k == "config") config = v;
    }
    TG_CHECK(format == kFormat, path, ": not a tastegraph model file (metadata format = '", format, "')");
    TG_CHECK(version == "1", path, ": unsupported model file version '", version, "'");
    return {kind, config};
}
}  // namespace

std::string load_model_config(const std::string& path) { return read_header(SafeTensorsFile(path), path).second; }

RecModel load_model(const std::string& path) {
    SafeTensorsFile f(path);
    RecModel m;
    std::tie(m.kind, m.config_json) = read_header(f, path);
    const SafeTensor& ue = f.get("user_emb");
    TG_CHECK(ue.dtype == DType::f32 && ue.shape.size() == 2, path, ": user_emb must be F32 [U, D]");
    m.n_users = ue.shape[0];
    m.dim = ue.shape[1];
    const SafeTensor& ie = f.get("item_emb");
    TG_CHECK(ie.dtype == DType::f32 && ie.shape.size() == 2 && ie.shape[1] == m.dim, path,
             ": item_emb must be F32 [I, ", m.dim, "]");
    m.n_items = ie.shape[0];
    m.user_emb = copy_tensor<float>(ue);
    m.item_emb = copy_tensor<float>(ie);
    m.train.rows = m.n_users;
    m.train.cols = m.n_items;
    m.train.indptr = copy_tensor<int64_t>(f.get("train_indptr", DType::i64, {m.n_users + 1}));
    const SafeTensor& ix = f.get("train_indices");
    TG_CHECK(ix.dtype == DType::i32 && ix.shape.size() == 1, path, ": train_indices must be I32 [nnz]");
    m.train.indices = copy_tensor<int32_t>(ix);
    TG_CHECK(m.train.indptr[0] == 0 && m.train.indptr.back() == m.train.nnz(), path, ": train_indptr is inconsistent");
    for (int64_t u = 0; u < m.n_users; u++) {
        TG_CHECK(m.train.indptr[size_t(u + 1)] >= m.train.indptr[size_t(u)], path, ": train_indptr decreases at ", u);
        for (int64_t e = m.train.row_begin(u); e < m.train.row_end(u); e++) {
            const int32_t i = m.train.indices[size_t(e)];
            TG_CHECK(i >= 0 && i < m.n_items && (e == m.train.row_begin(u) || i > m.train.indices[size_t(e - 1)]),
                     path, ": train_indices of user ", u, " out of range or unsorted");
        }
    }
    m.users = unpack_ids(f, "user_ids", "user_id_ends", m.n_users);
    m.items = unpack_ids(f, "item_ids", "item_id_ends", m.n_items);
    for (const auto& t : f.tensors())
        if (t.name.rfind("state.", 0) == 0) {
            TG_CHECK(t.dtype == DType::f32, path, ": state tensor '", t.name, "' must be F32");
            m.state[t.name.substr(6)] = copy_tensor<float>(t);
        }
    return m;
}

}  // namespace tg::graph
