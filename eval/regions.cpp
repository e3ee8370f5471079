// 8-connected component labelling of ground-truth masks, the region definition of the
// MVTec AD AUPRO: two defect pixels that touch only at a corner belong to one region.
// A flood fill with an explicit stack (no recursion, so a 4k x 4k region cannot overflow the
// call stack); every pixel is pushed at most once, O(W H).
#include <algorithm>
#include <vector>

#include "eval/metrics.h"
#include "tensor/check.h"

namespace sad::eval {

int32_t label_regions_8(std::span<const uint8_t> mask, int width, int height, std::span<int32_t> labels) {
  SAD_CHECK(width > 0 && height > 0, "label_regions_8: size ", width, "x", height);
  const size_t n = static_cast<size_t>(width) * static_cast<size_t>(height);
  SAD_CHECK(mask.empty() || mask.size() == n, "label_regions_8: mask has ", mask.size(), " pixels for ", width, "x",
            height);
  SAD_CHECK(labels.size() == n, "label_regions_8: labels has ", labels.size(), " entries for ", width, "x", height);
  std::fill(labels.begin(), labels.end(), 0);
  if (mask.empty()) return 0;
  int32_t count = 0;
  std::vector<size_t> stack;
  for (size_t seed = 0; seed < n; ++seed) {
    if (mask[seed] == 0 || labels[seed] != 0) continue;
    ++count;
    labels[seed] = count;
    stack.push_back(seed);
    while (!stack.empty()) {
      const size_t p = stack.back();
      stack.pop_back();
      const int y = static_cast<int>(p / width), x = static_cast<int>(p % width);
      for (int dy = -1; dy <= 1; ++dy) {
        const int yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (int dx = -1; dx <= 1; ++dx) {
          const int xx = x + dx;
          if (xx < 0 || xx >= width) continue;
          const size_t q = static_cast<size_t>(yy) * width + xx;
          if (mask[q] != 0 && labels[q] == 0) {
            labels[q] = count;  // labelled when pushed, so pushed once
            stack.push_back(q);
          }
        }
      }
    }
  }
  return count;
}

}  // namespace sad::eval
