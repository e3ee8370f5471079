// tensor/json: parsing, writing and round trips, escapes and UTF-8, every rejection the
// strict parser promises (with its byte position), and the typed member lookups.
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "tensor/json.h"
#include "tensor/text.h"
#include "test_util.h"

using namespace sad;

namespace {

// The message of the sad::Error that parsing `text` throws, or "" (and a failed check).
std::string parse_error(std::string_view text) {
  try {
    Json::parse(text);
  } catch (const Error& e) {
    return e.what();
  } catch (...) {
    FAIL_CHECK("parse threw something other than sad::Error for: " << text);
    return "";
  }
  FAIL_CHECK("parse accepted invalid JSON: " << text);
  return "";
}

void check_rejects(std::string_view text, const std::string& expected_fragment) {
  std::string msg = parse_error(text);
  INFO("input: ", std::string(text), "\nmessage: ", msg);
  CHECK(msg.rfind("JSON: ", 0) == 0);
  CHECK(msg.find(expected_fragment) != std::string::npos);
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

}  // namespace

TEST_CASE("json parse: scalars / arrays / objects and whitespace") {
  CHECK(Json::parse("null").is_null());
  CHECK(Json::parse(" true ").as_bool() == true);
  CHECK(Json::parse("\t\r\nfalse\n").as_bool() == false);
  CHECK(Json::parse("0").as_number() == 0);
  CHECK(Json::parse("-12").as_int() == -12);
  CHECK(Json::parse("3.25").as_number() == 3.25);
  CHECK(Json::parse("-1.5e3").as_number() == -1500);
  CHECK(Json::parse("2E-2").as_number() == 0.02);
  CHECK(Json::parse("1e+2").as_number() == 100);
  CHECK(Json::parse("\"hi\"").as_string() == "hi");
  CHECK(Json::parse("[]").size() == 0);
  CHECK(Json::parse("{}").size() == 0);

  Json v = Json::parse(R"( { "b" : [1, 2.5, "x", null, true, {"c": []}], "a": {"z": 1, "y": 2} } )");
  REQUIRE(v.is_object());
  const auto& members = v.as_object();
  REQUIRE(members.size() == 2);
  CHECK(members[0].first == "b");  // insertion order, not sorted
  CHECK(members[1].first == "a");
  const Json& b = *v.find("b");
  REQUIRE(b.size() == 6);
  CHECK(b[0].as_int() == 1);
  CHECK(b[1].as_number() == 2.5);
  CHECK(b[2].as_string() == "x");
  CHECK(b[3].is_null());
  CHECK(b[4].as_bool());
  CHECK(b[5].find("c")->is_array());
  CHECK(v.find("a")->as_object()[0].first == "z");
  CHECK(v.find("missing") == nullptr);
}

TEST_CASE("json parse: numbers at the edges of a double") {
  CHECK(Json::parse("9007199254740992").as_int() == 9007199254740992LL);  // 2^53, exact
  CHECK(Json::parse("1.7976931348623157e308").as_number() == std::numeric_limits<double>::max());
  CHECK(Json::parse("5e-324").as_number() == std::numeric_limits<double>::denorm_min());
  // Underflow rounds to zero (keeping the sign), as any reader would.
  CHECK(same_bits(Json::parse("1e-400").as_number(), 0.0));
  CHECK(same_bits(Json::parse("-1e-400").as_number(), -0.0));
  CHECK(same_bits(Json::parse("0.0000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
                              "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
                              "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
                              "000000000000000000000000000000000000000000000000000000000000000000000001")
                      .as_number(),
                  0.0));
  CHECK(same_bits(Json::parse("-0").as_number(), -0.0));
  CHECK(Json::parse("1.5").is_integer() == false);
  CHECK(Json::parse("1e20").is_integer() == false);  // beyond 2^53: not exactly an integer for us
  CHECK(Json::parse("2.0").is_integer());
  CHECK_THROWS_AS(Json::parse("1.5").as_int(), Error);
}

TEST_CASE("json parse: string escapes and unicode") {
  CHECK(Json::parse(R"("a\"b\\c\/d\b\f\n\r\t")").as_string() == "a\"b\\c/d\b\f\n\r\t");
  CHECK(Json::parse(R"("\u0041\u00e9\u20AC")").as_string() == "A\xC3\xA9\xE2\x82\xAC");  // A é €
  // U+1F600 as a surrogate pair becomes 4 bytes of UTF-8.
  CHECK(Json::parse(R"("\ud83d\ude00")").as_string() == "\xF0\x9F\x98\x80");
  CHECK(Json::parse(R"("\uDBFF\uDFFF")").as_string() == "\xF4\x8F\xBF\xBF");  // U+10FFFF, the last
  std::string nul = Json::parse(R"("a\u0000b")").as_string();
  CHECK(nul == std::string("a\0b", 3));
  // Raw UTF-8 passes through unchanged.
  CHECK(Json::parse("\"\xC3\xA9\xF0\x9F\x98\x80\"").as_string() == "\xC3\xA9\xF0\x9F\x98\x80");
}

TEST_CASE("json parse: rejections carry the problem and the byte position") {
  SUBCASE("empty and truncated input") {
    check_rejects("", "unexpected end of input at byte 0");
    check_rejects("   ", "unexpected end of input at byte 3");
    check_rejects("[1, 2", "expected ',' or ']' at byte 5");
    check_rejects("{\"a\": 1", "expected ',' or '}' at byte 7");
    check_rejects("\"abc", "unterminated string");
    check_rejects("{\"a\"", "expected ':' at byte 4");
  }
  SUBCASE("structure") {
    check_rejects("{\"a\": 1 \"b\": 2}", "expected ',' or '}' at byte 8");
    check_rejects("[1 2]", "expected ',' or ']' at byte 3");
    check_rejects("[1,]", "unexpected ']' at byte 3");
    check_rejects("{\"a\": 1,}", "expected a string key at byte 8");
    check_rejects("{a: 1}", "expected a string key at byte 1");
    check_rejects("{\"a\" 1}", "expected ':' at byte 5");
    check_rejects("'x'", "unexpected ''' at byte 0");
  }
  SUBCASE("trailing garbage") {
    check_rejects("{} x", "unexpected 'x' after the document at byte 3");
    check_rejects("1 2", "after the document at byte 2");
    check_rejects("[]]", "after the document at byte 2");
    check_rejects(std::string_view("{}\0", 3), "\\x00 after the document at byte 2");
  }
  SUBCASE("duplicate keys") {
    check_rejects(R"({"a": 1, "b": 2, "a": 3})", "duplicate key 'a' at byte 17");
    check_rejects(R"({"x": {"k": 1, "k": 1}})", "duplicate key 'k'");
  }
  SUBCASE("NaN, Infinity and malformed numbers") {
    check_rejects("NaN", "NaN and Infinity are not valid JSON numbers at byte 0");
    check_rejects("[Infinity]", "NaN and Infinity are not valid JSON numbers at byte 1");
    check_rejects("-Infinity", "NaN and Infinity");
    check_rejects("1e400", "number out of range of a double at byte 0");
    check_rejects("-1e400", "number out of range");
    check_rejects("01", "after the document at byte 1");
    check_rejects("-", "invalid number (expected a digit) at byte 1");
    check_rejects("1.", "expected a digit after '.'");
    check_rejects(".5", "unexpected '.'");
    check_rejects("1e", "expected a digit in the exponent");
    check_rejects("+1", "unexpected '+'");
    check_rejects("0x10", "after the document at byte 1");
  }
  SUBCASE("literals") {
    check_rejects("tru", "invalid literal (expected 'true') at byte 0");
    check_rejects("nul", "expected 'null'");
    check_rejects("True", "unexpected 'T'");
  }
  SUBCASE("bad escapes and surrogates") {
    check_rejects(R"("\x")", "invalid escape '\\x' in string at byte 1");
    check_rejects(R"("\u12")", "invalid \\u escape");
    check_rejects(R"("\u12G4")", "invalid \\u escape");
    check_rejects(R"("\ud83d")", "unpaired high surrogate");
    check_rejects(R"("\ud83dx")", "unpaired high surrogate");
    check_rejects(R"("\ud83d\u0041")", "unpaired high surrogate");
    check_rejects(R"("\ude00")", "unpaired low surrogate in \\u escape at byte 1");
  }
  SUBCASE("control characters and invalid UTF-8 in strings") {
    check_rejects("\"a\nb\"", "unescaped control character \\x0A in string at byte 2");
    check_rejects("\"\t\"", "unescaped control character");
    check_rejects("\"\xC3\"", "invalid UTF-8 in string at byte 1");  // truncated sequence
    check_rejects("\"\xC0\xAF\"", "invalid UTF-8");                  // overlong '/'
    check_rejects("\"\xED\xA0\x80\"", "invalid UTF-8");              // encoded surrogate
    check_rejects("\"\xF4\x90\x80\x80\"", "invalid UTF-8");          // past U+10FFFF
    check_rejects("\"\xFF\"", "invalid UTF-8");
    check_rejects("\xEF\xBB\xBF{}", "unexpected \\xEF at byte 0");  // a BOM is not JSON
  }
  SUBCASE("nesting deeper than the limit") {
    std::string ok(Json::kMaxDepth, '['), deep(Json::kMaxDepth + 1, '[');
    ok += std::string(Json::kMaxDepth, ']');
    deep += std::string(Json::kMaxDepth + 1, ']');
    CHECK_NOTHROW(Json::parse(ok));
    check_rejects(deep, "nesting deeper than 64 at byte 64");
    std::string objs;
    for (int i = 0; i <= Json::kMaxDepth; ++i) objs += "{\"a\":";
    check_rejects(objs, "nesting deeper than 64");
  }
}

TEST_CASE("json dump: compact and pretty forms") {
  Json v = Json::object();
  v.set("name", "sparse");
  v.set("n", 3);
  v.set("rho", 0.1);
  v.set("flags", Json::array());
  Json list = Json::array();
  list.push_back(true);
  list.push_back(nullptr);
  list.push_back(Json::object());
  v.set("list", list);
  CHECK(v.dump() == R"({"name":"sparse","n":3,"rho":0.1,"flags":[],"list":[true,null,{}]})");
  CHECK(v.dump(2) ==
        "{\n"
        "  \"name\": \"sparse\",\n"
        "  \"n\": 3,\n"
        "  \"rho\": 0.1,\n"
        "  \"flags\": [],\n"
        "  \"list\": [\n"
        "    true,\n"
        "    null,\n"
        "    {}\n"
        "  ]\n"
        "}");
  // set() on an existing key replaces it in place.
  v.set("n", 4);
  CHECK(v.dump().find(R"("n":4,"rho")") != std::string::npos);
  CHECK(v.size() == 5);
}

TEST_CASE("json dump: numbers print as integers or in a form that reads back exactly") {
  CHECK(Json(0).dump() == "0");
  CHECK(Json(-0.0).dump() == "-0");
  CHECK(Json(42.0).dump() == "42");
  CHECK(Json(int64_t{-9007199254740992}).dump() == "-9007199254740992");
  CHECK(Json(size_t{123456789}).dump() == "123456789");
  CHECK(Json(0.5).dump() == "0.5");
  CHECK(Json(1e300).dump() == "1e+300");
  CHECK(Json(0.1f).dump() == "0.10000000149011612");  // the float's exact double value
  // Every value reads back bit for bit.
  for (double x : {0.1, 1.0 / 3.0, -2.5e-8, 6.02214076e23, 1e20, 9007199254740993.0, 123456789.125,
                   std::numeric_limits<double>::max(), std::numeric_limits<double>::min(),
                   std::numeric_limits<double>::denorm_min(), -0.0, std::nextafter(1.0, 2.0)}) {
    std::string s = Json(x).dump();
    INFO(s);
    CHECK(same_bits(Json::parse(s).as_number(), x));
  }
  CHECK_THROWS_AS(Json(std::nan("")).dump(), Error);
  CHECK_THROWS_AS(Json(std::numeric_limits<double>::infinity()).dump(), Error);
}

TEST_CASE("json dump: strings are escaped and read back unchanged") {
  CHECK(Json("a\"b\\c/d").dump() == R"("a\"b\\c/d")");
  CHECK(Json("\b\f\n\r\t").dump() == R"("\b\f\n\r\t")");
  CHECK(Json(std::string("\x01\x1f\0", 3)).dump() == R"("\u0001\u001f\u0000")");
  CHECK(Json("\xC3\xA9\xF0\x9F\x98\x80").dump() == "\"\xC3\xA9\xF0\x9F\x98\x80\"");  // UTF-8 kept raw
  std::string all;
  for (int c = 1; c < 128; ++c) all += static_cast<char>(c);
  all += "\xE2\x82\xAC\xF4\x8F\xBF\xBF";
  CHECK(Json::parse(Json(all).dump()).as_string() == all);
  // Invalid UTF-8 cannot be written: it would not parse back.
  CHECK_THROWS_AS(Json("\xFF").dump(), Error);
  Json o = Json::object();
  o.set("\xC3", 1);
  CHECK_THROWS_AS(o.dump(), Error);
}

TEST_CASE("json round trip: parse(dump(v)) == v / compact and pretty") {
  const char* doc = R"({"model": {"channels": [32, 64, 128], "rho": 0.001, "name": "G\u00e9n\u00e9rateur \ud83d\ude00",
    "nested": {"a": [[], [[]], {}], "b": null, "c": false, "d": -1.25e-7}},
    "metrics": {"auroc": 0.9876543210123456, "n": 1000000, "tags": ["x\ty", "q\"uote", "back\\slash"]}})";
  Json v = Json::parse(doc);
  CHECK(Json::parse(v.dump()) == v);
  CHECK(Json::parse(v.dump(2)) == v);
  CHECK(Json::parse(v.dump(4)).dump() == v.dump());
  CHECK(v.dump() == Json::parse(v.dump()).dump());  // the writer is a fixed point
}

