// layers/safetensors: round trips (F32, F64, odd shapes, metadata), a byte-exact file
// against hand-built bytes, every corruption the strict reader refuses (each message
// must name the file), and the atomic write (no temporary left, target untouched).
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include "kernels/runtime.h"
#include "layers/safetensors.h"
#include "test_util.h"

using namespace sad;
namespace fs = std::filesystem;

namespace {

// A fresh directory under the system temp folder, removed with everything in it.
struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("sparsead_test_safetensors_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path / name).string(); }
  // Names of leftover temporary files of the atomic writer.
  std::vector<std::string> tmp_files() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(path))
      if (e.path().filename().string().find(".tmp.") != std::string::npos) out.push_back(e.path().string());
    return out;
  }
};

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE(f.good());
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(f.good());
}

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(n >> (8 * i));
  return s;
}

// A file from a header text and a data buffer, exactly as given (no padding added).
void write_raw(const std::string& path, const std::string& header, const std::string& data) {
  write_bytes(path, le64(header.size()) + header + data);
}

// The sad::Error message of loading `path`; a failed check when it loads.
std::string load_error(const std::string& path) {
  try {
    load_safetensors(path);
  } catch (const Error& e) {
    return e.what();
  }
  FAIL_CHECK("load_safetensors accepted a bad file: " << path);
  return "";
}

void check_load_fails(const std::string& path, const std::string& fragment) {
  std::string msg = load_error(path);
  INFO("message: ", msg);
  CHECK(msg.find("'" + path + "'") != std::string::npos);  // names the file
  CHECK(msg.find(fragment) != std::string::npos);
  CHECK(msg.find('\n') == std::string::npos);  // one line
}

std::string save_error(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors) {
  try {
    save_safetensors(path, tensors, {});
  } catch (const Error& e) {
    return e.what();
  }
  FAIL_CHECK("save_safetensors did not fail for " << path);
  return "";
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  Tensor ha = a.to(Device::cpu()), hb = b.to(Device::cpu());
  return a.nbytes() == 0 || std::memcmp(ha.raw(), hb.raw(), a.nbytes()) == 0;
}

void check_round_trip(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  save_safetensors(path, tensors, metadata);
  SafetensorsFile f = load_safetensors(path);
  CHECK(f.path == path);
  CHECK(f.metadata == metadata);
  REQUIRE(f.tensors.size() == tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    INFO("tensor ", tensors[i].first, " ", tensors[i].second.str());
    CHECK(f.tensors[i].first == tensors[i].first);  // in the order given
    CHECK(f.tensors[i].second.device().is_cpu());
    CHECK(same_bytes(f.tensors[i].second, tensors[i].second));
    CHECK(f.has(tensors[i].first));
    CHECK(same_bytes(f.get(tensors[i].first), tensors[i].second));
  }
  // The data buffer starts 8-byte aligned.
  std::string bytes = read_bytes(path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  CHECK((8 + n) % 8 == 0);
}

// A valid one-tensor header body for the corruption cases: "w", F32 (2,), 8 bytes of data.
const std::string kEightBytes(8, '\x11');

}  // namespace

