// The strict JSON parser and writer behind tensor/json.h. The parser is a plain
// recursive descent over the bytes, tracking the byte offset for its error messages;
// the writer emits only what the parser accepts, so every dump() parses back equal.
#include "tensor/json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <unordered_set>

#include "tensor/check.h"

namespace sad {

namespace {

// Largest magnitude below which every integer is exactly a double.
constexpr double kMaxExactInt = 9007199254740992.0;  // 2^53

[[noreturn]] void json_fail(const std::string& msg, size_t pos) {
  throw Error("JSON: " + msg + " at byte " + std::to_string(pos));
}

// Length of the valid UTF-8 sequence starting at s[i] (a byte >= 0x80), or 0 when it is
// invalid: overlong forms, UTF-16 surrogates and code points past U+10FFFF are refused.
size_t utf8_sequence_length(std::string_view s, size_t i) {
  auto byte = [&](size_t k) -> unsigned { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0x100u; };
  auto cont = [&](size_t k, unsigned lo = 0x80, unsigned hi = 0xBF) { return byte(k) >= lo && byte(k) <= hi; };
  unsigned c = byte(0);
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return cont(1) && cont(2) ? 3 : 0;
  if (c == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;  // excludes D800..DFFF
  if (c == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// A byte for an error message: printable ASCII as itself, anything else as \xNN.
std::string show_byte(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7F) return std::string("'") + c + "'";
  char buf[8];
  std::snprintf(buf, sizeof buf, "\\x%02X", u);
  return buf;
}

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  Json document() {
    Json v = value(0);
    skip_ws();
    if (pos_ != s_.size()) json_fail("unexpected " + show_byte(s_[pos_]) + " after the document", pos_);
    return v;
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;

  bool eof() const { return pos_ >= s_.size(); }
  char peek() const { return s_[pos_]; }
  void skip_ws() {
    while (!eof() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) ++pos_;
  }
  bool starts_with(std::string_view w) const { return s_.substr(pos_, w.size()) == w; }

  Json value(int depth) {
    skip_ws();
    if (eof()) json_fail("unexpected end of input", pos_);
    char c = peek();
    switch (c) {
      case '{': return object(depth + 1);
      case '[': return array(depth + 1);
      case '"': return Json(string());
      case 't': return literal("true", Json(true));
      case 'f': return literal("false", Json(false));
      case 'n': return literal("null", Json());
      default: break;
    }
    if (c == '-' || (c >= '0' && c <= '9')) return Json(number());
    if (starts_with("NaN") || starts_with("Infinity")) json_fail("NaN and Infinity are not valid JSON numbers", pos_);
    json_fail("unexpected " + show_byte(c), pos_);
  }

  Json literal(std::string_view word, Json v) {
    if (!starts_with(word)) json_fail("invalid literal (expected '" + std::string(word) + "')", pos_);
    pos_ += word.size();
    return v;
  }

  Json object(int depth) {
    if (depth > Json::kMaxDepth) json_fail("nesting deeper than " + std::to_string(Json::kMaxDepth), pos_);
    ++pos_;  // '{'
    Json::Object members;
    std::unordered_set<std::string> seen;
    skip_ws();
    if (!eof() && peek() == '}') {
      ++pos_;
      return Json(std::move(members));
    }
    while (true) {
      skip_ws();
      if (eof() || peek() != '"') json_fail("expected a string key", pos_);
      size_t key_pos = pos_;
      std::string key = string();
      if (!seen.insert(key).second) json_fail("duplicate key '" + key + "'", key_pos);
      skip_ws();
      if (eof() || peek() != ':') json_fail("expected ':'", pos_);
      ++pos_;
      Json v = value(depth);
      members.emplace_back(std::move(key), std::move(v));
      skip_ws();
      if (!eof() && peek() == ',') {
        ++pos_;
      } else if (!eof() && peek() == '}') {
        ++pos_;
        return Json(std::move(members));
      } else {
        json_fail("expected ',' or '}'", pos_);
      }
    }
  }

  Json array(int depth) {
    if (depth > Json::kMaxDepth) json_fail("nesting deeper than " + std::to_string(Json::kMaxDepth), pos_);
    ++pos_;  // '['
    Json::Array items;
    skip_ws();
    if (!eof() && peek() == ']') {
      ++pos_;
      return Json(std::move(items));
    }
    while (true) {
      items.push_back(value(depth));
      skip_ws();
      if (!eof() && peek() == ',') {
        ++pos_;
      } else if (!eof() && peek() == ']') {
        ++pos_;
        return Json(std::move(items));
      } else {
        json_fail("expected ',' or ']'", pos_);
      }
    }
  }

  uint32_t hex4() {
    if (pos_ + 4 > s_.size()) json_fail("invalid \\u escape (needs 4 hex digits)", pos_);
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      char c = s_[pos_ + k];
      uint32_t d;
      if (c >= '0' && c <= '9')
        d = c - '0';
      else if (c >= 'a' && c <= 'f')
        d = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        d = c - 'A' + 10;
      else
        json_fail("invalid \\u escape (needs 4 hex digits)", pos_);
      v = v * 16 + d;
    }
    pos_ += 4;
    return v;
  }

  std::string string() {
    size_t open = pos_;
    ++pos_;  // '"'
    std::string out;
    while (true) {
      if (eof()) json_fail("unterminated string (opened at byte " + std::to_string(open) + ")", pos_);
      auto c = static_cast<unsigned char>(peek());
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c < 0x20) json_fail("unescaped control character " + show_byte(peek()) + " in string", pos_);
      if (c >= 0x80) {
        size_t n = utf8_sequence_length(s_, pos_);
        if (n == 0) json_fail("invalid UTF-8 in string", pos_);
        out.append(s_.substr(pos_, n));
        pos_ += n;
        continue;
      }
      if (c != '\\') {
        out += peek();
        ++pos_;
        continue;
      }
      size_t esc = pos_;
      ++pos_;
      if (eof()) json_fail("unterminated string (opened at byte " + std::to_string(open) + ")", pos_);
      char e = peek();
      ++pos_;
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xDC00 && cp <= 0xDFFF) json_fail("unpaired low surrogate in \\u escape", esc);
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            // A high surrogate must be followed at once by an escaped low surrogate.
            if (!starts_with("\\u")) json_fail("unpaired high surrogate in \\u escape", esc);
            pos_ += 2;
            uint32_t lo = hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) json_fail("unpaired high surrogate in \\u escape", esc);
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          append_utf8(out, cp);
          break;
        }
        default: json_fail("invalid escape '\\" + std::string(1, e) + "' in string", esc);
      }
    }
  }

  // Decimal order of magnitude of a number literal whose value from_chars reported out
  // of range: positive means it overflowed, otherwise it underflowed towards zero.
  static int64_t literal_order(std::string_view lit) {
    size_t i = lit[0] == '-' ? 1 : 0;
    int64_t order = 0;
    bool nonzero_seen = false;
    for (; i < lit.size() && lit[i] >= '0' && lit[i] <= '9'; ++i) {
      if (lit[i] != '0') nonzero_seen = true;
      if (nonzero_seen) ++order;
    }
    if (i < lit.size() && lit[i] == '.') {
      for (++i; i < lit.size() && lit[i] >= '0' && lit[i] <= '9'; ++i) {
        if (lit[i] != '0') nonzero_seen = true;
        if (!nonzero_seen) --order;
      }
    }
    if (i < lit.size() && (lit[i] == 'e' || lit[i] == 'E')) {
      ++i;
      bool neg = lit[i] == '-';
      if (lit[i] == '-' || lit[i] == '+') ++i;
      int64_t e = 0;
      for (; i < lit.size(); ++i) e = std::min<int64_t>(e * 10 + (lit[i] - '0'), 1000000000);
      order += neg ? -e : e;
    }
    return order;
  }

  double number() {
    size_t start = pos_;
    auto digit = [&] { return !eof() && peek() >= '0' && peek() <= '9'; };
    if (peek() == '-') ++pos_;
    if (!eof() && starts_with("Infinity")) json_fail("NaN and Infinity are not valid JSON numbers", start);
    if (!digit()) json_fail("invalid number (expected a digit)", pos_);
    if (peek() == '0') {
      ++pos_;
    } else {
      while (digit()) ++pos_;
    }
    if (!eof() && peek() == '.') {
      ++pos_;
      if (!digit()) json_fail("invalid number (expected a digit after '.')", pos_);
      while (digit()) ++pos_;
    }
    if (!eof() && (peek() == 'e' || peek() == 'E')) {
      ++pos_;
      if (!eof() && (peek() == '+' || peek() == '-')) ++pos_;
      if (!digit()) json_fail("invalid number (expected a digit in the exponent)", pos_);
      while (digit()) ++pos_;
    }
    std::string_view lit = s_.substr(start, pos_ - start);
    double x = 0;
    auto [end, ec] = std::from_chars(lit.data(), lit.data() + lit.size(), x);
    if (ec == std::errc::result_out_of_range) {
      if (literal_order(lit) > 0) json_fail("number out of range of a double", start);
      return lit[0] == '-' ? -0.0 : 0.0;  // underflow: the nearest double is zero
    }
    if (ec != std::errc() || end != lit.data() + lit.size()) json_fail("invalid number", start);
    return x;
  }
};

