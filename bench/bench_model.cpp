// Model benchmarks: one training step of each phase through the trainer's step functions
// (phase 1: D then G; phase 2: S with the sparsity-prior loss, G frozen) and inference
// (G then S), in images per second, at the cpu preset and, on a GPU, the paper preset.
#include "bench/bench_registry.h"
#include "bench/workload.h"

namespace sad::bench {

void register_model_benchmarks(Device d) {
  std::vector<std::string> presets{"cpu"};
  if (d.is_cuda()) presets.push_back("paper");
  for (const std::string& preset : presets) {
    for (Phase phase : {Phase::Gan, Phase::Seg, Phase::Infer}) {
      const std::string name = std::string(phase == Phase::Gan   ? "train_step_phase1/"
                                           : phase == Phase::Seg ? "train_step_phase2/"
                                                                 : "inference/") +
                               device_tag(d) + "/" + (preset == "cpu" ? kCpuPreset.tag : kPaperPreset.tag);
      auto* b = add(name, [=](benchmark::State& st) {
        Workload& w = fixture<Workload>(name, [&] {
          WorkloadOptions o;
          o.preset = preset;
          o.device = d;
          auto wl = std::make_shared<Workload>(phase, o);
          wl->validate();  // also the warm-up step (allocator caches, cuDNN algorithm choice)
          return wl;
        });
        // step() reads its loss back to the host: the device is idle when it returns.
        timed_loop(st, d, [&] { benchmark::DoNotOptimize(w.step()); });
        st.SetItemsProcessed(static_cast<int64_t>(st.iterations()) * w.batch());  // images/s
        const Config& c = w.config();
        st.SetLabel("S=" + std::to_string(c.image_size) + " w=" + std::to_string(c.width) +
                    " B=" + std::to_string(w.batch()) + (phase == Phase::Seg ? " sparse-kl" : ""));
      });
      // A CPU step takes seconds: time a few of them rather than the one that 0.5 s allows.
      if (d.is_cpu()) b->MinTime(phase == Phase::Infer ? 2.0 : 5.0);
    }
  }
}

}  // namespace sad::bench