TEST_CASE("safetensors round trip: F32 and F64 / odd shapes / bit-exact values") {
  TempDir dir;
  const float fnan = std::numeric_limits<float>::quiet_NaN(), finf = std::numeric_limits<float>::infinity();
  Tensor special = Tensor::from_vector({0.f, -0.f, 1.f, -2.5f, fnan, finf, -finf, 1e-45f, 3.4e38f}, {3, 3});
  std::vector<std::pair<std::string, Tensor>> ts = {
      {"conv1.weight", test::random_tensor({4, 3, 3, 3}, 1, -1, 1, DType::F32)},
      {"conv1.bias", test::random_tensor({4}, 2, -1, 1, DType::F32)},
      {"double", test::random_tensor({2, 5, 7}, 3)},
      {"special", special},
      {"scalar", Tensor::scalar(0.25)},                   // our scalars are shape (1)
      {"scalar64", Tensor::scalar(-1e-300, DType::F64)},  // a double that float would lose
      {"zero_dim", Tensor::full({}, 7.0)},                // shape () as other writers use it
      {"empty", Tensor::empty({0}, DType::F32)},          // zero elements: begin == end
      {"empty2", Tensor::empty({3, 0, 2}, DType::F64)},
      {"odd", test::random_tensor({1, 1, 5, 3}, 4, -1, 1, DType::F32)},
  };
  SUBCASE("with metadata") { check_round_trip(dir.file("a.safetensors"), ts, {{"format", "pt"}, {"step", "1200"}}); }
  SUBCASE("empty metadata is omitted from the header") {
    check_round_trip(dir.file("b.safetensors"), ts, {});
    CHECK(read_bytes(dir.file("b.safetensors")).find("__metadata__") == std::string::npos);
  }
  SUBCASE("a view (batch slice) is written as its own elements") {
    Tensor big = test::random_tensor({4, 3}, 5, -1, 1, DType::F32);
    check_round_trip(dir.file("c.safetensors"), {{"rows", big.slice0(1, 3)}}, {});
    CHECK(load_safetensors(dir.file("c.safetensors")).get("rows").to_vector() == big.slice0(1, 3).to_vector());
  }
  SUBCASE("overwriting an existing file") {
    check_round_trip(dir.file("d.safetensors"), ts, {{"v", "1"}});
    check_round_trip(dir.file("d.safetensors"), {{"x", Tensor::scalar(1)}}, {{"v", "2"}});
  }
  SUBCASE("no tensors at all") {
    check_round_trip(dir.file("e.safetensors"), {}, {{"only", "metadata"}});
    check_round_trip(dir.file("f.safetensors"), {}, {});
    CHECK(read_bytes(dir.file("f.safetensors")) == le64(8) + "{}      ");
  }
  CHECK(dir.tmp_files().empty());
}

TEST_CASE("safetensors round trip: metadata with quotes / escapes and unicode") {
  TempDir dir;
  std::map<std::string, std::string> meta = {
      {"quote\"key", "say \"hi\""},
      {"backslash", "C:\\path\\to\\file"},
      {"control", "line1\nline2\ttab\x01"},
      {"unicode", "G\xC3\xA9n\xC3\xA9rateur \xF0\x9F\x98\x80 \xE2\x82\xAC"},
      {"\xE6\x97\xA5\xE6\x9C\xAC", "key in Japanese"},
      {"json", R"({"rho": 0.1, "list": [1, 2]})"},
      {"empty", ""},
  };
  check_round_trip(dir.file("m.safetensors"), {{"w", Tensor::scalar(1)}}, meta);
  // Metadata that is not UTF-8 cannot be written as JSON: refused before any file exists.
  CHECK_THROWS_AS(save_safetensors(dir.file("bad.safetensors"), {}, {{"k", "\xFF"}}), Error);
  CHECK(!fs::exists(dir.file("bad.safetensors")));
  CHECK(dir.tmp_files().empty());
}

TEST_CASE("safetensors round trip: many tensors") {
  TempDir dir;
  Rng rng(42);
  std::vector<std::pair<std::string, Tensor>> ts;
  for (int i = 0; i < 300; ++i) {
    Shape s;
    int nd = static_cast<int>(rng.below(5));  // 0..4 dimensions
    for (int d = 0; d < nd; ++d) s.push_back(static_cast<int64_t>(rng.below(6)));
    DType dt = rng.below(2) ? DType::F32 : DType::F64;
    ts.emplace_back("block" + std::to_string(i / 3) + ".t" + std::to_string(i % 3),
                    test::random_tensor(s, 1000 + i, -3, 3, dt));
  }
  check_round_trip(dir.file("many.safetensors"), ts, {{"count", "300"}});
}

TEST_CASE("safetensors save: byte-exact against a hand-built file") {
  TempDir dir;
  std::string path = dir.file("tiny.safetensors");
  save_safetensors(path, {{"a", Tensor::from_vector({1.0f, -2.0f}, {2})}, {"b", Tensor::from_vector_f64({0.5}, {1})}},
                   {{"k", "v"}});
  const std::string header = R"({"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                             R"("b":{"dtype":"F64","shape":[1],"data_offsets":[8,16]}})"
                             "   ";  // 133 bytes of JSON, padded to 136 so the data starts at byte 144
  const std::string expected = std::string("\x88\0\0\0\0\0\0\0", 8) + header +
                               std::string("\x00\x00\x80\x3F", 4) +                 // 1.0f
                               std::string("\x00\x00\x00\xC0", 4) +                 // -2.0f
                               std::string("\x00\x00\x00\x00\x00\x00\xE0\x3F", 8);  // 0.5
  REQUIRE(header.size() == 136);
  std::string got = read_bytes(path);
  CHECK(got.size() == expected.size());
  CHECK(got == expected);
}

