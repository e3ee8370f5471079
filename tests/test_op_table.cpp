// One harness over the op table (tests/op_table.h): every case of every op gets the same
// checks, so an op cannot ship without them.
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/functions.h"
#include "cuda_parity_util.h"
#include "kernels/cpu/isa.h"
#include "op_table.h"
#include "tensor/file_io.h"

using namespace sad;
using namespace sad::test;

namespace {

std::string case_name(const OpEntry& e, const OpCase& c) { return std::string(ops::op_name(e.id)) + ": " + c.label; }

bool has_gradient(const OpCase& c) {
  for (bool g : c.grad)
    if (g) return true;
  return false;
}

// The projection weights of the outputs' gradient check: fixed, exact in float32.
std::vector<Tensor> output_weights(const std::vector<Variable>& outs) {
  std::vector<Tensor> w;
  for (size_t k = 0; k < outs.size(); ++k)
    w.push_back(random_tensor(outs[k].shape(), 900 + k, -1, 1, DType::F32).to(DType::F64));
  return w;
}

// One scalar from all outputs, L = sum_k sum(w_k * out_k), so that several outputs (split)
// are checked at once; w on the outputs' device and dtype.
Variable projected(const std::vector<Variable>& outs, const std::vector<Tensor>& w) {
  Variable total;
  for (size_t k = 0; k < outs.size(); ++k) {
    Tensor wk = w[k].dtype() == outs[k].dtype() ? w[k] : w[k].to(outs[k].dtype());
    Variable term = sum(mul(outs[k], Variable(wk.to(outs[k].device()))));
    total = total.defined() ? add(total, term) : term;
  }
  return total;
}

struct Result {
  std::vector<Tensor> outputs;  // on the CPU, as computed
  std::vector<Tensor> grads;    // one per input marked in c.grad, on the CPU
};

// Runs the case on inputs converted to (device, dtype): the forward, and the backward of
// the projection when the case has a gradient.
Result run_on(const OpCase& c, const std::vector<Tensor>& inputs) {
  std::vector<Variable> in;
  for (size_t i = 0; i < inputs.size(); ++i) in.emplace_back(inputs[i], c.grad.at(i));
  std::vector<Variable> outs = c.run(in);
  REQUIRE_MESSAGE(!outs.empty(), "the case returned no output");
  Result r;
  for (const Variable& o : outs) r.outputs.push_back(o.data().to(Device::cpu()));
  if (has_gradient(c)) {
    projected(outs, output_weights(outs)).backward();
    for (size_t i = 0; i < in.size(); ++i) {
      if (!c.grad[i]) continue;
      REQUIRE_MESSAGE(in[i].grad().defined(), "input ", i, " received no gradient");
      r.grads.push_back(in[i].grad().to(Device::cpu()));
    }
  }
  return r;
}

std::vector<Tensor> as_f32(const std::vector<Tensor>& xs) {
  std::vector<Tensor> out;
  for (const Tensor& x : xs) out.push_back(x.to(DType::F32));
  return out;
}

// Float32 results (any device) against the float64 reference, with the case's tolerances.
void compare(const Result& got, const Result& ref, const OpCase& c, const std::string& where) {
  REQUIRE(got.outputs.size() == ref.outputs.size());
  for (size_t k = 0; k < ref.outputs.size(); ++k)
    check_close(got.outputs[k], ref.outputs[k], c.fwd.atol, c.fwd.rtol, where + " output " + std::to_string(k));
  REQUIRE(got.grads.size() == ref.grads.size());
  for (size_t k = 0; k < ref.grads.size(); ++k)
    check_close(got.grads[k], ref.grads[k], c.bwd.atol, c.bwd.rtol, where + " gradient " + std::to_string(k));
}

// The same dtype, shape and bits (float32 values are exact in double).
bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  const std::vector<double> x = a.to_vector_f64(), y = b.to_vector_f64();
  return std::memcmp(x.data(), y.data(), x.size() * sizeof(double)) == 0;
}

template <class F>
void for_each_case(F&& f) {
  for (const OpEntry& e : op_table())
    for (const OpCase& c : e.cases()) {
      const std::string name = case_name(e, c);
      INFO(name);
      REQUIRE(c.grad.size() == c.inputs.size());
      f(e, c, name);
    }
}

}  // namespace

