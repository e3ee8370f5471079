// Op benchmarks: conv2d at the networks' real layer shapes, GEMM, the method's own
// kernels (fusion, kl_sparsity) at the model's shapes and at a shape far past any cache
// next to a plain copy of the same size, the activations (ReLU, leaky ReLU, tanh), SSIM,
// and one Adam step over G's arena.
// Every benchmark checks its op once before timing: sampled entries against a direct
// double-precision computation, or a known value.
#include <cmath>
#include <cstring>
#include <vector>

#include "bench/bench_registry.h"
#include "layers/optim.h"
#include "model/networks.h"
#include "tensor/rng.h"

namespace sad::bench {

namespace {

using benchmark::Counter;

// Flat indices to spot-check, from a fixed seed.
std::vector<int64_t> sample_indices(int64_t n, int count, uint64_t seed) {
  Rng rng(seed);
  std::vector<int64_t> idx;
  for (int i = 0; i < count; ++i) idx.push_back(static_cast<int64_t>(rng.below(static_cast<uint64_t>(n))));
  return idx;
}

// A reference value and the sum of the absolute values of its terms: float32 sums may
// differ from the double one by a few ulps of that magnitude, never by more.
struct RefSum {
  double value = 0, magnitude = 0;
  void add(double t) { value += t, magnitude += std::abs(t); }
};
void expect_ref(double got, const RefSum& r, const std::string& what) {
  // 1e-4 of the terms' magnitude: float32 accumulation over up to ~1e6 terms in any order
  // stays far below it; a wrong index or a missing term does not.
  expect_close(got, r.value, 1e-4 * r.magnitude + 1e-6, 0.0, what);
}

// ---- conv2d ------------------------------------------------------------------------------

struct ConvCase {
  const char* layer;  // the module path in the model file
  int64_t n, ci, co, h;
  int k, stride, pad;
};

// Representative layers of G, D and S at a preset: the first and the deepest encoder
// convolutions, the full-resolution decoder conv, D's strided and deepest 4x4 convs, S's
// encoder (on 2B images: x~ and x^ together), a fusion 1x1, a refine block and the head.
std::vector<ConvCase> conv_cases(const Preset& p) {
  const int64_t s = p.size, w = p.width, c = p.channels, b = p.batch;
  return {
      {"G.enc.0.0", b, c, w, s, 3, 2, 1},               // C -> w, stride 2, S -> S/2
      {"G.enc.3.1", b, 8 * w, 8 * w, s / 16, 3, 1, 1},  // deepest, S/16
      {"G.dec.3.2", b, w, w, s, 3, 1, 1},               // full resolution
      {"D.net.2", b, w, 2 * w, s / 2, 4, 2, 1},         // 4x4 stride 2
      {"D.net.4", b, 4 * w, 8 * w, s / 8, 4, 1, 1},     // 4x4 stride 1, deepest
      {"S.stem.0", 2 * b, c, w, s, 3, 1, 1},            // on [x~; x^]
      {"S.enc1.0.conv2", 2 * b, w, w, s / 2, 3, 1, 1},
      {"S.enc4.1.conv1", 2 * b, 8 * w, 8 * w, s / 16, 3, 1, 1},
      {"S.fuse1", b, 3 * w, w, s / 2, 1, 1, 0},      // 1x1 on [a, b, |a-b|]
      {"S.refine1.0", b, 3 * w, w, s / 2, 3, 1, 1},  // concat(up(d_2), z_1)
      {"S.head_conv", b, w, w, s, 3, 1, 1},
  };
}

struct ConvFixture {
  ConvCase cc;
  ops::Conv2dParams p;
  Tensor x, w, out, dout, dx, dw;
  double flops = 0;  // forward
};

std::shared_ptr<ConvFixture> make_conv(const ConvCase& cc, Device d, bool backward) {
  auto f = std::make_shared<ConvFixture>();
  f->cc = cc;
  f->p = {cc.stride, cc.stride, cc.pad, cc.pad};
  const int64_t ho = ops::conv2d_out_size(cc.h, cc.k, cc.stride, cc.pad);
  f->x = random_tensor({cc.n, cc.ci, cc.h, cc.h}, 1, d);                // (N, Ci, H, W)
  f->w = random_tensor({cc.co, cc.ci, cc.k, cc.k}, 2, d, -0.1f, 0.1f);  // (Co, Ci, K, K)
  f->out = Tensor::empty({cc.n, cc.co, ho, ho}, DType::F32, d);         // (N, Co, Ho, Wo)
  f->flops = conv2d_flops(f->x.shape(), f->w.shape(), f->out.shape());
  const std::string what = std::string("conv2d ") + cc.layer;
  std::vector<float> xh = f->x.to_vector(), wh = f->w.to_vector();
  const int64_t ci = cc.ci, co = cc.co, h = cc.h, k = cc.k;
  auto xat = [&](int64_t n, int64_t c, int64_t y, int64_t xx) -> double {
    if (y < 0 || y >= h || xx < 0 || xx >= h) return 0.0;
    return xh[static_cast<size_t>(((n * ci + c) * h + y) * h + xx)];
  };
  if (!backward) {
    ops::conv2d_forward(f->p, f->x, f->w, nullptr, f->out);
    std::vector<float> oh = f->out.to_vector();
    for (int64_t i : sample_indices(f->out.numel(), 24, 3)) {
      const int64_t ox = i % ho, oy = i / ho % ho, o = i / (ho * ho) % co, n = i / (ho * ho * co);
      RefSum r;
      for (int64_t c = 0; c < ci; ++c)
        for (int64_t ky = 0; ky < k; ++ky)
          for (int64_t kx = 0; kx < k; ++kx)
            r.add(wh[static_cast<size_t>(((o * ci + c) * k + ky) * k + kx)] *
                  xat(n, c, oy * cc.stride - cc.pad + ky, ox * cc.stride - cc.pad + kx));
      expect_ref(oh[static_cast<size_t>(i)], r, what + " forward, output " + std::to_string(i));
    }
    return f;
  }
  f->dout = random_tensor(f->out.shape(), 4, d);
  f->dx = empty_like(f->x);
  f->dw = empty_like(f->w);
  ops::conv2d_backward(f->p, f->x, f->w, f->dout, &f->dx, &f->dw, nullptr);
  std::vector<float> gh = f->dout.to_vector(), dxh = f->dx.to_vector(), dwh = f->dw.to_vector();
  auto gat = [&](int64_t n, int64_t o, int64_t y, int64_t xx) -> double {
    return gh[static_cast<size_t>(((n * co + o) * ho + y) * ho + xx)];
  };
  // dx[n, c, y, x] = sum over (o, ky, kx) with y = oy s - p + ky of dout[n, o, oy, ox] w[o, c, ky, kx].
  for (int64_t i : sample_indices(f->dx.numel(), 24, 5)) {
    const int64_t xx = i % h, y = i / h % h, c = i / (h * h) % ci, n = i / (h * h * ci);
    RefSum r;
    for (int64_t o = 0; o < co; ++o)
      for (int64_t ky = 0; ky < k; ++ky)
        for (int64_t kx = 0; kx < k; ++kx) {
          const int64_t ty = y + cc.pad - ky, tx = xx + cc.pad - kx;
          if (ty < 0 || tx < 0 || ty % cc.stride || tx % cc.stride) continue;
          const int64_t oy = ty / cc.stride, ox = tx / cc.stride;
          if (oy >= ho || ox >= ho) continue;
          r.add(gat(n, o, oy, ox) * wh[static_cast<size_t>(((o * ci + c) * k + ky) * k + kx)]);
        }
    expect_ref(dxh[static_cast<size_t>(i)], r, what + " backward data, element " + std::to_string(i));
  }
  // dw[o, c, ky, kx] = sum over (n, oy, ox) of dout[n, o, oy, ox] x[n, c, oy s - p + ky, ox s - p + kx].
  for (int64_t i : sample_indices(f->dw.numel(), 8, 6)) {
    const int64_t kx = i % k, ky = i / k % k, c = i / (k * k) % ci, o = i / (k * k * ci);
    RefSum r;
    for (int64_t n = 0; n < cc.n; ++n)
      for (int64_t oy = 0; oy < ho; ++oy)
        for (int64_t ox = 0; ox < ho; ++ox)
          r.add(gat(n, o, oy, ox) * xat(n, c, oy * cc.stride - cc.pad + ky, ox * cc.stride - cc.pad + kx));
    expect_ref(dwh[static_cast<size_t>(i)], r, what + " backward filter, element " + std::to_string(i));
  }
  return f;
}

void register_conv(Device d, const Preset& pr) {
  for (const ConvCase& cc : conv_cases(pr)) {
    for (bool backward : {false, true}) {
      const std::string name = std::string(backward ? "conv2d_backward/" : "conv2d_forward/") + device_tag(d) + "/" +
                               pr.tag + "/" + cc.layer;
      add(name, [=](benchmark::State& st) {
        ConvFixture& f = fixture<ConvFixture>(name, [&] { return make_conv(cc, d, backward); });
        timed_loop(st, d, [&] {
          if (backward)
            ops::conv2d_backward(f.p, f.x, f.w, f.dout, &f.dx, &f.dw, nullptr);
          else
            ops::conv2d_forward(f.p, f.x, f.w, nullptr, f.out);
        });
        // backward = data + filter gradients, each as many FLOPs as the forward.
        const double flops = backward ? 2 * f.flops : f.flops;
        st.counters["FLOP/s"] = Counter(flops * static_cast<double>(st.iterations()), Counter::kIsRate);
        st.SetLabel("N=" + std::to_string(cc.n) + " Ci=" + std::to_string(cc.ci) + " Co=" + std::to_string(cc.co) +
                    " H=" + std::to_string(cc.h) + " k" + std::to_string(cc.k) + "s" + std::to_string(cc.stride));
      });
    }
  }
}

// ---- gemm ------------------------------------------------------------------------------------

struct GemmCase {
  const char* what;
  int64_t m, n, k;
  bool trans_b;
};

struct GemmFixture {
  Tensor a, b, c;
  ops::GemmParams p;
};

void register_gemm(Device d) {
  // Square sizes, and the GEMMs of the CPU convolution (im2col, 1024-column bands):
  // out (Co, band) = W (Co, K) @ col (K, band) and dW (Co, K) = dout (Co, P) @ col^T.
  const GemmCase cases[] = {
      {"square", 256, 256, 256, false},
      {"square", 1024, 1024, 1024, false},
      {"square", 2048, 2048, 2048, false},
      {"G.dec.3.2 forward band, S128w16", 16, 1024, 144, false},
      {"G.dec.3.2 forward band, S256w32", 32, 1024, 288, false},
      {"S.enc4 forward, S256w32", 256, 256, 2304, false},
      {"S.enc4 dweight, S256w32", 256, 2304, 256, true},
  };
  for (const GemmCase& gc : cases) {
    const std::string name = std::string("gemm/") + device_tag(d) + "/M" + std::to_string(gc.m) + "_N" +
                             std::to_string(gc.n) + "_K" + std::to_string(gc.k) + (gc.trans_b ? "_Bt" : "");
    add(name, [=](benchmark::State& st) {
      GemmFixture& f = fixture<GemmFixture>(name, [&] {
        auto g = std::make_shared<GemmFixture>();
        g->a = random_tensor({gc.m, gc.k}, 7, d);                                        // (M, K)
        g->b = random_tensor(gc.trans_b ? Shape{gc.n, gc.k} : Shape{gc.k, gc.n}, 8, d);  // (K, N) or (N, K)
        g->c = Tensor::empty({gc.m, gc.n}, DType::F32, d);                               // (M, N)
        g->p.trans_b = gc.trans_b;
        ops::gemm(g->p, g->a, g->b, g->c);
        std::vector<float> ah = g->a.to_vector(), bh = g->b.to_vector(), ch = g->c.to_vector();
        for (int64_t i : sample_indices(gc.m * gc.n, 24, 9)) {
          const int64_t r = i / gc.n, col = i % gc.n;
          RefSum s;
          for (int64_t kk = 0; kk < gc.k; ++kk)
            s.add(static_cast<double>(ah[static_cast<size_t>(r * gc.k + kk)]) *
                  bh[static_cast<size_t>(gc.trans_b ? col * gc.k + kk : kk * gc.n + col)]);
          expect_ref(ch[static_cast<size_t>(i)], s, name + ", C entry " + std::to_string(i));
        }
        return g;
      });
      timed_loop(st, d, [&] { ops::gemm(f.p, f.a, f.b, f.c); });
      st.counters["FLOP/s"] =
          Counter(2.0 * gc.m * gc.n * gc.k * static_cast<double>(st.iterations()), Counter::kIsRate);
      st.SetLabel(gc.what);
    });
  }
}

// ---- fusion and kl_sparsity, with a copy of the same size as their reference ---------------

struct FusionFixture {
  Tensor a, b, out, dout, da, db;
};

void register_fusion(Device d, const std::string& tag, const Shape& shape /*(N, C, H, W) of a and b*/) {
  const int64_t n = shape_numel(shape);
  for (bool backward : {false, true}) {
    const std::string name = std::string(backward ? "fusion_backward/" : "fusion_forward/") + device_tag(d) + "/" + tag;
    add(name, [=](benchmark::State& st) {
      FusionFixture& f = fixture<FusionFixture>(name, [&] {
        auto g = std::make_shared<FusionFixture>();
        g->a = random_tensor(shape, 11, d);
        g->b = random_tensor(shape, 12, d);
        Shape os = shape;
        os[1] *= 3;
        g->out = Tensor::empty(os, DType::F32, d);  // (N, 3C, H, W)
        const int64_t c = shape[1], hw = shape[2] * shape[3];
        std::vector<float> ah = g->a.to_vector(), bh = g->b.to_vector();
        if (!backward) {
          ops::fusion_forward(g->a, g->b, g->out);
          std::vector<float> oh = g->out.to_vector();
          for (int64_t i : sample_indices(g->out.numel(), 48, 13)) {
            const int64_t img = i / (3 * c * hw), ch = i / hw % (3 * c), px = i % hw;
            const size_t src = static_cast<size_t>((img * c + ch % c) * hw + px);
            const double want = ch < c ? ah[src] : ch < 2 * c ? bh[src] : std::fabs(ah[src] - bh[src]);
            expect_close(oh[static_cast<size_t>(i)], want, 0, 0, name + ", output " + std::to_string(i));
          }
        } else {
          g->dout = random_tensor(os, 14, d);
          g->da = empty_like(g->a);
          g->db = empty_like(g->b);
          ops::fusion_backward(g->a, g->b, g->dout, &g->da, &g->db);
          std::vector<float> gh = g->dout.to_vector(), dah = g->da.to_vector(), dbh = g->db.to_vector();
          for (int64_t i : sample_indices(n, 48, 15)) {
            const int64_t img = i / (c * hw), ch = i / hw % c, px = i % hw;
            auto g_at = [&](int64_t part) {
              return static_cast<double>(gh[static_cast<size_t>((img * 3 * c + part * c + ch) * hw + px)]);
            };
            const double diff = ah[static_cast<size_t>(i)] - bh[static_cast<size_t>(i)];
            const double sgn = diff > 0 ? 1.0 : diff < 0 ? -1.0 : 0.0;
            expect_close(dah[static_cast<size_t>(i)], g_at(0) + sgn * g_at(2), 1e-6, 1e-6,
                         name + ", da " + std::to_string(i));
            expect_close(dbh[static_cast<size_t>(i)], g_at(1) - sgn * g_at(2), 1e-6, 1e-6,
                         name + ", db " + std::to_string(i));
          }
        }
        return g;
      });
      timed_loop(st, d, [&] {
        if (backward)
          ops::fusion_backward(f.a, f.b, f.dout, &f.da, &f.db);
        else
          ops::fusion_forward(f.a, f.b, f.out);
      });
      // Compulsory traffic: forward reads a, b and writes 3 planes (5 n floats);
      // backward reads a, b, dout (5 n) and writes da, db (2 n).
      st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * n * 4 * (backward ? 7 : 5));
      st.SetLabel(shape_str(shape) + ", " + std::to_string(n * 4 * (backward ? 7 : 5) >> 20) + " MiB moved");
    });
  }
}

struct KlFixture {
  ops::KlSparsityParams p;
  Tensor logits, residual, labels, loss, stats, dloss, dlogits;
};

void register_kl(Device d, const std::string& tag, const Shape& shape /*(B, 1, H, W)*/) {
  const int64_t n = shape_numel(shape), nb = shape[0], hw = shape[2] * shape[3];
  for (bool backward : {false, true}) {
    const std::string name =
        std::string(backward ? "kl_sparsity_backward/" : "kl_sparsity_forward/") + device_tag(d) + "/" + tag;
    add(name, [=](benchmark::State& st) {
      KlFixture& f = fixture<KlFixture>(name, [&] {
        auto g = std::make_shared<KlFixture>();
        std::vector<float> y(static_cast<size_t>(nb));
        for (int64_t b = 0; b < nb; ++b) y[static_cast<size_t>(b)] = static_cast<float>(b % 2 == 0);  // 1, 0, 1, ...
        g->labels = Tensor::from_vector(y, {nb}, DType::F32, d);
        g->loss = Tensor::empty({1}, DType::F32, d);
        g->stats = Tensor::empty({nb, 4}, DType::F32, d);
        g->dloss = Tensor::full({1}, 1.0, DType::F32, d);
        g->dlogits = Tensor::empty(shape, DType::F32, d);
        // Known value: every logit at logit(rho) and r = 1 give rho^_b = rho, KL = 0, so
        // L = mean_b [y_b lambda (1 - rho) + (1 - y_b) (-log(1 - rho))], and
        // dL/dl = (1/B) [y_b (-lambda M (1 - M)) + (1 - y_b) M] / HW with M = rho.
        const double rho = g->p.rho, lambda = g->p.lambda_fit;
        g->logits = Tensor::full(shape, std::log(rho / (1 - rho)), DType::F32, d);
        g->residual = Tensor::full(shape, 1.0, DType::F32, d);
        ops::kl_sparsity_forward(g->p, g->logits, g->residual, g->labels, g->loss, g->stats);
        const double pos = static_cast<double>((nb + 1) / 2), neg_n = static_cast<double>(nb / 2);
        const double want = (pos * lambda * (1 - rho) + neg_n * -std::log(1 - rho)) / static_cast<double>(nb);
        expect_close(g->loss.item(), want, 0, 1e-5, name + ": loss at the known point");
        ops::kl_sparsity_backward(g->p, g->logits, g->residual, g->labels, g->stats, g->dloss, g->dlogits);
        std::vector<float> dl = g->dlogits.to_vector();
        for (int64_t i : sample_indices(n, 32, 16)) {
          const bool positive = (i / hw) % 2 == 0;
          const double m = rho;
          const double want_d = (positive ? -lambda * m * (1 - m) : m) / (static_cast<double>(nb) * hw);
          // rtol 1e-3: rho^ is a float mean of sigmoid(logit(rho)), a few ulps off rho, so
          // the KL slope is not exactly 0.
          expect_close(dl[static_cast<size_t>(i)], want_d, 0, 1e-3, name + ": dlogits " + std::to_string(i));
        }
        // Timed on realistic values: logits in [-6, 2], residual evidence in [0, 3].
        g->logits = random_tensor(shape, 17, d, -6.0f, 2.0f);
        g->residual = random_tensor(shape, 18, d, 0.0f, 3.0f);
        ops::kl_sparsity_forward(g->p, g->logits, g->residual, g->labels, g->loss, g->stats);
        expect_finite(g->loss, name + ": loss on random logits");
        return g;
      });
      timed_loop(st, d, [&] {
        if (backward)
          ops::kl_sparsity_backward(f.p, f.logits, f.residual, f.labels, f.stats, f.dloss, f.dlogits);
        else
          ops::kl_sparsity_forward(f.p, f.logits, f.residual, f.labels, f.loss, f.stats);
      });
      // Forward reads logits and residual; backward reads both and writes dlogits.
      st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * n * 4 * (backward ? 3 : 2));
      st.SetLabel(shape_str(shape) + ", " + std::to_string(n * 4 * (backward ? 3 : 2) >> 20) + " MiB moved");
    });
  }
}