TEST_CASE("safetensors load: reads a hand-built file with padding and shuffled entries") {
  // Entries out of offset order, keys in another order than ours, and trailing-space
  // padding: all valid, as other writers produce them.
  TempDir dir;
  std::string path = dir.file("other.safetensors");
  std::string header =
      R"({"y":{"data_offsets":[4,12],"shape":[1],"dtype":"F64"}, "x":{"shape":[],"dtype":"F32","data_offsets":[0,4]},)"
      R"( "__metadata__":{"a":"b"}}    )";
  write_raw(path, header, std::string("\x00\x00\x40\x40", 4) + std::string("\x00\x00\x00\x00\x00\x00\x10\xC0", 8));
  SafetensorsFile f = load_safetensors(path);
  REQUIRE(f.tensors.size() == 2);
  CHECK(f.tensors[0].first == "y");  // header order
  CHECK(f.get("x").shape() == Shape{});
  CHECK(f.get("x").item() == 3.0);
  CHECK(f.get("y").dtype() == DType::F64);
  CHECK(f.get("y").item() == -4.0);
  CHECK(f.metadata.at("a") == "b");
  CHECK(!f.has("z"));
  std::string msg;
  try {
    f.get("z");
  } catch (const Error& e) {
    msg = e.what();
  }
  CHECK(msg == "safetensors file '" + path + "': no tensor named 'z'");
}

