// A terminal progress bar with rate and ETA, and its quiet counterpart for logs.
// On a terminal (and not quiet) the bar redraws in place at most 10 times a second;
// otherwise nothing is drawn and the caller prints one line per epoch with line().
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

#include "tensor/text.h"  // format_duration

namespace sad {

class ProgressBar {
 public:
  // total: units of work (images); unit: "img".
  ProgressBar(std::string label, long total, std::string unit, bool quiet);
  ~ProgressBar();
  // Advance by n units; `status` (e.g. "loss 0.123") is shown after the bar.
  void advance(long n, const std::string& status = "");
  // Finish the bar (newline on a terminal). Returns the elapsed seconds.
  double finish();
  // Print a whole line (clears the bar first on a terminal).
  void line(const std::string& text);
  double rate() const;  // units per second so far
  bool interactive() const { return interactive_; }

 private:
  void draw(bool force);
  std::string label_, unit_, status_;
  long total_, done_ = 0;
  bool interactive_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace sad
