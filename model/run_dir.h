// The run directory's housekeeping: our marker, the lock that keeps a second process out,
// the temporaries a dead process left, and the failed start that may be retrained in place.
#pragma once

#include <filesystem>
#include <string>

namespace sad {

// The marker every run directory gets when training starts: only a directory that holds it
// is ever cleaned for a restart.
inline constexpr const char* kRunMarker = ".sparsead-run";

// A run directory that a training made (kRunMarker) but left before its first checkpoint
// and without a model: `train` may start again in it without --resume.
bool is_failed_start(const std::string& dir);

// Removes every writer's temporary (is_temp_name) in the run directory and its samples/, left
// behind only by a process that died mid-write. Call with the run's lock held, so no live
// writer owns them.
void remove_stale_temps(const std::filesystem::path& run);

// An exclusive flock on RUN/.lock for the lifetime of the object: a second process training
// into the same directory is refused with an error naming it, and the kernel releases the
// lock when a process dies.
class RunLock {
 public:
  explicit RunLock(const std::filesystem::path& run);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace sad