// ---- Writer ---------------------------------------------------------------------------------

void write_string(std::string& out, const std::string& s) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t n = utf8_sequence_length(s, i);
      if (n == 0) throw Error("JSON: cannot write a string that is not valid UTF-8 (byte " + std::to_string(i) + ")");
      out.append(s, i, n);
      i += n;
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
}

void write_number(std::string& out, double x) {
  if (!std::isfinite(x)) throw Error("JSON: cannot write NaN or Inf (JSON has no such numbers)");
  char buf[64];
  if (x == 0 && std::signbit(x)) {
    out += "-0";  // keeps the sign through a round trip
    return;
  }
  std::to_chars_result r;
  if (x == std::trunc(x) && std::abs(x) <= kMaxExactInt) {
    r = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(x));
  } else {
    // Shortest form that reads back to the same double (std::to_chars guarantees the
    // round trip and, unlike printf, ignores the locale's decimal separator).
    r = std::to_chars(buf, buf + sizeof buf, x);
  }
  out.append(buf, r.ptr);
}

void write_value(std::string& out, const Json& v, int indent, int level) {
  auto newline = [&](int lvl) {
    if (indent < 0) return;
    out += '\n';
    out.append(static_cast<size_t>(indent) * lvl, ' ');
  };
  switch (v.type()) {
    case Json::Type::Null: out += "null"; break;
    case Json::Type::Bool: out += v.as_bool() ? "true" : "false"; break;
    case Json::Type::Number: write_number(out, v.as_number()); break;
    case Json::Type::String: write_string(out, v.as_string()); break;
    case Json::Type::Array: {
      const auto& a = v.as_array();
      out += '[';
      for (size_t i = 0; i < a.size(); ++i) {
        if (i) out += ',';
        newline(level + 1);
        write_value(out, a[i], indent, level + 1);
      }
      if (!a.empty()) newline(level);
      out += ']';
      break;
    }
    case Json::Type::Object: {
      const auto& o = v.as_object();
      out += '{';
      for (size_t i = 0; i < o.size(); ++i) {
        if (i) out += ',';
        newline(level + 1);
        write_string(out, o[i].first);
        out += indent < 0 ? ":" : ": ";
        write_value(out, o[i].second, indent, level + 1);
      }
      if (!o.empty()) newline(level);
      out += '}';
      break;
    }
  }
}

}  // namespace

