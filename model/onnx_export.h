// `sparsead export --format onnx`: a trained model's inference graph as an ONNX model, so
// that ONNX Runtime, OpenVINO or TensorRT can run it. docs/ONNX.md documents the graph.
//   input  "image"          (N, C, S, S) float32 in [-1, 1], channels in the model's order
//                           (RGB or gray), the image resized to S x S (tile mode: one S x S
//                           window of the image at its working scale; the tiling rule is in
//                           the metadata);
//   output "raw"            (N, 1, S, S): AnomalyModel::raw_maps, the segmenter's logits or
//                           the residual evidence;
//   output "reconstruction" (N, C, S, S): G's output in [-1, 1].
// The image score and the displayed map are computed from "raw" after the graph, as the
// metadata's "sparsead.postprocess" describes; the config (thresholds included) is in
// "sparsead.config". Opset 17, float32, batch-norm folded into nothing: the graph holds
// BatchNormalization nodes with the running statistics, as inference runs them.
#pragma once

#include <string>

#include "model/anomaly_model.h"

namespace sad {

inline constexpr int64_t kOnnxOpset = 17;

// The serialised ModelProto. `source` names the model file in the metadata.
std::string onnx_model(AnomalyModel& model, const std::string& source);

// A float32 .npy file (NumPy format 1.0) of a CPU tensor: the export's reference data.
std::string npy_bytes(const Tensor& t);

}  // namespace sad
