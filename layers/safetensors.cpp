// safetensors reading and writing (see layers/safetensors.h for the layout). The writer
// streams through tensor/file_io's durable writer; the reader uses plain POSIX IO for the
// file size and positioned reads straight into the tensors' storage.
#include "layers/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <unordered_set>

#include "tensor/file_io.h"
#include "tensor/json.h"

namespace sad {

// Tensor bytes are written and read as they lie in memory; the format is little-endian.
static_assert(std::endian::native == std::endian::little, "safetensors IO assumes a little-endian host");

namespace {

// Largest header we accept: the same bound as the reference implementation; a larger
// length field is a corrupt or hostile file, not a checkpoint.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

std::string errno_str() { return std::strerror(errno); }

// ---- Reading --------------------------------------------------------------------------------

void read_exact(int fd, void* dst, size_t n, uint64_t offset, const std::string& path) {
  char* p = static_cast<char*>(dst);
  while (n > 0) {
    ssize_t r = ::pread(fd, p, n, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw Error("safetensors file '" + path + "': read failed: " + errno_str());
    if (r == 0) throw Error("safetensors file '" + path + "': unexpected end of file (truncated while reading?)");
    p += r;
    n -= static_cast<size_t>(r);
    offset += static_cast<uint64_t>(r);
  }
}

// Closes the descriptor on every exit path of the loader.
struct FdCloser {
  int fd;
  ~FdCloser() { ::close(fd); }
};

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
};

std::string offsets_str(uint64_t b, uint64_t e) { return "[" + std::to_string(b) + ", " + std::to_string(e) + "]"; }

}  // namespace

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  // Build and validate the header before touching the filesystem.
  Json header = Json::object();
  if (!metadata.empty()) {
    Json meta = Json::object();
    for (const auto& [k, v] : metadata) meta.set(k, v);
    header.set("__metadata__", std::move(meta));
  }
  std::unordered_set<std::string> names;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    SAD_CHECK(t.defined(), "save_safetensors '", path, "': tensor '", name, "' is undefined");
    SAD_CHECK(name != "__metadata__", "save_safetensors '", path, "': '__metadata__' is reserved, not a tensor name");
    SAD_CHECK(names.insert(name).second, "save_safetensors '", path, "': duplicate tensor name '", name, "'");
    Json shape = Json::array();
    for (int64_t d : t.shape()) shape.push_back(d);
    Json entry = Json::object();
    entry.set("dtype", dtype_name(t.dtype()));
    entry.set("shape", std::move(shape));
    Json offsets = Json::array();
    offsets.push_back(offset);
    offsets.push_back(offset + t.nbytes());
    entry.set("data_offsets", std::move(offsets));
    header.set(name, std::move(entry));
    offset += t.nbytes();
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const Error& e) {
    throw Error("cannot write safetensors file '" + path + "': " + e.what());
  }
  // Pad with spaces so the data buffer starts at an 8-byte aligned file offset.
  text.append((8 - text.size() % 8) % 8, ' ');
  SAD_CHECK(text.size() <= kMaxHeaderBytes, "save_safetensors '", path, "': header of ", text.size(),
            " bytes is over the ", kMaxHeaderBytes, "-byte limit readers enforce");

  unsigned char len[8];
  const uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
  write_file_durable(
      path,
      [&](const ChunkWriter& write) {
        write(len, 8);
        write(text.data(), text.size());
        for (const auto& [name, t] : tensors) {
          Tensor host = t.to(Device::cpu());  // one tensor at a time keeps the host copy small
          if (host.nbytes()) write(host.raw(), host.nbytes());
        }
      },
      "cannot write safetensors file");
}

