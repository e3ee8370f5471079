// ProgressBar: rate and ETA from the elapsed wall time.
#include "apps/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace sad {

ProgressBar::ProgressBar(std::string label, long total, std::string unit, bool quiet)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(std::max(total, 1L)),
      interactive_(!quiet && isatty(STDERR_FILENO)),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

ProgressBar::~ProgressBar() {
  if (!finished_) finish();
}

double ProgressBar::rate() const {
  double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  return el > 0 ? static_cast<double>(done_) / el : 0.0;
}

void ProgressBar::advance(long n, const std::string& status) {
  done_ = std::min(done_ + n, total_);
  status_ = status;
  draw(done_ == total_);
}

void ProgressBar::draw(bool force) {
  if (!interactive_) return;
  auto now = std::chrono::steady_clock::now();
  if (!force && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const int width = 24;
  int filled = static_cast<int>(width * done_ / total_);
  std::string bar(static_cast<size_t>(filled), '=');
  if (filled < width) bar += '>' + std::string(static_cast<size_t>(width - filled - 1), ' ');
  double r = rate();
  double eta = r > 0 ? static_cast<double>(total_ - done_) / r : NAN;
  std::fprintf(stderr, "\r\033[K%s [%s] %ld/%ld %.1f %s/s ETA %s %s", label_.c_str(), bar.c_str(), done_, total_, r,
               unit_.c_str(), format_duration(eta).c_str(), status_.c_str());
  std::fflush(stderr);
}

double ProgressBar::finish() {
  double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (!finished_ && interactive_) {
    draw(true);
    std::fprintf(stderr, "\n");
  }
  finished_ = true;
  return el;
}

void ProgressBar::line(const std::string& text) {
  if (interactive_) std::fprintf(stderr, "\r\033[K");
  std::printf("%s\n", text.c_str());
  std::fflush(stdout);
  if (interactive_) draw(true);
}

}  // namespace sad
