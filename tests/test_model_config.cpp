// test_model_config.cpp — config.json and sentence-transformers files: small hand-written directories
// (created in /tmp by the test), the committed tiny BERT fixture, and the real all-MiniLM-L6-v2
// directory when `make weights` has fetched it.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "nn/model_config.h"
#include "tensor/common.h"
#include "tensor/io.h"
#include "test_util.h"

using namespace tg;

static const char* kConfig = R"({"architectures":["BertModel"],"hidden_act":"gelu","hidden_size":32,
 "intermediate_size":64,"layer_norm_eps":1e-7,"max_position_embeddings":160,"model_type":"bert",
 "num_attention_heads":4,"num_hidden_layers":2,"pad_token_id":1,"position_embedding_type":"absolute",
 "type_vocab_size":2,"vocab_size":256,"transformers_version":"4.40.0","use_cache":true})";

static const char* kModules = R"([
 {"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
 {"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},
 {"idx":2,"name":"2","path":"2_Normalize","type":"sentence_transformers.models.Normalize"}])";

// A scratch model directory under /tmp, removed at the end of the test.
struct TempModelDir {
    std::string dir = "/tmp/tg_test_model_" + std::to_string(::getpid());
    TempModelDir() {
        std::filesystem::remove_all(dir);
        std::filesystem::create_directory(dir);
    }
    ~TempModelDir() { std::filesystem::remove_all(dir); }
    void put(const std::string& rel, const std::string& text) {
        std::filesystem::create_directories(std::filesystem::path(dir + "/" + rel).parent_path());
        std::ofstream(dir + "/" + rel, std::ios::binary) << text;  // plain write: no fsync, tests stay fast
    }
    void pooling(const std::string& modes) {
        put("1_Pooling/config.json", R"({"word_embedding_dimension":32,)" + modes + "}");
    }
};

static std::string replace(std::string s, const std::string& from, const std::string& to) {
    auto k = s.find(from);
    REQUIRE(k != std::string::npos);
    return s.replace(k, from.size(), to);
}

static std::string error_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const tg::Error& e) {
        return e.what();
    }
    return "(no error)";
}

TEST_CASE("model_config: config.json keys, defaults and checks") {
    BertConfig c = parse_bert_config(json::parse(kConfig), "cfg.json");
    CHECK(c.vocab_size == 256);
    CHECK(c.hidden_size == 32);
    CHECK(c.num_hidden_layers == 2);
    CHECK(c.num_attention_heads == 4);
    CHECK(c.head_size() == 8);
    CHECK(c.intermediate_size == 64);
    CHECK(c.max_position_embeddings == 160);
    CHECK(c.type_vocab_size == 2);
    CHECK(c.pad_token_id == 1);
    CHECK(c.layer_norm_eps == 1e-7);
    CHECK(c.hidden_act == "gelu");
    CHECK_FALSE(c.gelu_tanh());

    // transformers' BertConfig defaults for the optional keys
    auto d = parse_bert_config(json::parse(R"({"model_type":"bert","vocab_size":10,"hidden_size":4,"num_hidden_layers":1,
        "num_attention_heads":2,"intermediate_size":8,"max_position_embeddings":16,"type_vocab_size":1,"pad_token_id":null})"), "d");
    CHECK(d.hidden_act == "gelu");
    CHECK(d.layer_norm_eps == 1e-12);
    CHECK(d.pad_token_id == 0);
    CHECK(parse_bert_config(json::parse(replace(kConfig, "\"gelu\"", "\"gelu_new\"")), "x").gelu_tanh());

    struct Bad {
        std::string from, to;
        const char* needle;
    };
    std::vector<Bad> bad = {
        {"\"model_type\":\"bert\"", "\"model_type\":\"roberta\"", "model_type 'roberta' is not supported"},
        {"\"model_type\":\"bert\",", "", ""},  // no model_type but a BertModel architecture: accepted
        {"\"hidden_size\":32,", "", "missing key 'hidden_size'"},
        {"\"vocab_size\":256", "\"vocab_size\":\"256\"", "key 'vocab_size': expected an integer, got \"256\""},
        {"\"num_hidden_layers\":2", "\"num_hidden_layers\":2.5", "key 'num_hidden_layers': expected an integer"},
        {"\"type_vocab_size\":2", "\"type_vocab_size\":0", "key 'type_vocab_size': 0 is out of range"},
        {"\"num_attention_heads\":4", "\"num_attention_heads\":5", "hidden_size 32 is not divisible by num_attention_heads 5"},
        {"\"hidden_act\":\"gelu\"", "\"hidden_act\":\"relu\"", "hidden_act 'relu' is not supported"},
        {"\"layer_norm_eps\":1e-7", "\"layer_norm_eps\":0", "layer_norm_eps': expected a positive number"},
        {"\"position_embedding_type\":\"absolute\"", "\"position_embedding_type\":\"relative_key\"",
         "position_embedding_type 'relative_key' is not supported"},
        {"\"pad_token_id\":1", "\"pad_token_id\":256", "pad_token_id 256 is outside the vocabulary"},
    };
    for (auto& b : bad) {
        std::string text = replace(kConfig, b.from, b.to);
        std::string e = error_of([&] { parse_bert_config(json::parse(text), "my/config.json"); });
        CAPTURE(text);
        if (!*b.needle) {
            CHECK(e == "(no error)");
            continue;
        }
        CHECK_MESSAGE(e.find(b.needle) != std::string::npos, e);
        CHECK(e.find("my/config.json") != std::string::npos);
    }
    std::string noarch = replace(replace(kConfig, "\"model_type\":\"bert\",", ""), "BertModel", "GPT2Model");
    CHECK(error_of([&] { parse_bert_config(json::parse(noarch), "c"); }).find("\"GPT2Model\" is not a BERT model") !=
          std::string::npos);
}

