// write_file_atomic and the temporary names it uses.
#include "tensor/file_io.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>

#include "tensor/check.h"

namespace sad {

namespace fs = std::filesystem;

void write_file_atomic(const std::string& path, std::string_view bytes, const std::string& what) {
  // The counter keeps two threads of one process (panels written in parallel) apart.
  static std::atomic<uint64_t> counter{0};
  const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  auto fail = [&](const std::string& problem) {
    std::error_code ec;
    fs::remove(tmp, ec);
    SAD_FAIL(what, " '", path, "': ", problem);
  };
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) fail("cannot create a temporary file beside it");
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    f.close();
    if (!f) fail("write failed (disk full?)");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) fail("cannot rename the temporary into place: " + ec.message());
}

bool is_temp_name(const std::string& name) {
  const size_t at = name.rfind(".tmp");
  if (at == std::string::npos || at == 0) return false;
  const std::string rest = name.substr(at + 4);  // "", ".<pid>" or ".<pid>.<n>"
  if (rest.empty()) return true;
  if (rest[0] != '.' || rest.size() < 2) return false;
  size_t dots = 0;
  for (size_t i = 1; i < rest.size(); ++i) {
    if (rest[i] == '.') {
      if (++dots > 1 || rest[i - 1] == '.' || i + 1 == rest.size()) return false;
    } else if (rest[i] < '0' || rest[i] > '9') {
      return false;
    }
  }
  return true;
}

}  // namespace sad
