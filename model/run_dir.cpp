// The run directory's housekeeping (model/run_dir.h).
#include "model/run_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "tensor/check.h"
#include "tensor/file_io.h"

namespace sad {

namespace fs = std::filesystem;

bool is_failed_start(const std::string& dir) {
  std::error_code ec;
  const fs::path d(dir);
  return fs::is_directory(d, ec) && fs::exists(d / kRunMarker, ec) && !fs::exists(d / "checkpoint.safetensors", ec) &&
         !fs::exists(d / "model.safetensors", ec);
}

void remove_stale_temps(const fs::path& run) {
  for (const fs::path& dir : {run, run / "samples"}) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.is_regular_file(ec) && is_temp_name(e.path().filename().string())) fs::remove(e.path(), ec);
  }
}

RunLock::RunLock(const fs::path& run) {
  const std::string p = (run / ".lock").string();
  fd_ = ::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  SAD_CHECK(fd_ >= 0, p, ": cannot open the run's lock file");
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd_);
    SAD_FAIL(run.string(), ": another sparsead process is training in this run directory");
  }
}

RunLock::~RunLock() {
  ::flock(fd_, LOCK_UN);
  ::close(fd_);
}

}  // namespace sad
