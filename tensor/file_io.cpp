// write_file_atomic and the temporary names it uses.
#include "tensor/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "tensor/check.h"

namespace sad {

namespace fs = std::filesystem;

namespace {

// A temporary's name beside `path`: the pid and a counter keep two processes, and two
// threads of one process (panels written in parallel), apart.
std::string temp_name(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  return path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
}

// Owns a temporary's descriptor until commit(): destroyed without commit it closes the
// descriptor and removes the file, so a failed write leaves nothing behind.
class TempFile {
 public:
  TempFile(std::string tmp_path, int fd) : path_(std::move(tmp_path)), fd_(fd) {}
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(path_.c_str());
  }
  int fd() const { return fd_; }
  // Closes the descriptor, reporting the error close() may carry for buffered writes.
  int close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }
  void commit() { committed_ = true; }

 private:
  std::string path_;
  int fd_;
  bool committed_ = false;
};

// Makes the rename itself durable. Best effort: some filesystems refuse fsync on a
// directory, and the data is already safely in place by then.
void sync_parent_dir(const std::string& path) {
  const std::string dir = fs::path(path).parent_path().string();
  const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace

void write_file_durable(const std::string& path, const std::function<void(const ChunkWriter&)>& produce,
                        const std::string& what) {
  const std::string tmp = temp_name(path);
  // errno is saved by the caller right after the failing call: building the message allocates.
  auto fail = [&](const char* problem, int err) {
    SAD_FAIL(what, " '", path, "': ", problem, ": ", std::strerror(err));
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot create a temporary file beside it", errno);
  TempFile file(tmp, fd);
  produce([&](const void* data, size_t n) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      const ssize_t w = ::write(fd, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) fail("write failed (disk full?)", errno);
      p += w;
      n -= static_cast<size_t>(w);
    }
  });
  if (::fsync(fd) != 0) fail("fsync failed", errno);
  if (file.close() != 0) fail("closing the temporary failed", errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("cannot rename the temporary into place", errno);
  file.commit();
  sync_parent_dir(path);
}

void write_file_atomic(const std::string& path, std::string_view bytes, const std::string& what) {
  const std::string tmp = temp_name(path);
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