struct CopyFixture {
  Tensor src, dst;
};

// The bandwidth reference: one memcpy (host) or device-to-device copy of `bytes`,
// counted as read + write, like the ops above.
void register_copy(Device d, int64_t bytes, const std::string& what) {
  const std::string name = std::string("copy/") + device_tag(d) + "/" + std::to_string(bytes >> 20) + "MiB";
  add(name, [=](benchmark::State& st) {
    CopyFixture& f = fixture<CopyFixture>(name, [&] {
      auto g = std::make_shared<CopyFixture>();
      g->src = random_tensor({bytes / 4}, 19, d);
      g->dst = Tensor::zeros({bytes / 4}, DType::F32, d);
      g->dst.copy_from(g->src);
      std::vector<float> a = g->src.to_vector(), b = g->dst.to_vector();
      for (int64_t i : sample_indices(bytes / 4, 64, 20))
        expect_close(b[static_cast<size_t>(i)], a[static_cast<size_t>(i)], 0, 0,
                     name + ", element " + std::to_string(i));
      return g;
    });
    timed_loop(st, d, [&] {
      if (d.is_cpu())
        std::memcpy(f.dst.raw(), f.src.raw(), static_cast<size_t>(bytes));
      else
        f.dst.copy_from(f.src);
    });
    st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * 2 * bytes);
    st.SetLabel("reference for " + what);
  });
}