// ---- Json -----------------------------------------------------------------------------------

Json Json::parse(std::string_view text) { return Parser(text).document(); }

std::string Json::dump(int indent) const {
  std::string out;
  write_value(out, *this, indent, 0);
  return out;
}

const char* Json::type_name(Type t) {
  switch (t) {
    case Type::Null: return "null";
    case Type::Bool: return "bool";
    case Type::Number: return "number";
    case Type::String: return "string";
    case Type::Array: return "array";
    case Type::Object: return "object";
  }
  return "?";
}

namespace {
[[noreturn]] void type_fail(Json::Type want, Json::Type got) {
  throw Error(std::string("JSON: expected ") + Json::type_name(want) + ", got " + Json::type_name(got));
}
}  // namespace

bool Json::is_integer() const {
  if (!is_number()) return false;
  double x = std::get<double>(v_);
  return x == std::trunc(x) && std::abs(x) <= kMaxExactInt;
}

bool Json::as_bool() const {
  if (!is_bool()) type_fail(Type::Bool, type());
  return std::get<bool>(v_);
}
double Json::as_number() const {
  if (!is_number()) type_fail(Type::Number, type());
  return std::get<double>(v_);
}
int64_t Json::as_int() const {
  if (!is_integer())
    throw Error(std::string("JSON: expected an integer, got ") + (is_number() ? dump() : type_name(type())));
  return static_cast<int64_t>(std::get<double>(v_));
}
const std::string& Json::as_string() const {
  if (!is_string()) type_fail(Type::String, type());
  return std::get<std::string>(v_);
}
const Json::Array& Json::as_array() const {
  if (!is_array()) type_fail(Type::Array, type());
  return std::get<Array>(v_);
}
Json::Array& Json::as_array() {
  if (!is_array()) type_fail(Type::Array, type());
  return std::get<Array>(v_);
}
const Json::Object& Json::as_object() const {
  if (!is_object()) type_fail(Type::Object, type());
  return std::get<Object>(v_);
}
Json::Object& Json::as_object() {
  if (!is_object()) type_fail(Type::Object, type());
  return std::get<Object>(v_);
}