TEST_CASE("safetensors load: each corruption is refused with the file name") {
  TempDir dir;
  const std::string p = dir.file("bad.safetensors");
  const std::string w = R"("w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";

  SUBCASE("missing file") { check_load_fails(dir.file("nope.safetensors"), "cannot open: No such file"); }
  SUBCASE("a directory") { check_load_fails(dir.path.string(), "not a regular file"); }
  SUBCASE("empty file") {
    write_bytes(p, "");
    check_load_fails(p, "file is 0 bytes, too short for the 8-byte header length");
  }
  SUBCASE("shorter than 8 bytes") {
    write_bytes(p, std::string("\x05\0\0\0\0", 5));
    check_load_fails(p, "file is 5 bytes");
  }
  SUBCASE("header length larger than the file") {
    write_bytes(p, le64(100) + "{}");
    check_load_fails(p, "header length 100 is larger than the 10-byte file");
  }
  SUBCASE("absurdly large header length") {
    write_bytes(p, le64(200'000'000) + "{}");
    check_load_fails(p, "header length 200000000 is over the 100000000-byte limit");
    write_bytes(p, le64(~uint64_t{0}) + "{}");
    check_load_fails(p, "header length 18446744073709551615 is over");
  }
  SUBCASE("invalid JSON") {
    write_raw(p, "{" + w + ",}", kEightBytes);
    check_load_fails(p, "invalid header: JSON: expected a string key at byte");
  }
  SUBCASE("zero-length header") {
    write_raw(p, "", "");
    check_load_fails(p, "invalid header: JSON: unexpected end of input");
  }
  SUBCASE("header not an object") {
    write_raw(p, "[1, 2]  ", "");
    check_load_fails(p, "header is not a JSON object (got array)");
  }
  SUBCASE("entry not an object") {
    write_raw(p, R"({"w": [0, 8]})", kEightBytes);
    check_load_fails(p, "tensor 'w': entry is not an object (got array)");
  }
  SUBCASE("missing dtype") {
    write_raw(p, R"({"w":{"shape":[2],"data_offsets":[0,8]}})", kEightBytes);
    check_load_fails(p, "tensor 'w': missing 'dtype'");
  }
  SUBCASE("missing shape") {
    write_raw(p, R"({"w":{"dtype":"F32","data_offsets":[0,8]}})", kEightBytes);
    check_load_fails(p, "tensor 'w': missing 'shape'");
  }
  SUBCASE("missing data_offsets") {
    write_raw(p, R"({"w":{"dtype":"F32","shape":[2]}})", kEightBytes);
    check_load_fails(p, "tensor 'w': missing 'data_offsets'");
  }
  SUBCASE("extra field") {
    write_raw(p, R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"stride":[1]}})", kEightBytes);
    check_load_fails(p, "tensor 'w': unexpected field 'stride'");
  }
  SUBCASE("unknown dtype BF16") {
    write_raw(p, R"({"w":{"dtype":"BF16","shape":[4],"data_offsets":[0,8]}})", kEightBytes);
    check_load_fails(p, "tensor 'w': unsupported dtype 'BF16'");
  }
  SUBCASE("unknown dtype I64") {
    write_raw(p, R"({"w":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", kEightBytes);
    check_load_fails(p, "tensor 'w': unsupported dtype 'I64'");
  }
  SUBCASE("dtype not a string") {
    write_raw(p, R"({"w":{"dtype":32,"shape":[2],"data_offsets":[0,8]}})", kEightBytes);
    check_load_fails(p, "tensor 'w': dtype is not a string (got 32)");
  }
  SUBCASE("negative shape") {
    write_raw(p, R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", kEightBytes);
    check_load_fails(p, "tensor 'w': shape must be an array of non-negative integers (got [-2])");
  }
  SUBCASE("non-integer shape") {
    write_raw(p, R"({"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", kEightBytes);
    check_load_fails(p, "shape must be an array of non-negative integers (got [2.5])");
  }
  SUBCASE("shape not an array") {
    write_raw(p, R"({"w":{"dtype":"F32","shape":"2","data_offsets":[0,8]}})", kEightBytes);
    check_load_fails(p, "shape must be an array of non-negative integers (got \"2\")");
  }
  SUBCASE("shape whose byte count overflows") {
    write_raw(p, R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", kEightBytes);
    check_load_fails(p, "is too large");
  }
  SUBCASE("data_offsets with one number") {
    write_raw(p, R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8]}})", kEightBytes);
    check_load_fails(p, "tensor 'w': data_offsets must be [begin, end] with 0 <= begin <= end (got [8])");
  }
  SUBCASE("data_offsets with three numbers") {
    write_raw(p, R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8,8]}})", kEightBytes);
    check_load_fails(p, "data_offsets must be [begin, end]");
  }
  SUBCASE("data_offsets with begin > end") {
    write_raw(p, R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", kEightBytes);
    check_load_fails(p, "data_offsets must be [begin, end] with 0 <= begin <= end (got [8,0])");
  }
  SUBCASE("data_offsets negative or fractional") {
    write_raw(p, R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", kEightBytes);
    check_load_fails(p, "data_offsets must be [begin, end]");
    write_raw(p, R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8.5]}})", kEightBytes);
    check_load_fails(p, "data_offsets must be [begin, end]");
  }
  SUBCASE("byte count that does not match the shape") {
    write_raw(p, R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,8]}})", kEightBytes);
    check_load_fails(p, "tensor 'w': data_offsets [0, 8] hold 8 bytes but F32(2, 3) needs 24");
    write_raw(p, R"({"w":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}})", kEightBytes);
    check_load_fails(p, "hold 8 bytes but F64(2) needs 16");
  }
  SUBCASE("offsets beyond the data buffer (truncated file)") {
    write_raw(p, "{" + w + "}", std::string(6, '\x11'));
    check_load_fails(p, "tensor 'w': data_offsets [0, 8] reach past the end of the 6-byte data buffer");
  }
  SUBCASE("a saved file cut short") {
    save_safetensors(p, {{"a", Tensor::zeros({10})}, {"b", Tensor::zeros({10})}}, {});
    fs::resize_file(p, fs::file_size(p) - 3);
    check_load_fails(p, "tensor 'b': data_offsets [40, 80] reach past the end of the 77-byte data buffer");
  }
  SUBCASE("overlapping tensors") {
    write_raw(p,
              R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
              R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
              std::string(12, '\x11'));
    check_load_fails(p, "tensors 'a' [0, 8] and 'b' [4, 12] overlap in the data buffer");
  }
  SUBCASE("two tensors on the same bytes") {
    write_raw(p,
              R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
              R"("b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
              kEightBytes);
    check_load_fails(p, "overlap in the data buffer");
  }
  SUBCASE("gap between tensors") {
    write_raw(p,
              R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
              R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
              std::string(12, '\x11'));
    check_load_fails(p, "data buffer bytes [4, 8] belong to no tensor (gap before 'b')");
  }
  SUBCASE("gap at the start") {
    write_raw(p, R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", kEightBytes);
    check_load_fails(p, "data buffer bytes [0, 4] belong to no tensor (gap before 'a')");
  }
  SUBCASE("trailing bytes") {
    write_raw(p, "{" + w + "}", std::string(9, '\x11'));
    check_load_fails(p, "data buffer bytes [8, 9] at its end belong to no tensor");
  }
  SUBCASE("data but no tensors") {
    write_raw(p, "{}", kEightBytes);
    check_load_fails(p, "data buffer bytes [0, 8] at its end belong to no tensor");
  }
  SUBCASE("duplicate names") {
    write_raw(p, "{" + w + "," + w + "}", kEightBytes);
    check_load_fails(p, "duplicate key 'w'");
  }
  SUBCASE("__metadata__ value not a string") {
    write_raw(p, R"({"__metadata__":{"epoch":3},)" + w + "}", kEightBytes);
    check_load_fails(p, "__metadata__ value for key 'epoch' is not a string (got number)");
  }
  SUBCASE("__metadata__ not an object") {
    write_raw(p, R"({"__metadata__":"x",)" + w + "}", kEightBytes);
    check_load_fails(p, "__metadata__ is not an object (got string)");
  }
}