// ---- SSIM ------------------------------------------------------------------------------------

struct SsimFixture {
  ops::SsimParams p;
  Tensor x, y, map, dmap, dx, dy;
};

void register_ssim(Device d, const Preset& pr) {
  const Shape shape{pr.batch, pr.channels, pr.size, pr.size};
  for (bool backward : {false, true}) {
    const std::string name = std::string(backward ? "ssim_backward/" : "ssim_forward/") + device_tag(d) + "/" + pr.tag;
    add(name, [=](benchmark::State& st) {
      SsimFixture& f = fixture<SsimFixture>(name, [&] {
        auto g = std::make_shared<SsimFixture>();
        g->p.same_size = false;  // the loss's form (METHOD.md: L_G's 1 - SSIM)
        g->x = random_tensor(shape, 21, d);
        g->map = Tensor::empty(ops::ssim_map_shape(g->p, shape), DType::F32, d);
        g->dmap = Tensor::full(g->map.shape(), 1.0, DType::F32, d);
        g->dx = empty_like(g->x);
        g->dy = empty_like(g->x);
        // Known value: SSIM(x, x) = 1 everywhere, a maximum, so its gradient is 0.
        ops::ssim_forward(g->p, g->x, g->x, g->map);
        expect_all_close(g->map, Tensor::full(g->map.shape(), 1.0), 1e-5, 0, name + ": SSIM(x, x)");
        ops::ssim_backward(g->p, g->x, g->x, g->dmap, &g->dx, &g->dy);
        // 1e-2: the terms cancel exactly only in exact arithmetic; each is up to
        // ~2 mu / C1 ~ 35 for flat windows, summed over 121 windows in float32.
        expect_all_close(g->dx, Tensor::zeros(g->x.shape()), 1e-2, 0, name + ": dSSIM(x, x)/dx");
        g->y = random_tensor(shape, 22, d);
        ops::ssim_forward(g->p, g->x, g->y, g->map);
        ops::ssim_backward(g->p, g->x, g->y, g->dmap, &g->dx, &g->dy);
        if (d.is_cuda()) {  // and on a GPU against the CPU reference on random images
          Tensor xc = g->x.to(Device::cpu()), yc = g->y.to(Device::cpu());
          Tensor mc = Tensor::empty(g->map.shape()), dxc = empty_like(xc), dyc = empty_like(xc);
          ops::ssim_forward(g->p, xc, yc, mc);
          ops::ssim_backward(g->p, xc, yc, g->dmap.to(Device::cpu()), &dxc, &dyc);
          // Tolerances of the CUDA parity test: float32 window sums in another order.
          expect_all_close(g->map, mc, 1e-4, 1e-3, name + ": map vs CPU");
          expect_all_close(g->dx, dxc, 1e-3, 1e-2, name + ": dx vs CPU");
          expect_all_close(g->dy, dyc, 1e-3, 1e-2, name + ": dy vs CPU");
        }
        expect_finite(g->dx, name + ": dx on random images");
        return g;
      });
      timed_loop(st, d, [&] {
        if (backward)
          ops::ssim_backward(f.p, f.x, f.y, f.dmap, &f.dx, &f.dy);
        else
          ops::ssim_forward(f.p, f.x, f.y, f.map);
      });
      st.SetItemsProcessed(static_cast<int64_t>(st.iterations()) * pr.batch);  // images/s
      st.SetLabel(shape_str(shape) + ", valid window 11");
    });
  }
}