size_t Json::size() const {
  if (is_object()) return std::get<Object>(v_).size();
  return as_array().size();
}

const Json& Json::operator[](size_t i) const {
  const Array& a = as_array();
  if (i >= a.size())
    throw Error("JSON: index " + std::to_string(i) + " out of range for an array of " + std::to_string(a.size()));
  return a[i];
}

Json& Json::push_back(Json value) {
  Array& a = as_array();
  a.push_back(std::move(value));
  return a.back();
}

const Json* Json::find(std::string_view key) const {
  for (const auto& [k, v] : as_object())
    if (k == key) return &v;
  return nullptr;
}

Json& Json::set(std::string_view key, Json value) {
  Object& o = as_object();
  for (auto& [k, v] : o) {
    if (k == key) {
      v = std::move(value);
      return v;
    }
  }
  o.emplace_back(std::string(key), std::move(value));
  return o.back().second;
}

// ---- Typed member lookups -------------------------------------------------------------------

namespace {
[[noreturn]] void key_fail(std::string_view what, std::string_view key, const char* must, const Json& got) {
  throw Error(std::string(what) + ": key '" + std::string(key) + "' must be " + must + " (got " +
              Json::type_name(got.type()) + ")");
}
}  // namespace

const Json& Json::get(std::string_view key, std::string_view what) const {
  if (!is_object()) throw Error(std::string(what) + ": expected an object, got " + type_name(type()));
  const Json* v = find(key);
  if (!v) throw Error(std::string(what) + ": missing key '" + std::string(key) + "'");
  return *v;
}

double Json::get_number(std::string_view key, std::string_view what) const {
  const Json& v = get(key, what);
  if (!v.is_number()) key_fail(what, key, "a number", v);
  return v.as_number();
}

int64_t Json::get_int(std::string_view key, std::string_view what) const {
  const Json& v = get(key, what);
  if (!v.is_integer()) {
    if (v.is_number())
      throw Error(std::string(what) + ": key '" + std::string(key) + "' must be an integer (got " + v.dump() + ")");
    key_fail(what, key, "an integer", v);
  }
  return v.as_int();
}

bool Json::get_bool(std::string_view key, std::string_view what) const {
  const Json& v = get(key, what);
  if (!v.is_bool()) key_fail(what, key, "true or false", v);
  return v.as_bool();
}

const std::string& Json::get_string(std::string_view key, std::string_view what) const {
  const Json& v = get(key, what);
  if (!v.is_string()) key_fail(what, key, "a string", v);
  return v.as_string();
}

const Json::Array& Json::get_array(std::string_view key, std::string_view what) const {
  const Json& v = get(key, what);
  if (!v.is_array()) key_fail(what, key, "an array", v);
  return v.as_array();
}

const Json& Json::get_object(std::string_view key, std::string_view what) const {
  const Json& v = get(key, what);
  if (!v.is_object()) key_fail(what, key, "an object", v);
  return v;
}

// The *_or lookups: absent means the fallback, present means it must have the right type.
namespace {
bool has_member(const Json& obj, std::string_view key, std::string_view what) {
  if (!obj.is_object()) throw Error(std::string(what) + ": expected an object, got " + Json::type_name(obj.type()));
  return obj.find(key) != nullptr;
}
}  // namespace

double Json::get_number_or(std::string_view key, double fallback, std::string_view what) const {
  return has_member(*this, key, what) ? get_number(key, what) : fallback;
}

int64_t Json::get_int_or(std::string_view key, int64_t fallback, std::string_view what) const {
  return has_member(*this, key, what) ? get_int(key, what) : fallback;
}

bool Json::get_bool_or(std::string_view key, bool fallback, std::string_view what) const {
  return has_member(*this, key, what) ? get_bool(key, what) : fallback;
}

std::string Json::get_string_or(std::string_view key, std::string_view fallback, std::string_view what) const {
  return has_member(*this, key, what) ? get_string(key, what) : std::string(fallback);
}

}  // namespace sad