TEST_CASE("json typed lookups: errors name the document and the key") {
  Json cfg = Json::parse(R"({"rho": 0.5, "epochs": 10, "name": "x", "on": true, "list": [1], "sub": {"k": 1},
                             "rho_str": "0.5", "half": 2.5})");
  CHECK(cfg.get_number("rho", "config") == 0.5);
  CHECK(cfg.get_int("epochs", "config") == 10);
  CHECK(cfg.get_string("name", "config") == "x");
  CHECK(cfg.get_bool("on", "config"));
  CHECK(cfg.get_array("list", "config").size() == 1);
  CHECK(cfg.get_object("sub", "config").get_int("k", "config.sub") == 1);
  CHECK(cfg.get_number_or("absent", 7.5, "config") == 7.5);
  CHECK(cfg.get_int_or("epochs", 3, "config") == 10);
  CHECK(cfg.get_bool_or("absent", true, "config"));
  CHECK(cfg.get_string_or("absent", "dflt", "config") == "dflt");

  auto message = [](auto&& fn) -> std::string {
    try {
      fn();
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  CHECK(message([&] { cfg.get_number("rho_str", "config"); }) == "config: key 'rho_str' must be a number (got string)");
  CHECK(message([&] { cfg.get_number("missing", "config"); }) == "config: missing key 'missing'");
  CHECK(message([&] { cfg.get_int("half", "config"); }) == "config: key 'half' must be an integer (got 2.5)");
  CHECK(message([&] { cfg.get_int("name", "config"); }) == "config: key 'name' must be an integer (got string)");
  CHECK(message([&] { cfg.get_bool("epochs", "config"); }) ==
        "config: key 'epochs' must be true or false (got number)");
  CHECK(message([&] { cfg.get_string("on", "config"); }) == "config: key 'on' must be a string (got bool)");
  CHECK(message([&] { cfg.get_array("sub", "config"); }) == "config: key 'sub' must be an array (got object)");
  CHECK(message([&] { cfg.get_object("list", "config"); }) == "config: key 'list' must be an object (got array)");
  // A present key of the wrong type is an error even with a fallback.
  CHECK(message([&] { cfg.get_number_or("name", 1.0, "config"); }) ==
        "config: key 'name' must be a number (got string)");
  CHECK(message([&] { Json::parse("[1]").get_number("a", "metrics"); }) == "metrics: expected an object, got array");
  CHECK(message([&] { Json::parse("1").as_string(); }) == "JSON: expected string, got number");
  CHECK(message([&] { Json::parse("[1]")[3]; }) == "JSON: index 3 out of range for an array of 1");
}

TEST_CASE("text: parse_int64 takes a whole decimal integer and nothing else") {
  CHECK(sad::parse_int64("0") == 0);
  CHECK(sad::parse_int64("-42") == -42);
  CHECK(sad::parse_int64("9223372036854775807") == INT64_MAX);
  for (const char* bad : {"", " 1", "1 ", "+1", "1.0", "1e3", "0x10", "12a", "9223372036854775808", "-"})
    CHECK_MESSAGE(!sad::parse_int64(bad).has_value(), "'" << bad << "'");
}
