// cli.h — subcommand registry and a small argument parser for the `tastegraph` binary.
//
// Each subcommand lives in its own tools/cli/cmd_<name>.cpp and registers itself:
//     static int cmd_tokenize(tg::cli::Args& a) { ... return 0; }
//     TG_COMMAND("tokenize", "split text into WordPiece tokens", cmd_tokenize);
// main() looks the name up, builds Args from the remaining argv and calls the function. Library
// errors (tg::Error) are caught in main, printed as "tastegraph <cmd>: error: ..." and exit 1.
//
// Args is consumed: a command asks for each option it knows (value(), flag(), values()), then calls
// finish(), which rejects anything left over (an unknown option is an error, not silently ignored).
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace tg::cli {

class Args {
   public:
    Args(std::string command, std::vector<std::string> tokens);
    const std::string& command() const { return command_; }
    // Option with a value: names like {"-m", "--model"}. Accepts "--x v" and "--x=v". Last one wins.
    std::optional<std::string> value(std::initializer_list<const char*> names);
    std::string value_or(std::initializer_list<const char*> names, const std::string& dflt);
    std::string required(std::initializer_list<const char*> names);  // throws naming the option
    int64_t int_or(std::initializer_list<const char*> names, int64_t dflt);
    double double_or(std::initializer_list<const char*> names, double dflt);
    // True if the option appears (not yet consumed); does not consume it.
    bool given(std::initializer_list<const char*> names) const;
    // Repeatable option: every occurrence, in order.
    std::vector<std::string> values(std::initializer_list<const char*> names);
    // Boolean flag (no value).
    bool flag(std::initializer_list<const char*> names);
    // True if -h/--help was given (consumes it).
    bool help();
    // Remaining positional arguments (tokens not starting with '-'), consumed.
    std::vector<std::string> positional();
    // Throw if anything was not consumed.
    void finish();

   private:
    std::string command_;
    std::vector<std::string> tok_;
    std::vector<bool> used_;
};

using CommandFn = int (*)(Args&);

struct Command {
    const char* name;
    const char* summary;
    CommandFn fn;
};

std::vector<Command>& registry();

struct Registrar {
    Registrar(const char* name, const char* summary, CommandFn fn) { registry().push_back({name, summary, fn}); }
};

// Common option: --threads N (also TG_THREADS); call from commands that compute.
void apply_threads(Args& a);

}  // namespace tg::cli

#define TG_CLI_CAT2(a, b) a##b
#define TG_CLI_CAT(a, b) TG_CLI_CAT2(a, b)
#define TG_COMMAND(name, summary, fn) static ::tg::cli::Registrar TG_CLI_CAT(tg_cmd_reg_, __LINE__)(name, summary, fn)