TEST_CASE("op table: every OpId has an entry with at least one case") {
  const std::vector<ops::OpId> missing = ops_without_entry(op_table());
  std::string names;
  for (ops::OpId id : missing) names += std::string(" ") + ops::op_name(id);
  CHECK_MESSAGE(missing.empty(), "ops without an entry in tests/op_table.cpp:", names);
}

TEST_CASE("op table: a table without an op is caught (the planted violation)") {
  std::vector<OpEntry> table = op_table();
  std::erase_if(table, [](const OpEntry& e) { return e.id == ops::OpId::KlSparsity; });  // no entry
  for (OpEntry& e : table)
    if (e.id == ops::OpId::Fusion) e.cases = [] { return std::vector<OpCase>{}; };  // an entry without cases
  const std::vector<ops::OpId> missing = ops_without_entry(table);
  REQUIRE(missing.size() == 2);
  CHECK(missing[0] == ops::OpId::Fusion);
  CHECK(missing[1] == ops::OpId::KlSparsity);
}

namespace {

// The op table as docs/OPS.md shows it: one row per op, its cases and which checks they get.
std::string op_table_markdown(const std::vector<OpEntry>& table) {
  std::ostringstream md;
  md << "| op | cases | checks |\n|---|---|---|\n";
  size_t total = 0, with_grad = 0;
  for (const OpEntry& e : table) {
    const std::vector<OpCase> cases = e.cases();
    std::string labels;
    size_t grads = 0;
    for (const OpCase& c : cases) {
      labels += (labels.empty() ? "" : "; ") + c.label;
      grads += has_gradient(c) ? 1 : 0;
    }
    total += cases.size();
    with_grad += grads;
    md << "| " << ops::op_name(e.id) << " | " << labels << " | f32 vs f64, CUDA parity";
    if (grads > 0) md << ", gradcheck" << (grads < cases.size() ? " (" + std::to_string(grads) + " of them)" : "");
    md << " |\n";
  }
  md << "\n" << table.size() << " ops, " << total << " cases, " << with_grad << " with a gradient check.\n";
  return md.str();
}

}  // namespace

// docs/OPS.md's table is this listing, so a new op's documentation row is generated, not
// written: SPARSEAD_UPDATE_DOCS=1 ctest -R "op table: docs" rewrites it.
TEST_CASE("op table: docs/OPS.md lists the table as the table itself says") {
  const std::string path = std::string(SPARSEAD_SOURCE_DIR) + "/docs/OPS.md";
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), path, ": cannot be read");
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string begin = "<!-- op-table:begin -->\n", end = "<!-- op-table:end -->";
  const size_t b = doc.find(begin), e = doc.find(end);
  REQUIRE_MESSAGE((b != std::string::npos && e != std::string::npos && b < e), path, ": no op-table markers");
  const std::string want = op_table_markdown(op_table());
  const std::string have = doc.substr(b + begin.size(), e - b - begin.size());
  const char* update = std::getenv("SPARSEAD_UPDATE_DOCS");
  if (have != want && update && std::string(update) == "1") {
    const std::string text = doc.substr(0, b + begin.size()) + want + doc.substr(e);
    write_file_atomic(path, text, "docs");
    MESSAGE(path, ": op table rewritten");
    return;
  }
  CHECK_MESSAGE(have == want, path, " is stale: run SPARSEAD_UPDATE_DOCS=1 ctest -R \"op table: docs\"\n", want);
}

TEST_CASE("op table: a stale docs listing is caught (the planted violation)") {
  std::vector<OpEntry> table = op_table();
  const std::string full = op_table_markdown(table);
  table.pop_back();
  CHECK(op_table_markdown(table) != full);
  for (OpEntry& e : table)
    if (e.id == ops::OpId::Fusion) {
      auto cases = e.cases;
      e.cases = [cases] {
        std::vector<OpCase> c = cases();
        c.back().label += " changed";
        return c;
      };
    }
  table.push_back(op_table().back());
  CHECK(op_table_markdown(table) != full);
}

TEST_CASE("op table: the CPU float32 forward and backward match the float64 reference") {
  for_each_case([](const OpEntry&, const OpCase& c, const std::string& name) {
    const Result ref = run_on(c, c.inputs);
    compare(run_on(c, as_f32(c.inputs)), ref, c, name + " (CPU float32)");
  });
}