// ---- Element-wise activations -----------------------------------------------------------------

struct UnaryFixture {
  Tensor x, y, dy, dx;
};

// ReLU, leaky ReLU and tanh at the shape of G's last decoder activation (B, w, S, S), the
// largest the networks apply them to, next to a copy of the same size. Forward reads x
// and writes y; backward reads x, y and dy and writes dx.
void register_unary(Device d, const Preset& pr) {
  const Shape shape{pr.batch, pr.width, pr.size, pr.size};
  const int64_t n = shape_numel(shape);
  struct Kind {
    const char* name;
    ops::UnaryParams p;
  };
  for (const Kind& k : {Kind{"relu", {ops::UnaryKind::Relu}}, Kind{"leaky_relu", {ops::UnaryKind::LeakyRelu, 0.2f}},
                        Kind{"tanh", {ops::UnaryKind::Tanh}}}) {
    for (bool backward : {false, true}) {
      const std::string name =
          std::string(k.name) + (backward ? "_backward/" : "_forward/") + device_tag(d) + "/" + pr.tag;
      add(name, [=](benchmark::State& st) {
        UnaryFixture& f = fixture<UnaryFixture>(name, [&] {
          auto g = std::make_shared<UnaryFixture>();
          g->x = random_tensor(shape, 24, d, -3.0f, 3.0f);
          g->dy = random_tensor(shape, 25, d);
          g->y = empty_like(g->x);
          g->dx = empty_like(g->x);
          ops::unary_forward(k.p, g->x, g->y);
          ops::unary_backward(k.p, g->x, g->y, g->dy, g->dx);
          std::vector<float> x = g->x.to_vector(), y = g->y.to_vector(), dy = g->dy.to_vector(), dx = g->dx.to_vector();
          for (int64_t i : sample_indices(n, 64, 26)) {
            const size_t u = static_cast<size_t>(i);
            const double v = x[u];
            double want_y = 0, slope = 0;
            switch (k.p.kind) {
              case ops::UnaryKind::Relu: want_y = v > 0 ? v : 0, slope = v > 0 ? 1 : 0; break;
              case ops::UnaryKind::LeakyRelu: want_y = v > 0 ? v : 0.2 * v, slope = v > 0 ? 1 : 0.2; break;
              default: want_y = std::tanh(v), slope = 1 - want_y * want_y; break;
            }
            // rtol 1e-6: float32 rounding of the value and of the slope times dy.
            expect_close(y[u], want_y, 1e-7, 1e-6, name + ": y " + std::to_string(i));
            expect_close(dx[u], dy[u] * slope, 1e-7, 1e-5, name + ": dx " + std::to_string(i));
          }
          return g;
        });
        timed_loop(st, d, [&] {
          if (backward)
            ops::unary_backward(k.p, f.x, f.y, f.dy, f.dx);
          else
            ops::unary_forward(k.p, f.x, f.y);
        });
        st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * n * 4 * (backward ? 4 : 2));
        st.SetLabel(shape_str(shape) + ", " + std::to_string(n * 4 * (backward ? 4 : 2) >> 20) + " MiB moved");
      });
    }
  }
}

