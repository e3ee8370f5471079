// A small, strict JSON value, parser and writer for the files sparsead reads and writes
// itself: the safetensors header, the model config and metrics.json. Strict on purpose:
// a file that another tool would read differently (duplicate keys, NaN, trailing
// garbage, invalid UTF-8) is rejected with the byte position instead of guessed at.
// Numbers are doubles; integers up to 2^53 survive exactly, which covers every offset
// and shape we store. Object keys keep their insertion order so written files are stable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace sad {

class Json {
 public:
  enum class Type : uint8_t { Null, Bool, Number, String, Array, Object };
  using Array = std::vector<Json>;
  using Object = std::vector<std::pair<std::string, Json>>;  // insertion-ordered, keys unique

  // Deepest nesting of arrays and objects the parser accepts: deeper input is far more
  // likely an attack or a bug than a config, and the limit bounds the parser's recursion.
  static constexpr int kMaxDepth = 64;

  Json() = default;  // null
  Json(std::nullptr_t) {}
  Json(bool b) : v_(b) {}
  Json(double x) : v_(x) {}
  // Any integer type (int, int64_t, size_t, ...); exact up to 2^53.
  template <typename T>
  requires(std::is_integral_v<T> && !std::is_same_v<T, bool>) Json(T x) : v_(static_cast<double>(x)) {}
  Json(const char* s) : v_(std::string(s)) {}
  Json(std::string s) : v_(std::move(s)) {}
  Json(std::string_view s) : v_(std::string(s)) {}
  static Json array() { return Json(Array{}); }
  static Json object() { return Json(Object{}); }
  explicit Json(Array a) : v_(std::move(a)) {}
  explicit Json(Object o) : v_(std::move(o)) {}

  // Parses a whole document; throws sad::Error("JSON: <problem> at byte <offset>").
  static Json parse(std::string_view text);

  // Compact ("{"a":1}") when indent < 0, else pretty with `indent` spaces per level.
  // Integers (|x| <= 2^53) print as integers, other numbers in their shortest form that
  // reads back to the same double. Throws sad::Error on NaN/Inf or a string that is not
  // valid UTF-8, since the result would not parse back.
  std::string dump(int indent = -1) const;

  Type type() const { return static_cast<Type>(v_.index()); }
  static const char* type_name(Type t);  // "null", "bool", "number", ...
  bool is_null() const { return type() == Type::Null; }
  bool is_bool() const { return type() == Type::Bool; }
  bool is_number() const { return type() == Type::Number; }
  bool is_string() const { return type() == Type::String; }
  bool is_array() const { return type() == Type::Array; }
  bool is_object() const { return type() == Type::Object; }
  // True for a number with no fractional part that a double holds exactly (|x| <= 2^53).
  bool is_integer() const;

  // Unchecked-type accessors throw sad::Error("JSON: expected <type>, got <type>").
  bool as_bool() const;
  double as_number() const;
  int64_t as_int() const;  // must be is_integer()
  const std::string& as_string() const;
  const Array& as_array() const;
  Array& as_array();
  const Object& as_object() const;
  Object& as_object();

  // Arrays.
  size_t size() const;  // elements of an array or members of an object
  const Json& operator[](size_t i) const;
  Json& push_back(Json value);

  // Objects. find returns nullptr when absent; set replaces an existing key in place
  // (keeping its position) or appends a new one.
  const Json* find(std::string_view key) const;
  bool contains(std::string_view key) const { return find(key) != nullptr; }
  Json& set(std::string_view key, Json value);

  // Typed member lookups for reading documents: `what` names the document in the error,
  // e.g. config.get_number("rho", "config") throws "config: key 'rho' must be a number"
  // or "config: missing key 'rho'". The *_or variants return `fallback` when the key is
  // absent (but still throw when it is present with the wrong type).
  const Json& get(std::string_view key, std::string_view what) const;
  double get_number(std::string_view key, std::string_view what) const;
  int64_t get_int(std::string_view key, std::string_view what) const;
  bool get_bool(std::string_view key, std::string_view what) const;
  const std::string& get_string(std::string_view key, std::string_view what) const;
  const Array& get_array(std::string_view key, std::string_view what) const;
  const Json& get_object(std::string_view key, std::string_view what) const;
  double get_number_or(std::string_view key, double fallback, std::string_view what) const;
  int64_t get_int_or(std::string_view key, int64_t fallback, std::string_view what) const;
  bool get_bool_or(std::string_view key, bool fallback, std::string_view what) const;
  std::string get_string_or(std::string_view key, std::string_view fallback, std::string_view what) const;

  bool operator==(const Json& o) const { return v_ == o.v_; }

 private:
  // Order matches Type.
  std::variant<std::nullptr_t, bool, double, std::string, Array, Object> v_;
};

}  // namespace sad
