// Sums in double over 16 independent lanes (issue "CPU speed", item 2).
//
// A plain `s += x[i]` is one chain of dependent additions: each waits for the one before
// (4 cycles), so batch norm's statistics and the bias gradient ran at a quarter of a
// value per cycle, far below memory speed. Element i of a row instead goes to lane i % 16
// (the tail of a row to lanes 0, 1, ...), the lanes run side by side in vector registers,
// and total() adds them in a fixed tree. The order depends on the row lengths only, so
// the result is the same on every instruction-set path (kernels/cpu/isa.h) and for any
// thread count. Call add() inside isa_run for the vector copies.
#pragma once

#include <cstdint>

namespace sad::cpu {

// The 16 values of `lanes` added pairwise: (0+8, 1+9, ...), then (0+4, ...), then (0+2,
// 1+3), then 0+1. LaneSum and the direct convolution's weight gradient both end with it.
template <typename T>
T lane_tree(const T* lanes) {
  T t[16];
  for (int l = 0; l < 16; ++l) t[l] = lanes[l];
  for (int w = 8; w >= 1; w /= 2)
    for (int l = 0; l < w; ++l) t[l] += t[l + w];
  return t[0];
}

class LaneSum {
 public:
  static constexpr int kLanes = 16;

  // Adds f(i) for i in [0, n).
  template <typename F>
  void add(int64_t n, F f) {
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
      for (int l = 0; l < kLanes; ++l) lane_[l] += f(i + l);
    for (int l = 0; i < n; ++i, ++l) lane_[l] += f(i);
  }

  double total() const { return lane_tree(lane_); }

 private:
  double lane_[kLanes] = {};
};

}  // namespace sad::cpu