TEST_CASE("model_config: sentence-transformers directory") {
    TempModelDir m;
    m.put("config.json", kConfig);
    CHECK(error_of([&] { load_model_dir(m.dir); }).find("no model.safetensors") != std::string::npos);
    m.put("pytorch_model.bin", "x");
    CHECK(error_of([&] { load_model_dir(m.dir); }).find("convert it with") != std::string::npos);
    m.put("model.safetensors", "");  // load_model_dir only checks that it is there (nn/bert.h reads it)

    // No modules.json: a plain transformers directory.
    ModelFiles f = load_model_dir(m.dir);
    CHECK_FALSE(f.st.present);
    CHECK_FALSE(f.st.pooling.has_value());
    CHECK(f.weights == m.dir + "/model.safetensors");
    CHECK(f.vocab.empty());
    CHECK(f.config.hidden_size == 32);

    m.put("modules.json", kModules);
    m.pooling(R"("pooling_mode_cls_token":false,"pooling_mode_mean_tokens":true,"pooling_mode_max_tokens":false,
                 "pooling_mode_mean_sqrt_len_tokens":false)");
    m.put("sentence_bert_config.json", R"({"max_seq_length":128,"do_lower_case":false})");
    m.put("vocab.txt", "[PAD]\n");
    f = load_model_dir(m.dir);
    CHECK(f.st.present);
    REQUIRE(f.st.pooling.has_value());
    CHECK(*f.st.pooling == PoolMode::mean);
    CHECK(f.st.normalize);
    CHECK(f.st.word_embedding_dimension == 32);
    CHECK(f.st.max_seq_length == 128);
    CHECK(f.st.do_lower_case == std::optional<bool>(false));
    CHECK(f.vocab == m.dir + "/vocab.txt");

    m.pooling(R"("pooling_mode_cls_token":true)");
    CHECK(*load_model_dir(m.dir).st.pooling == PoolMode::cls);
    m.pooling(R"("pooling_mode_max_tokens":true)");
    CHECK(*load_model_dir(m.dir).st.pooling == PoolMode::max);

    // Without Normalize
    m.put("modules.json", replace(kModules, R"(,
 {"idx":2,"name":"2","path":"2_Normalize","type":"sentence_transformers.models.Normalize"})", ""));
    CHECK_FALSE(load_model_dir(m.dir).st.normalize);

    struct Bad {
        std::function<void()> setup;
        const char* needle;
    };
    std::vector<Bad> bad = {
        {[&] { m.pooling(R"("pooling_mode_cls_token":true,"pooling_mode_mean_tokens":true)"); },
         "exactly one of pooling_mode_cls_token, pooling_mode_mean_tokens, pooling_mode_max_tokens must be true (2 are)"},
        {[&] { m.pooling(R"("pooling_mode_mean_tokens":false)"); }, "(0 are)"},
        {[&] { m.pooling(R"("pooling_mode_mean_sqrt_len_tokens":true)"); }, "pooling_mode_mean_sqrt_len_tokens is not supported"},
        {[&] { m.pooling(R"("pooling_mode_mean_tokens":"yes")"); }, "key 'pooling_mode_mean_tokens': expected true or false"},
        {[&] { m.put("1_Pooling/config.json", R"({"word_embedding_dimension":64,"pooling_mode_mean_tokens":true})"); },
         "word_embedding_dimension 64 differs from hidden_size 32"},
        {[&] { m.put("modules.json", replace(kModules, "models.Normalize", "models.Dense")); },
         "type 'sentence_transformers.models.Dense' is not supported"},
        {[&] { m.put("modules.json", "{}"); }, "expected a JSON array of modules"},
        {[&] { m.put("modules.json", "[]"); }, "no sentence_transformers.models.Transformer module"},
        {[&] { m.put("modules.json", replace(kModules, "1_Pooling", "9_Pooling")); }, "9_Pooling/config.json: cannot open"},
        {[&] { m.put("sentence_bert_config.json", R"({"max_seq_length":1000})"); }, "max_seq_length 1000 exceeds max_position_embeddings 160"},
        {[&] { m.put("sentence_bert_config.json", R"({"max_seq_length":128,"do_lower_case":1})"); },
         "sentence_bert_config.json: key 'do_lower_case': expected true or false"},
        {[&] { m.put("config.json", "{\"model_type\": \"bert\",}"); }, "config.json: invalid JSON"},
    };
    for (auto& b : bad) {
        m.put("config.json", kConfig);
        m.put("modules.json", kModules);
        m.pooling(R"("pooling_mode_mean_tokens":true)");
        m.put("sentence_bert_config.json", R"({"max_seq_length":128})");
        REQUIRE(error_of([&] { load_model_dir(m.dir); }) == "(no error)");
        b.setup();
        std::string e = error_of([&] { load_model_dir(m.dir); });
        CHECK_MESSAGE(e.find(b.needle) != std::string::npos, e);
    }
    CHECK(error_of([] { load_model_dir("/nonexistent/model"); }).find("does not exist") != std::string::npos);
}

TEST_CASE("model_config: legacy layout with the transformer in 0_Transformer/") {
    TempModelDir m;
    m.put("modules.json", replace(kModules, R"("path":"")", R"("path":"0_Transformer")"));
    m.pooling(R"("pooling_mode_cls_token":true)");
    m.put("0_Transformer/config.json", kConfig);
    m.put("0_Transformer/model.safetensors", "");
    m.put("0_Transformer/sentence_bert_config.json", R"({"max_seq_length":64,"do_lower_case":true})");
    ModelFiles f = load_model_dir(m.dir);
    CHECK(f.transformer_dir == m.dir + "/0_Transformer");
    CHECK(f.weights == m.dir + "/0_Transformer/model.safetensors");
    CHECK(f.st.max_seq_length == 64);
    CHECK(f.st.do_lower_case == std::optional<bool>(true));
    CHECK(*f.st.pooling == PoolMode::cls);
}

TEST_CASE("model_config: committed tiny BERT and the real all-MiniLM-L6-v2") {
    ModelFiles t = load_model_dir(test::fixture("bert/tiny"));
    CHECK(t.config.hidden_size == 32);
    CHECK(t.config.num_hidden_layers == 2);
    CHECK(*t.st.pooling == PoolMode::mean);
    CHECK(t.st.normalize);
    CHECK(t.st.max_seq_length == 128);

    std::string dir = test::source_dir() + "/weights/all-MiniLM-L6-v2";
    if (!file_exists(dir + "/model.safetensors")) {
        MESSAGE("weights/all-MiniLM-L6-v2 not fetched (make weights); skipping");
        return;
    }
    ModelFiles f = load_model_dir(dir);  // values from the model card / its config.json
    CHECK(f.config.vocab_size == 30522);
    CHECK(f.config.hidden_size == 384);
    CHECK(f.config.num_hidden_layers == 6);
    CHECK(f.config.num_attention_heads == 12);
    CHECK(f.config.intermediate_size == 1536);
    CHECK(f.config.max_position_embeddings == 512);
    CHECK(*f.st.pooling == PoolMode::mean);
    CHECK(f.st.normalize);
    CHECK(f.st.max_seq_length == 256);
    CHECK(f.st.do_lower_case == std::optional<bool>(false));
}
