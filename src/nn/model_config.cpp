// model_config.cpp — config.json / sentence-transformers readers; see model_config.h.
#include "nn/model_config.h"

#include "tensor/common.h"
#include "tensor/io.h"

namespace tg {

// ---- typed access with errors naming file and key --------------------------------------------------

static json::Value load_json(const std::string& path) { return json::parse(read_file(path), path); }

static std::string shown(const json::Value& v) {
    std::string s = json::dump(v);
    return s.size() > 40 ? s.substr(0, 40) + "..." : s;
}

static int64_t get_int(const json::Value& doc, const char* key, const std::string& path, int64_t min_value,
                       std::optional<int64_t> dflt = std::nullopt) {
    const json::Value* v = doc.find(key);
    if (!v || (v->is_null() && dflt)) {
        if (dflt) return *dflt;
        throw Error(str(path, ": missing key '", key, "'"));
    }
    if (!v->is_number() || !v->is_int) throw Error(str(path, ": key '", key, "': expected an integer, got ", shown(*v)));
    if (v->i < min_value) throw Error(str(path, ": key '", key, "': ", v->i, " is out of range (must be >= ", min_value, ")"));
    return v->i;
}

static bool get_bool(const json::Value& doc, const char* key, const std::string& path, bool dflt) {
    const json::Value* v = doc.find(key);
    if (!v || v->is_null()) return dflt;
    if (!v->is_bool()) throw Error(str(path, ": key '", key, "': expected true or false, got ", shown(*v)));
    return v->b;
}

static std::string get_string(const json::Value& doc, const char* key, const std::string& path, const std::string& dflt) {
    const json::Value* v = doc.find(key);
    if (!v) return dflt;
    if (!v->is_string()) throw Error(str(path, ": key '", key, "': expected a string, got ", shown(*v)));
    return v->s;
}

// ---- config.json ----------------------------------------------------------------------------------

BertConfig parse_bert_config(const json::Value& v, const std::string& path) {
    if (!v.is_object()) throw Error(str(path, ": expected a JSON object"));
    // model_type is what transformers dispatches on; very old configs lack it, then the architectures
    // list (if any) must name a Bert* class.
    if (v.find("model_type")) {
        std::string t = get_string(v, "model_type", path, "");
        if (t != "bert")
            throw Error(str(path, ": model_type '", t, "' is not supported (only BERT-architecture models, model_type 'bert')"));
    } else if (const json::Value* arch = v.find("architectures"); arch && arch->is_array()) {
        for (auto& a : arch->arr)
            if (!a.is_string() || a.s.rfind("Bert", 0) != 0)
                throw Error(str(path, ": no model_type and architecture ", shown(a), " is not a BERT model"));
    }
    BertConfig c;
    c.path = path;
    c.vocab_size = get_int(v, "vocab_size", path, 1);
    c.hidden_size = get_int(v, "hidden_size", path, 1);
    c.num_hidden_layers = get_int(v, "num_hidden_layers", path, 1);
    c.num_attention_heads = get_int(v, "num_attention_heads", path, 1);
    c.intermediate_size = get_int(v, "intermediate_size", path, 1);
    c.max_position_embeddings = get_int(v, "max_position_embeddings", path, 1);
    c.type_vocab_size = get_int(v, "type_vocab_size", path, 1);
    c.pad_token_id = get_int(v, "pad_token_id", path, 0, int64_t(0));
    if (c.pad_token_id >= c.vocab_size)
        throw Error(str(path, ": pad_token_id ", c.pad_token_id, " is outside the vocabulary (vocab_size ", c.vocab_size, ")"));
    if (c.hidden_size % c.num_attention_heads != 0)
        throw Error(str(path, ": hidden_size ", c.hidden_size, " is not divisible by num_attention_heads ",
                        c.num_attention_heads));

    c.hidden_act = get_string(v, "hidden_act", path, "gelu");
    if (c.hidden_act != "gelu" && c.hidden_act != "gelu_new" && c.hidden_act != "gelu_pytorch_tanh")
        throw Error(str(path, ": hidden_act '", c.hidden_act, "' is not supported (gelu, gelu_new, gelu_pytorch_tanh)"));
    if (const json::Value* e = v.find("layer_norm_eps")) {
        if (!e->is_number() || !(e->num > 0))
            throw Error(str(path, ": key 'layer_norm_eps': expected a positive number, got ", shown(*e)));
        c.layer_norm_eps = e->num;
    }
    std::string pos = get_string(v, "position_embedding_type", path, "absolute");
    if (pos != "absolute")
        throw Error(str(path, ": position_embedding_type '", pos, "' is not supported (only 'absolute')"));
    return c;
}

BertConfig load_bert_config(const std::string& path) { return parse_bert_config(load_json(path), path); }

// ---- sentence-transformers ------------------------------------------------------------------------

static const char* kTransformer = "sentence_transformers.models.Transformer";
static const char* kPooling = "sentence_transformers.models.Pooling";
static const char* kNormalize = "sentence_transformers.models.Normalize";

static std::string join(const std::string& dir, const std::string& rel) {
    if (rel.empty()) return dir;
    return dir.empty() || dir.back() == '/' ? dir + rel : dir + "/" + rel;
}

// 1_Pooling/config.json: exactly one of the cls / mean / max modes (several at once would concatenate
// the pooled vectors, which we do not implement; the other modes neither).
static void read_pooling(const std::string& path, SentenceTransformersConfig& st) {
    json::Value v = load_json(path);
    if (!v.is_object()) throw Error(str(path, ": expected a JSON object"));
    for (const char* k : {"pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"})
        if (get_bool(v, k, path, false)) throw Error(str(path, ": ", k, " is not supported (cls, mean or max pooling only)"));
    bool cls = get_bool(v, "pooling_mode_cls_token", path, false);
    bool mean = get_bool(v, "pooling_mode_mean_tokens", path, false);
    bool mx = get_bool(v, "pooling_mode_max_tokens", path, false);
    if (int(cls) + int(mean) + int(mx) != 1)
        throw Error(str(path, ": exactly one of pooling_mode_cls_token, pooling_mode_mean_tokens, ",
                        "pooling_mode_max_tokens must be true (", int(cls) + int(mean) + int(mx), " are)"));
    st.pooling = cls ? PoolMode::cls : mean ? PoolMode::mean : PoolMode::max;
    st.word_embedding_dimension = get_int(v, "word_embedding_dimension", path, 1, int64_t(0));
}

SentenceTransformersConfig load_sentence_transformers_config(const std::string& dir) {
    SentenceTransformersConfig st;
    const std::string mpath = join(dir, "modules.json");
    if (file_exists(mpath)) {
        st.present = true;
        json::Value m = load_json(mpath);
        if (!m.is_array()) throw Error(str(mpath, ": expected a JSON array of modules"));
        enum { start, transformer, pooled, normalized } state = start;
        for (size_t k = 0; k < m.arr.size(); k++) {
            const json::Value& e = m.arr[k];
            const std::string where = str(mpath, ": module ", k);
            if (!e.is_object()) throw Error(str(where, ": expected a JSON object"));
            std::string type = get_string(e, "type", where, "");
            std::string rel = get_string(e, "path", where, "");
            if (type == kTransformer && state == start) {
                st.transformer_path = rel;
                state = transformer;
            } else if (type == kPooling && state == transformer) {
                read_pooling(join(join(dir, rel), "config.json"), st);
                state = pooled;
            } else if (type == kNormalize && (state == pooled || state == transformer)) {
                st.normalize = true;
                state = normalized;
            } else {
                throw Error(str(where, ": ", type.empty() ? std::string("module without a type") : "type '" + type + "'",
                                " is not supported here (supported pipeline: Transformer, then Pooling, then Normalize)"));
            }
        }
        if (state == start) throw Error(str(mpath, ": no sentence_transformers.models.Transformer module"));
    }
    // sentence_bert_config.json sits beside the transformer's files (the model dir in current layouts).
    const std::string spath = join(join(dir, st.transformer_path), "sentence_bert_config.json");
    if (file_exists(spath)) {
        json::Value s = load_json(spath);
        if (!s.is_object()) throw Error(str(spath, ": expected a JSON object"));
        st.max_seq_length = get_int(s, "max_seq_length", spath, 1, int64_t(0));
        if (const json::Value* lc = s.find("do_lower_case"); lc && !lc->is_null())
            st.do_lower_case = get_bool(s, "do_lower_case", spath, false);
    }
    return st;
}

// ---- the whole directory --------------------------------------------------------------------------

ModelFiles load_model_dir(const std::string& dir) {
    if (!file_exists(dir)) throw Error(str("model directory ", dir, " does not exist (see `make weights`)"));
    ModelFiles f;
    f.dir = dir;
    f.st = load_sentence_transformers_config(dir);
    f.transformer_dir = join(dir, f.st.transformer_path);
    const std::string cfg = join(f.transformer_dir, "config.json");
    if (!file_exists(cfg)) throw Error(str("model directory ", dir, ": no config.json in ", f.transformer_dir));
    f.config = load_bert_config(cfg);

    f.weights = join(f.transformer_dir, "model.safetensors");
    if (!file_exists(f.weights)) {
        if (file_exists(join(f.transformer_dir, "pytorch_model.bin")))
            throw Error(str("model directory ", dir, ": only pytorch_model.bin, no model.safetensors (convert it with ",
                            "tools/convert_pytorch_bin.py)"));
        throw Error(str("model directory ", dir, ": no model.safetensors"));
    }
    std::string vocab = join(f.transformer_dir, "vocab.txt");
    f.vocab = file_exists(vocab) ? vocab : "";

    if (f.st.word_embedding_dimension && f.st.word_embedding_dimension != f.config.hidden_size)
        throw Error(str("model directory ", dir, ": the pooling config's word_embedding_dimension ",
                        f.st.word_embedding_dimension, " differs from hidden_size ", f.config.hidden_size, " in ", cfg));
    if (f.st.max_seq_length > f.config.max_position_embeddings)
        throw Error(str("model directory ", dir, ": sentence_bert_config.json max_seq_length ", f.st.max_seq_length,
                        " exceeds max_position_embeddings ", f.config.max_position_embeddings));
    return f;
}

}  // namespace tg
