// The command line's flag parser and the error kinds of `sparsead`: each verb declares
// its flags in a table (name, value or switch, help line), the parser refuses anything
// not in the table by name, and the help text is generated from the same table so the
// two cannot drift apart. Errors are split by exit code: a UsageError (2) is a command
// line the program could not make sense of; any other sad::Error (1) is a problem with a
// file, the data or the machine.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tensor/check.h"

namespace sad::cli {

// A command line error: exit code 2 and a pointer to --help.
class UsageError : public Error {
 public:
  using Error::Error;
};

struct FlagSpec {
  std::string name;        // "--data"
  std::string value_name;  // "DIR"; empty for a switch
  std::string help;        // one line
  bool repeatable = false;
};

struct VerbSpec {
  std::string name;     // "train"
  std::string usage;    // the synopsis after "sparsead "
  std::string summary;  // what the verb does (a paragraph)
  std::vector<FlagSpec> flags;
  std::string epilog;  // extra help text (option lists, examples)
};

// The flags given on one command line. `--flag value` and `--flag=value` are both accepted;
// `--set` also takes every following `key=value` word up to the next flag.
class Args {
 public:
  // Throws UsageError naming the flag: unknown flag, missing value, a flag given twice
  // that is not repeatable, a stray positional word.
  static Args parse(const VerbSpec& spec, const std::vector<std::string>& words);

  bool has(const std::string& flag) const { return values_.count(flag) != 0; }
  // The single value of a flag (or nullopt when absent).
  std::optional<std::string> get(const std::string& flag) const;
  std::string get_or(const std::string& flag, const std::string& fallback) const;
  // Every value of a repeatable flag, in command-line order.
  std::vector<std::string> all(const std::string& flag) const;
  // A required flag: UsageError "<verb>: missing required flag --x" when absent.
  std::string require(const std::string& flag) const;

  // Typed values: UsageError naming the flag and the bad value when it does not parse or
  // lies outside [lo, hi].
  std::optional<int64_t> get_int(const std::string& flag, int64_t lo, int64_t hi) const;
  std::optional<double> get_double(const std::string& flag, double lo, double hi) const;
  // One of `choices`, else UsageError listing them.
  std::optional<std::string> get_choice(const std::string& flag, const std::vector<std::string>& choices) const;

  const std::string& verb() const { return verb_; }

 private:
  std::string verb_;
  std::map<std::string, std::vector<std::string>> values_;
};

// The verb's --help text (usage, summary, one line per flag, epilog).
std::string help_text(const VerbSpec& spec);

// Parses an integer / finite number strictly (the whole word); nullopt otherwise.
std::optional<int64_t> parse_int(const std::string& s);
std::optional<double> parse_double(const std::string& s);

// Strips the developer suffixes of a sad::Error message (" [check failed: ...]" and
// " [file.cpp:123]") and folds it onto one line, for the user-facing error line.
// SPARSEAD_DEBUG=1 in the environment keeps the suffixes.
std::string user_message(const std::string& what);

}  // namespace sad::cli