// Every instruction-set path of kernels/cpu/isa.h against the portable one: the same bits,
// forward and backward, in float32 and float64.
TEST_CASE("op table: every instruction-set path gives the portable path's bits") {
  const cpu::Isa best = cpu::best_cpu_isa();
  const cpu::ScopedIsa restore(cpu::cpu_isa());  // whatever the test sets, the path before comes back
  const std::string paths = std::string("instruction-set paths on this CPU: portable up to ") + cpu::isa_name(best);
  MESSAGE(paths);
  for_each_case([&](const OpEntry&, const OpCase& c, const std::string& name) {
    for (const std::vector<Tensor>& in : {c.inputs, as_f32(c.inputs)}) {
      cpu::set_cpu_isa(cpu::Isa::Portable);
      const Result ref = run_on(c, in);
      for (int k = 1; k <= static_cast<int>(best); ++k) {
        const cpu::Isa isa = static_cast<cpu::Isa>(k);
        cpu::set_cpu_isa(isa);
        const Result got = run_on(c, in);
        const std::string where = name + " (" + cpu::isa_name(isa) + ", " + dtype_name(in[0].dtype()) + ")";
        for (size_t j = 0; j < ref.outputs.size(); ++j)
          CHECK_MESSAGE(same_bits(got.outputs[j], ref.outputs[j]), where, " output ", j, " differs");
        for (size_t j = 0; j < ref.grads.size(); ++j)
          CHECK_MESSAGE(same_bits(got.grads[j], ref.grads[j]), where, " gradient ", j, " differs");
      }
    }
  });
}

TEST_CASE("op table: gradients match finite differences in float64") {
  for_each_case([&](const OpEntry& e, const OpCase& c, const std::string& name) {
    if (!has_gradient(c)) {
      // Only the optimiser and step-guard ops (and scale_by_inverse, used without gradient) have
      // no autograd function, so no gradient to check.
      const bool optimiser = e.id == ops::OpId::Adam || e.id == ops::OpId::Axpy || e.id == ops::OpId::Fill ||
                             e.id == ops::OpId::FlagNonfinite || e.id == ops::OpId::ScaleByInverse;
      CHECK_MESSAGE(optimiser, name, ": no input is differentiated, so the gradient goes unchecked");
      return;
    }
    std::vector<Tensor> w;
    gradcheck(
        name,
        [&](const std::vector<Variable>& v) {
          std::vector<Variable> outs = c.run(v);
          if (w.empty()) w = output_weights(outs);
          return outs.size() == 1 ? outs[0] : projected(outs, w);
        },
        c.inputs, c.grad, c.gc);
  });
}

TEST_SUITE_BEGIN("cuda");

// Each input sits inside a guarded CUDA buffer (odd lead: misaligned) whose guards and
// interior must come back untouched; two runs must agree bit for bit.
TEST_CASE("cuda parity: every op of the table against the float64 reference" * doctest::skip(!sad::cuda_available())) {
  StrictMathGuard strict;
  for_each_case([](const OpEntry&, const OpCase& c, const std::string& name) {
    const Result ref = run_on(c, c.inputs);
    std::vector<GuardedCuda> buffers;
    std::vector<Tensor> host = as_f32(c.inputs), dev;
    buffers.reserve(host.size());
    for (const Tensor& h : host) {
      buffers.emplace_back(h.shape(), &h);
      dev.push_back(buffers.back().view());
    }
    const Result first = run_on(c, dev), second = run_on(c, dev);
    compare(first, ref, c, name + " (CUDA)");
    for (size_t k = 0; k < first.outputs.size(); ++k)
      check_bitwise_equal(first.outputs[k], second.outputs[k], name + " output " + std::to_string(k));
    for (size_t k = 0; k < first.grads.size(); ++k)
      check_bitwise_equal(first.grads[k], second.grads[k], name + " gradient " + std::to_string(k));
    for (size_t i = 0; i < buffers.size(); ++i) {
      buffers[i].check_guards(name + " input " + std::to_string(i));
      check_bitwise_equal(buffers[i].view().to(Device::cpu()), host[i],
                          name + " input " + std::to_string(i) + " unchanged");
    }
  });
}

TEST_SUITE_END();
