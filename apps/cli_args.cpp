// The flag parser and help generator of apps/cli_args.h.
#include "apps/cli_args.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "tensor/text.h"

namespace sad::cli {

namespace {

const FlagSpec* find_flag(const VerbSpec& spec, const std::string& name) {
  for (const FlagSpec& f : spec.flags)
    if (f.name == name) return &f;
  return nullptr;
}

std::string see_help(const std::string& verb) { return " (see 'sparsead " + verb + " --help')"; }

}  // namespace

std::optional<int64_t> parse_int(const std::string& s) { return parse_int64(s); }

std::optional<double> parse_double(const std::string& s) {
  if (s.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (errno != 0 || end == s.c_str() || *end != '\0' || !std::isfinite(v)) return std::nullopt;
  return v;
}

Args Args::parse(const VerbSpec& spec, const std::vector<std::string>& words) {
  Args a;
  a.verb_ = spec.name;
  for (size_t i = 0; i < words.size(); ++i) {
    std::string word = words[i];
    if (word.rfind("--", 0) != 0 || word.size() == 2)
      throw UsageError(spec.name + ": unexpected argument '" + word + "'" + see_help(spec.name));
    std::string name = word, inline_value;
    bool has_inline = false;
    if (size_t eq = word.find('='); eq != std::string::npos) {
      name = word.substr(0, eq);
      inline_value = word.substr(eq + 1);
      has_inline = true;
    }
    const FlagSpec* f = find_flag(spec, name);
    if (!f) throw UsageError(spec.name + ": unknown flag '" + name + "'" + see_help(spec.name));
    if (a.values_.count(name) && !f->repeatable)
      throw UsageError(spec.name + ": flag " + name + " given more than once");
    std::vector<std::string>& slot = a.values_[name];
    if (f->value_name.empty()) {
      if (has_inline) throw UsageError(spec.name + ": flag " + name + " takes no value");
      slot.push_back("");
      continue;
    }
    if (has_inline) {
      slot.push_back(inline_value);
    } else {
      if (i + 1 >= words.size() || (words[i + 1].rfind("--", 0) == 0 && words[i + 1].size() > 2))
        throw UsageError(spec.name + ": flag " + name + " needs a value (" + f->value_name + ")");
      slot.push_back(words[++i]);
    }
    // `--set a=1 b=2`: the words after --set that look like key=value belong to it.
    if (name == "--set")
      while (i + 1 < words.size() && words[i + 1].rfind("-", 0) != 0 && words[i + 1].find('=') != std::string::npos)
        slot.push_back(words[++i]);
  }
  return a;
}

std::optional<std::string> Args::get(const std::string& flag) const {
  auto it = values_.find(flag);
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::string Args::get_or(const std::string& flag, const std::string& fallback) const {
  return get(flag).value_or(fallback);
}

std::vector<std::string> Args::all(const std::string& flag) const {
  auto it = values_.find(flag);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

std::string Args::require(const std::string& flag) const {
  std::optional<std::string> v = get(flag);
  if (!v) throw UsageError(verb_ + ": missing required flag " + flag + see_help(verb_));
  if (v->empty()) throw UsageError(verb_ + ": flag " + flag + " has an empty value");
  return *v;
}

std::optional<int64_t> Args::get_int(const std::string& flag, int64_t lo, int64_t hi) const {
  std::optional<std::string> s = get(flag);
  if (!s) return std::nullopt;
  std::optional<int64_t> v = parse_int(*s);
  if (!v || *v < lo || *v > hi)
    throw UsageError(verb_ + ": " + flag + " expects an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                     "], got '" + *s + "'");
  return v;
}

std::optional<double> Args::get_double(const std::string& flag, double lo, double hi) const {
  std::optional<std::string> s = get(flag);
  if (!s) return std::nullopt;
  std::optional<double> v = parse_double(*s);
  if (!v || *v < lo || *v > hi) {
    std::ostringstream os;
    os << verb_ << ": " << flag << " expects a number in [" << lo << ", " << hi << "], got '" << *s << "'";
    throw UsageError(os.str());
  }
  return v;
}

std::optional<std::string> Args::get_choice(const std::string& flag, const std::vector<std::string>& choices) const {
  std::optional<std::string> s = get(flag);
  if (!s) return std::nullopt;
  for (const std::string& c : choices)
    if (*s == c) return s;
  std::string list;
  for (const std::string& c : choices) list += (list.empty() ? "" : "|") + c;
  throw UsageError(verb_ + ": " + flag + " expects " + list + ", got '" + *s + "'");
}

std::string help_text(const VerbSpec& spec) {
  std::ostringstream os;
  os << "usage: sparsead " << spec.usage << "\n\n" << spec.summary << "\n\nflags:\n";
  size_t col = 0;
  for (const FlagSpec& f : spec.flags)
    col = std::max(col, f.name.size() + (f.value_name.empty() ? 0 : f.value_name.size() + 1));
  for (const FlagSpec& f : spec.flags) {
    std::string left = f.name + (f.value_name.empty() ? "" : " " + f.value_name);
    os << "  " << left << std::string(col - left.size() + 2, ' ') << f.help << "\n";
  }
  if (!spec.epilog.empty()) os << "\n" << spec.epilog;
  std::string s = os.str();
  if (s.back() != '\n') s += '\n';
  return s;
}

std::string user_message(const std::string& what) {
  std::string s = what;
  const char* debug = std::getenv("SPARSEAD_DEBUG");
  if (!(debug && std::string(debug) == "1")) {
    // Peel " [...]" groups off the end while they are developer suffixes.
    for (;;) {
      if (s.empty() || s.back() != ']') break;
      size_t open = s.rfind(" [");
      if (open == std::string::npos) break;
      std::string inner = s.substr(open + 2, s.size() - open - 3);
      size_t colon = inner.rfind(':');
      bool file_line = colon != std::string::npos && colon + 1 < inner.size() &&
                       inner.find_first_not_of("0123456789", colon + 1) == std::string::npos &&
                       inner.find(' ') == std::string::npos;
      if (inner.rfind("check failed: ", 0) != 0 && !file_line) break;
      s.erase(open);
    }
  }
  // One line, and no control character reaches the terminal raw (a PNG chunk name or a file
  // name can carry escape sequences): newlines become spaces, the rest \xNN.
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '\n' || c == '\r') {
      out += ' ';
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace sad::cli
