// CPU reference for concat and split along one axis (its inverse). A contiguous tensor
// seen as (outer, axis, inner) makes both plain block copies: for every outer index,
// part i owns a run of size_i * inner elements of the whole.
#include <cstring>

#include "kernels/cpu/cpu_ops.h"

namespace sad::cpu {

namespace {

// Elements before and after `axis` of a contiguous tensor of shape s.
void outer_inner(const Shape& s, int axis, int64_t& outer, int64_t& inner) {
  outer = 1;
  inner = 1;
  for (int d = 0; d < axis; ++d) outer *= s[static_cast<size_t>(d)];
  for (size_t d = static_cast<size_t>(axis) + 1; d < s.size(); ++d) inner *= s[d];
}

// Copies between the whole and its parts; to_whole picks the direction. `part_of(i)` is
// part i's tensor.
template <typename GetPart>
void copy_parts(int axis, const Tensor& whole, size_t num_parts, GetPart part_of, bool to_whole) {
  int64_t outer, inner;
  outer_inner(whole.shape(), axis, outer, inner);
  const size_t esize = dtype_size(whole.dtype());
  const int64_t whole_run = whole.dim(axis) * inner;
  auto* wp = static_cast<char*>(whole.raw());
#pragma omp parallel for schedule(static) if (whole.numel() > 65536)
  for (int64_t o = 0; o < outer; ++o) {
    int64_t offset = 0;  // along the axis, in elements of one outer slice
    for (size_t i = 0; i < num_parts; ++i) {
      const Tensor& part = part_of(i);
      const int64_t run = part.dim(axis) * inner;
      char* w = wp + static_cast<size_t>(o * whole_run + offset) * esize;
      char* q = static_cast<char*>(part.raw()) + static_cast<size_t>(o * run) * esize;
      if (run > 0) {
        if (to_whole)
          std::memcpy(w, q, static_cast<size_t>(run) * esize);
        else
          std::memcpy(q, w, static_cast<size_t>(run) * esize);
      }
      offset += run;
    }
  }
}

}  // namespace

void concat(const ops::ConcatParams& p, std::span<const Tensor> inputs, Tensor& out) {
  copy_parts(
      p.axis, out, inputs.size(), [&](size_t i) -> const Tensor& { return inputs[i]; }, true);
}

void split(const ops::ConcatParams& p, const Tensor& inp, std::span<Tensor> outputs) {
  copy_parts(
      p.axis, inp, outputs.size(), [&](size_t i) -> const Tensor& { return outputs[i]; }, false);
}

}  // namespace sad::cpu
