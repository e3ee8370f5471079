// CPU reference for concat and split along one axis (its inverse). A contiguous tensor
// seen as (outer, axis, inner) makes both plain block copies: for every outer index,
// part i owns a run of size_i * inner elements of the whole.
#include <cstring>

#include "kernels/checks.h"
#include "kernels/cpu/cpu_ops.h"

// ---- the contract: the checks kernels/ops.h runs before either backend ----------------------

namespace sad::ops::contract {

using namespace detail;

static void check_concat_shapes(const char* op, const ConcatParams& p, std::span<const Tensor> parts,
                                const Tensor& whole) {
  SAD_CHECK(!parts.empty(), op, ": no tensors");
  int nd = whole.ndim();
  SAD_CHECK(p.axis >= 0 && p.axis < nd, op, ": axis ", p.axis, " out of range for ", shape_str(whole.shape()));
  int64_t total = 0;
  for (const Tensor& t : parts) {
    check_alike(op, whole, {{"part", &t}});
    SAD_CHECK(t.ndim() == nd, op, ": part ", shape_str(t.shape()), " vs whole ", shape_str(whole.shape()));
    for (int d = 0; d < nd; ++d)
      if (d != p.axis)
        SAD_CHECK(t.dim(d) == whole.dim(d), op, ": part ", shape_str(t.shape()), " does not match ",
                  shape_str(whole.shape()), " outside axis ", p.axis);
    total += t.dim(p.axis);
  }
  SAD_CHECK(total == whole.dim(p.axis), op, ": parts add up to ", total, " along axis ", p.axis, ", whole has ",
            whole.dim(p.axis));
}

const Tensor& concat(const ConcatParams& p, std::span<const Tensor> inputs, Tensor& out) {
  check_call("concat", OpId::Concat, "output", out, {});
  check_concat_shapes("concat", p, inputs, out);
  return out;
}

const Tensor& split(const ConcatParams& p, const Tensor& inp, std::span<Tensor> outputs) {
  check_call("split", OpId::Split, "input", inp, {});
  check_concat_shapes("split", p, std::span<const Tensor>(outputs.data(), outputs.size()), inp);
  return inp;
}

}  // namespace sad::ops::contract

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