TEST_CASE("safetensors save: atomic write / failures leave no temporary and the target untouched") {
  TempDir dir;
  std::vector<std::pair<std::string, Tensor>> ts = {{"w", test::random_tensor({1000}, 7, -1, 1, DType::F32)}};

  SUBCASE("success leaves only the target") {
    save_safetensors(dir.file("ok.safetensors"), ts, {});
    CHECK(dir.tmp_files().empty());
    CHECK(fs::exists(dir.file("ok.safetensors")));
  }
  SUBCASE("missing directory: the error names the path, nothing is created") {
    std::string path = dir.file("no_such_dir/model.safetensors");
    std::string msg = save_error(path, ts);
    CHECK(msg.find("'" + path + "'") != std::string::npos);
    CHECK(msg.find("No such file or directory") != std::string::npos);
    CHECK(!fs::exists(dir.path / "no_such_dir"));
    CHECK(dir.tmp_files().empty());
  }
  SUBCASE("invalid arguments: refused before the target is touched") {
    std::string path = dir.file("keep.safetensors");
    save_safetensors(path, ts, {{"v", "old"}});
    const std::string before = read_bytes(path);
    CHECK(save_error(path, {{"a", Tensor()}}).find("tensor 'a' is undefined") != std::string::npos);
    CHECK(save_error(path, {{"a", Tensor::scalar(1)}, {"a", Tensor::scalar(2)}}).find("duplicate tensor name 'a'") !=
          std::string::npos);
    CHECK(save_error(path, {{"__metadata__", Tensor::scalar(1)}}).find("'__metadata__' is reserved") !=
          std::string::npos);
    CHECK(read_bytes(path) == before);
    CHECK(dir.tmp_files().empty());
  }
  SUBCASE("a failure while writing the data leaves the existing target untouched") {
    std::string path = dir.file("keep.safetensors");
    save_safetensors(path, {{"small", Tensor::scalar(1)}}, {{"v", "old"}});
    const std::string before = read_bytes(path);
    // Cap this process's file size so write() fails with EFBIG part way through the 4 kB
    // of tensor data (SIGXFSZ ignored so the write returns an error instead of killing us);
    // both are restored before any check runs.
    struct rlimit old_limit {};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
    struct rlimit small = old_limit;
    small.rlim_cur = 512;
    auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    std::string msg;
    try {
      save_safetensors(path, ts, {{"v", "new"}});
    } catch (const Error& e) {
      msg = e.what();
    }
    ::setrlimit(RLIMIT_FSIZE, &old_limit);
    ::signal(SIGXFSZ, old_handler);
    CHECK(msg.find("cannot write safetensors file '" + path + "'") != std::string::npos);
    CHECK(msg.find("File too large") != std::string::npos);
    CHECK(read_bytes(path) == before);
    CHECK(dir.tmp_files().empty());
  }
  SUBCASE("a failing rename (target is a directory) removes the temporary") {
    std::string path = dir.file("is_a_dir");
    fs::create_directories(fs::path(path) / "inside");
    std::string msg = save_error(path, ts);
    CHECK(msg.find("cannot rename the temporary into place") != std::string::npos);
    CHECK(fs::is_directory(fs::path(path) / "inside"));
    CHECK(dir.tmp_files().empty());
  }
}

TEST_CASE("safetensors save: CUDA tensors are copied to the host" * doctest::test_suite("cuda") *
          doctest::skip(!sad::cuda_available())) {
  TempDir dir;
  Tensor host = test::random_tensor({3, 5}, 11, -1, 1, DType::F32);
  Tensor dev = host.to(resolve_device("cuda"));
  std::string path = dir.file("gpu.safetensors");
  save_safetensors(path, {{"g", dev}}, {});
  CHECK(same_bytes(load_safetensors(path).get("g"), host));
}
