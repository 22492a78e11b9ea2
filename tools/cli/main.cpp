// main.cpp — the `tastegraph` binary: dispatch to a registered subcommand (see cli.h).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

#include "cli.h"
#include "tensor/common.h"
#include "tensor/cpu_isa.h"
#include "tensor/parallel.h"

namespace tg::cli {

std::vector<Command>& registry() {
    static std::vector<Command> r;
    return r;
}

Args::Args(std::string command, std::vector<std::string> tokens)
    : command_(std::move(command)), tok_(std::move(tokens)), used_(tok_.size(), false) {}

static bool name_matches(const std::string& tok, const char* name, std::string* inline_value) {
    size_t n = std::strlen(name);
    if (tok == name) return true;
    if (tok.size() > n + 1 && tok.compare(0, n, name) == 0 && tok[n] == '=' && name[1] == '-') {
        *inline_value = tok.substr(n + 1);
        return true;
    }
    return false;
}

std::vector<std::string> Args::values(std::initializer_list<const char*> names) {
    std::vector<std::string> out;
    for (size_t i = 0; i < tok_.size(); i++) {
        if (used_[i]) continue;
        for (const char* nm : names) {
            std::string inl;
            if (!name_matches(tok_[i], nm, &inl)) continue;
            used_[i] = true;
            if (!inl.empty()) {
                out.push_back(inl);
            } else {
                if (i + 1 >= tok_.size()) throw Error(str("option ", nm, " needs a value"));
                used_[i + 1] = true;
                out.push_back(tok_[i + 1]);
                i++;
            }
            break;
        }
    }
    return out;
}

bool Args::given(std::initializer_list<const char*> names) const {
    for (size_t i = 0; i < tok_.size(); i++) {
        if (used_[i]) continue;
        std::string inl;
        for (const char* nm : names)
            if (name_matches(tok_[i], nm, &inl)) return true;
    }
    return false;
}

std::optional<std::string> Args::value(std::initializer_list<const char*> names) {
    auto v = values(names);
    if (v.empty()) return std::nullopt;
    return v.back();
}

std::string Args::value_or(std::initializer_list<const char*> names, const std::string& dflt) {
    auto v = value(names);
    return v ? *v : dflt;
}

std::string Args::required(std::initializer_list<const char*> names) {
    auto v = value(names);
    if (!v) throw Error(str("missing required option ", *names.begin(), " (see --help)"));
    return *v;
}

int64_t Args::int_or(std::initializer_list<const char*> names, int64_t dflt) {
    auto v = value(names);
    if (!v) return dflt;
    char* end = nullptr;
    long long x = std::strtoll(v->c_str(), &end, 10);
    if (v->empty() || *end) throw Error(str("option ", *names.begin(), ": expected an integer, got '", *v, "'"));
    return x;
}

double Args::double_or(std::initializer_list<const char*> names, double dflt) {
    auto v = value(names);
    if (!v) return dflt;
    char* end = nullptr;
    double x = std::strtod(v->c_str(), &end);
    if (v->empty() || *end) throw Error(str("option ", *names.begin(), ": expected a number, got '", *v, "'"));
    return x;
}

bool Args::flag(std::initializer_list<const char*> names) {
    bool found = false;
    for (size_t i = 0; i < tok_.size(); i++) {
        if (used_[i]) continue;
        for (const char* nm : names)
            if (tok_[i] == nm) {
                used_[i] = true;
                found = true;
            }
    }
    return found;
}

bool Args::help() { return flag({"-h", "--help"}); }

std::vector<std::string> Args::positional() {
    std::vector<std::string> out;
    for (size_t i = 0; i < tok_.size(); i++)
        if (!used_[i] && (tok_[i].empty() || tok_[i][0] != '-' || tok_[i] == "-")) {
            used_[i] = true;
            out.push_back(tok_[i]);
        }
    return out;
}

void Args::finish() {
    for (size_t i = 0; i < tok_.size(); i++)
        if (!used_[i]) throw Error(str("unknown or misplaced argument '", tok_[i], "' (see tastegraph ", command_, " --help)"));
}

void apply_threads(Args& a) {
    int64_t n = a.int_or({"--threads"}, 0);
    if (n < 0) throw Error("--threads must be >= 1");
    set_num_threads(int(n));
}

}  // namespace tg::cli

static void usage(FILE* f) {
    std::fprintf(f,
                 "tastegraph — user interest graphs and recommendations from text (BERT) and behaviour logs\n\n"
                 "usage: tastegraph <command> [options]   (tastegraph <command> --help for details)\n\ncommands:\n");
    auto cmds = tg::cli::registry();
    std::sort(cmds.begin(), cmds.end(), [](auto& a, auto& b) { return std::strcmp(a.name, b.name) < 0; });
    for (auto& c : cmds) std::fprintf(f, "  %-12s %s\n", c.name, c.summary);
    std::fprintf(f, "\nenvironment: TG_THREADS=N (threads, default = cores), TG_ISA=scalar|avx2|avx512 (force a kernel path)\n");
    std::fprintf(f, "cpu: %s kernels, %d threads\n", tg::isa_name(tg::cpu_isa()), tg::num_threads());
}

int main(int argc, char** argv) {
    if (argc < 2 || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "help")) {
        usage(stdout);
        return argc < 2 ? 2 : 0;
    }
    std::string name = argv[1];
    for (auto& c : tg::cli::registry()) {
        if (name != c.name) continue;
        tg::cli::Args args(name, std::vector<std::string>(argv + 2, argv + argc));
        try {
            return c.fn(args);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "tastegraph %s: error: %s\n", name.c_str(), e.what());
            return 1;
        }
    }
    std::fprintf(stderr, "tastegraph: unknown command '%s'\n\n", name.c_str());
    usage(stderr);
    return 2;
}
