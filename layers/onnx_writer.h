// An ONNX model written without a protobuf library: the wire format's three encodings
// (varint, 32-bit, length-delimited) and the few messages an inference graph needs
// (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto), with
// the field numbers of onnx/onnx.proto. docs/ONNX.md says why we encode it ourselves.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace sad::onnx {

// One protobuf message being written: fields in the order they are added.
class Message {
 public:
  Message& varint(int field, uint64_t v);
  Message& f32(int field, float v);
  Message& bytes(int field, std::string_view s);
  Message& message(int field, const Message& m) { return bytes(field, m.data_); }
  Message& packed_varints(int field, std::span<const int64_t> v);
  Message& packed_f32(int field, std::span<const float> v);
  const std::string& data() const { return data_; }

 private:
  void key(int field, int wire_type);
  void raw_varint(uint64_t v);
  std::string data_;
};

// A node attribute: one of int, float, string, ints, floats.
struct Attr {
  enum class Kind { Int, Float, String, Ints, Floats } kind = Kind::Int;
  std::string name;
  int64_t i = 0;
  float f = 0;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<float> floats;
};
Attr attr(std::string name, int64_t v);
Attr attr(std::string name, float v);
Attr attr(std::string name, std::string v);
Attr attr(std::string name, std::vector<int64_t> v);
Attr attr(std::string name, std::vector<float> v);

// A graph built node by node in topological order; every value gets a unique name.
class Graph {
 public:
  // A float32 constant (any device, F32 or F64: stored as float32) under `name`.
  std::string initializer(const std::string& name, const Tensor& t);
  std::string initializer_i64(const std::string& name, const std::vector<int64_t>& values);
  std::string initializer_f32(const std::string& name, const std::vector<float>& values, const Shape& shape);
  // A node; returns its first output's name ("<prefix>/<op>_<n>" style, unique).
  std::string node(const std::string& op, const std::vector<std::string>& inputs, const std::vector<Attr>& attrs = {},
                   const std::string& name = "");
  // Graph inputs and outputs: float32, dims < 0 are the symbolic batch "N".
  void input(const std::string& name, const std::vector<int64_t>& dims, const std::string& doc);
  void output(const std::string& value, const std::string& name, const std::vector<int64_t>& dims,
              const std::string& doc);
  size_t node_count() const { return nodes_.size(); }

  // The whole ModelProto.
  std::string model(int64_t opset, const std::string& producer_version, const std::string& doc,
                    const std::vector<std::pair<std::string, std::string>>& metadata) const;

 private:
  std::vector<Message> nodes_, inits_, inputs_, outputs_;
  std::vector<std::string> init_names_;
  int64_t counter_ = 0;
};

}  // namespace sad::onnx