// ---- Adam over G's parameter arena ------------------------------------------------------------

struct AdamFixture {
  std::shared_ptr<Generator> g;
  std::unique_ptr<ParameterArena> arena;
  std::unique_ptr<Adam> adam;
};

void register_adam(Device d, const Preset& pr) {
  const std::string name = std::string("adam_step/") + device_tag(d) + "/" + pr.tag + "/G";
  add(name, [=](benchmark::State& st) {
    AdamFixture& f = fixture<AdamFixture>(name, [&] {
      auto a = std::make_shared<AdamFixture>();
      NetConfig nc;
      nc.channels = pr.channels;
      nc.width = pr.width;
      a->g = std::make_shared<Generator>(nc);
      a->g->to(d);
      a->arena = std::make_unique<ParameterArena>(a->g->parameters());
      const AdamConfig cfg{2e-4, 0.5, 0.999, 1e-8, 0.0};  // phase 1's settings
      a->adam = std::make_unique<Adam>(*a->arena, cfg);
      // The whole arena, padding included, gets a gradient: the kernel's work is the same.
      a->arena->grad().copy_from(random_tensor({a->arena->total()}, 23, d));
      Tensor before = a->arena->data().to(Device::cpu()).clone();
      a->adam->step();
      // Known value: at step 1, m^ = g and v^ = g^2, so the update is -lr g / (|g| + eps).
      std::vector<float> p0 = before.to_vector(), g = a->arena->grad().to_vector(), want(p0.size());
      for (size_t i = 0; i < p0.size(); ++i)
        want[i] = static_cast<float>(p0[i] - cfg.lr * g[i] / (std::fabs(g[i]) + cfg.eps));
      // atol 1e-3 lr: the update's float32 rounding, relative to its size lr.
      expect_all_close(a->arena->data(), Tensor::from_vector(want, {a->arena->total()}), 1e-3 * cfg.lr, 0,
                       name + ": first step");
      return a;
    });
    timed_loop(st, d, [&] { f.adam->step(); });
    const int64_t n = f.arena->total();
    // Reads param, grad, m, v and writes param, m, v.
    st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * n * 4 * 7);
    st.SetLabel(std::to_string(n) + " parameters");
  });
}

}  // namespace