SafetensorsFile load_safetensors(const std::string& path) {
  auto fail = [&](const std::string& msg) -> Error { return Error("safetensors file '" + path + "': " + msg); };

  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw fail("cannot open: " + errno_str());
  FdCloser closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw fail("cannot stat: " + errno_str());
  if (!S_ISREG(st.st_mode)) throw fail("not a regular file");
  const auto file_size = static_cast<uint64_t>(st.st_size);

  if (file_size < 8)
    throw fail("file is " + std::to_string(file_size) + " bytes, too short for the 8-byte header length");
  unsigned char len[8];
  read_exact(fd, len, 8, 0, path);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len[i];
  if (header_len > kMaxHeaderBytes)
    throw fail("header length " + std::to_string(header_len) + " is over the " + std::to_string(kMaxHeaderBytes) +
               "-byte limit (corrupt file?)");
  if (header_len > file_size - 8)
    throw fail("header length " + std::to_string(header_len) + " is larger than the " + std::to_string(file_size) +
               "-byte file (truncated?)");
  std::string text(header_len, '\0');
  read_exact(fd, text.data(), header_len, 8, path);
  const uint64_t data_start = 8 + header_len;
  const uint64_t data_size = file_size - data_start;

  Json header;
  try {
    header = Json::parse(text);
  } catch (const Error& e) {
    // Byte positions in the message count from the start of the header (file offset 8).
    throw fail(std::string("invalid header: ") + e.what());
  }
  if (!header.is_object())
    throw fail(std::string("header is not a JSON object (got ") + Json::type_name(header.type()) + ")");

  SafetensorsFile out;
  out.path = path;
  std::vector<Entry> entries;
  for (const auto& [name, v] : header.as_object()) {
    if (name == "__metadata__") {
      if (!v.is_object())
        throw fail(std::string("__metadata__ is not an object (got ") + Json::type_name(v.type()) + ")");
      for (const auto& [k, mv] : v.as_object()) {
        if (!mv.is_string())
          throw fail("__metadata__ value for key '" + k + "' is not a string (got " + Json::type_name(mv.type()) + ")");
        out.metadata[k] = mv.as_string();
      }
      continue;
    }
    const std::string what = "tensor '" + name + "'";
    if (!v.is_object()) throw fail(what + ": entry is not an object (got " + Json::type_name(v.type()) + ")");
    for (const auto& [k, ignored] : v.as_object())
      if (k != "dtype" && k != "shape" && k != "data_offsets") throw fail(what + ": unexpected field '" + k + "'");
    for (const char* k : {"dtype", "shape", "data_offsets"})
      if (!v.contains(k)) throw fail(what + ": missing '" + k + "'");

    Entry e{name, DType::F32, {}, 0, 0};
    const Json& dt = *v.find("dtype");
    if (!dt.is_string()) throw fail(what + ": dtype is not a string (got " + dt.dump() + ")");
    if (dt.as_string() == "F32") {
      e.dtype = DType::F32;
    } else if (dt.as_string() == "F64") {
      e.dtype = DType::F64;
    } else {
      throw fail(what + ": unsupported dtype '" + dt.as_string() + "' (sparsead reads F32 and F64 only)");
    }

    const Json& shape = *v.find("shape");
    bool shape_ok = shape.is_array();
    if (shape_ok)
      for (const Json& d : shape.as_array()) shape_ok = shape_ok && d.is_integer() && d.as_int() >= 0;
    if (!shape_ok) throw fail(what + ": shape must be an array of non-negative integers (got " + shape.dump() + ")");
    uint64_t nbytes = dtype_size(e.dtype);
    for (const Json& d : shape.as_array()) {
      e.shape.push_back(d.as_int());
      if (__builtin_mul_overflow(nbytes, static_cast<uint64_t>(d.as_int()), &nbytes))
        throw fail(what + ": shape " + shape.dump() + " is too large");
    }

    const Json& offs = *v.find("data_offsets");
    bool offs_ok = offs.is_array() && offs.size() == 2 && offs[0].is_integer() && offs[1].is_integer() &&
                   offs[0].as_int() >= 0 && offs[0].as_int() <= offs[1].as_int();
    if (!offs_ok)
      throw fail(what + ": data_offsets must be [begin, end] with 0 <= begin <= end (got " + offs.dump() + ")");
    e.begin = static_cast<uint64_t>(offs[0].as_int());
    e.end = static_cast<uint64_t>(offs[1].as_int());
    if (e.end - e.begin != nbytes)
      throw fail(what + ": data_offsets " + offsets_str(e.begin, e.end) + " hold " + std::to_string(e.end - e.begin) +
                 " bytes but " + dtype_name(e.dtype) + shape_str(e.shape) + " needs " + std::to_string(nbytes));
    if (e.end > data_size)
      throw fail(what + ": data_offsets " + offsets_str(e.begin, e.end) + " reach past the end of the " +
                 std::to_string(data_size) + "-byte data buffer (truncated file?)");
    entries.push_back(std::move(e));
  }

  // The tensors must tile the data buffer exactly: no overlaps, gaps or trailing bytes.
  std::vector<const Entry*> by_offset;
  for (const Entry& e : entries) by_offset.push_back(&e);
  std::stable_sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t covered = 0;
  const Entry* prev = nullptr;
  for (const Entry* e : by_offset) {
    if (e->begin < covered)
      throw fail("tensors '" + prev->name + "' " + offsets_str(prev->begin, prev->end) + " and '" + e->name + "' " +
                 offsets_str(e->begin, e->end) + " overlap in the data buffer");
    if (e->begin > covered)
      throw fail("data buffer bytes " + offsets_str(covered, e->begin) + " belong to no tensor (gap before '" +
                 e->name + "')");
    covered = e->end;
    prev = e;
  }
  if (covered != data_size)
    throw fail("data buffer bytes " + offsets_str(covered, data_size) + " at its end belong to no tensor");

  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype, Device::cpu());
    if (t.nbytes()) read_exact(fd, t.raw(), t.nbytes(), data_start + e.begin, path);
    out.tensors.emplace_back(e.name, std::move(t));
  }
  return out;
}

const Tensor& SafetensorsFile::get(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return t;
  throw Error("safetensors file '" + path + "': no tensor named '" + name + "'");
}

bool SafetensorsFile::has(const std::string& name) const {
  return std::any_of(tensors.begin(), tensors.end(), [&](const auto& p) { return p.first == name; });
}

}  // namespace sad