void register_op_benchmarks(Device d) {
  for (const Preset& pr : {kCpuPreset, kPaperPreset}) register_conv(d, pr);
  register_gemm(d);
  // Fusion at scale 1 (the largest: a_1 is (B, w, S/2, S/2)) of each preset, and far past
  // the last-level cache; kl_sparsity on S's logits (B, 1, S, S) and on a large map.
  for (const Preset& pr : {kCpuPreset, kPaperPreset}) {
    register_fusion(d, std::string(pr.tag) + "/scale1", {pr.batch, pr.width, pr.size / 2, pr.size / 2});
    register_kl(d, pr.tag, {pr.batch, 1, pr.size, pr.size});
  }
  const Shape fusion_large{16, 32, 256, 256};  // a, b 128 MiB each, out 384 MiB
  const Shape kl_large{64, 1, 1024, 1024};     // logits, residual, dlogits 256 MiB each
  register_fusion(d, "large", fusion_large);
  register_kl(d, "large", kl_large);
  register_copy(d, shape_numel(fusion_large) * 4, "fusion inputs (a or b)");
  register_copy(d, shape_numel(kl_large) * 4, "kl_sparsity logits");
  register_copy(d, shape_numel(fusion_large) * 3 * 4, "the fusion output");
  for (const Preset& pr : {kCpuPreset, kPaperPreset}) register_unary(d, pr);
  register_copy(d, kCpuPreset.batch * kCpuPreset.width * kCpuPreset.size * kCpuPreset.size * 4,
                "the activations at S128w16");
  for (const Preset& pr : {kCpuPreset, kPaperPreset}) register_ssim(d, pr);
  for (const Preset& pr : {kCpuPreset, kPaperPreset}) register_adam(d, pr);
}

}  // namespace sad::bench
