#include "layers/onnx_writer.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "tensor/check.h"

namespace sad::onnx {

static_assert(std::endian::native == std::endian::little, "ONNX raw_data is little-endian");

namespace {
// Wire types of the protobuf encoding.
constexpr int kVarint = 0, kFixed32 = 5, kLengthDelimited = 2;
// ONNX enums: TensorProto.DataType and AttributeProto.AttributeType.
constexpr int kFloat = 1, kInt64 = 7;
constexpr int kAttrFloat = 1, kAttrInt = 2, kAttrString = 3, kAttrFloats = 6, kAttrInts = 7;
}  // namespace

void Message::key(int field, int wire_type) { raw_varint((static_cast<uint64_t>(field) << 3) | wire_type); }

void Message::raw_varint(uint64_t v) {
  while (v >= 0x80) {
    data_ += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  data_ += static_cast<char>(v);
}

Message& Message::varint(int field, uint64_t v) {
  key(field, kVarint);
  raw_varint(v);
  return *this;
}

Message& Message::f32(int field, float v) {
  key(field, kFixed32);
  char b[4];
  std::memcpy(b, &v, 4);
  data_.append(b, 4);
  return *this;
}

Message& Message::bytes(int field, std::string_view s) {
  key(field, kLengthDelimited);
  raw_varint(s.size());
  data_.append(s);
  return *this;
}

Message& Message::packed_varints(int field, std::span<const int64_t> v) {
  Message body;
  for (int64_t x : v) body.raw_varint(static_cast<uint64_t>(x));  // negative: ten bytes, as int64 requires
  return bytes(field, body.data_);
}

Message& Message::packed_f32(int field, std::span<const float> v) {
  std::string b(v.size() * 4, '\0');
  if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
  return bytes(field, b);
}

Attr attr(std::string name, int64_t v) {
  Attr a;
  a.kind = Attr::Kind::Int, a.name = std::move(name), a.i = v;
  return a;
}
Attr attr(std::string name, float v) {
  Attr a;
  a.kind = Attr::Kind::Float, a.name = std::move(name), a.f = v;
  return a;
}
Attr attr(std::string name, std::string v) {
  Attr a;
  a.kind = Attr::Kind::String, a.name = std::move(name), a.s = std::move(v);
  return a;
}
Attr attr(std::string name, std::vector<int64_t> v) {
  Attr a;
  a.kind = Attr::Kind::Ints, a.name = std::move(name), a.ints = std::move(v);
  return a;
}
Attr attr(std::string name, std::vector<float> v) {
  Attr a;
  a.kind = Attr::Kind::Floats, a.name = std::move(name), a.floats = std::move(v);
  return a;
}

namespace {

// TensorProto: dims 1, data_type 2, name 8, raw_data 9.
Message tensor_proto(const std::string& name, const std::vector<int64_t>& dims, int type, std::string_view raw) {
  Message t;
  t.packed_varints(1, dims);
  t.varint(2, static_cast<uint64_t>(type));
  t.bytes(8, name);
  t.bytes(9, raw);
  return t;
}

// ValueInfoProto {name 1, type 2: TypeProto {tensor_type 1: {elem_type 1, shape 2: {dim 1:
// {dim_value 1 | dim_param 2}}}}, doc_string 3}.
Message value_info(const std::string& name, const std::vector<int64_t>& dims, const std::string& doc) {
  Message shape;
  for (int64_t d : dims) {
    Message dim;
    if (d < 0)
      dim.bytes(2, "N");
    else
      dim.varint(1, static_cast<uint64_t>(d));
    shape.message(1, dim);
  }
  Message tensor_type;
  tensor_type.varint(1, kFloat).message(2, shape);
  Message type;
  type.message(1, tensor_type);
  Message v;
  v.bytes(1, name).message(2, type);
  if (!doc.empty()) v.bytes(3, doc);
  return v;
}

}  // namespace

std::string Graph::initializer(const std::string& name, const Tensor& t) {
  const std::vector<float> v = t.to(Device::cpu()).to_vector();
  return initializer_f32(name, v, t.shape());
}

std::string Graph::initializer_f32(const std::string& name, const std::vector<float>& values, const Shape& shape) {
  SAD_CHECK(std::find(init_names_.begin(), init_names_.end(), name) == init_names_.end(), "onnx: initializer '", name,
            "' added twice");
  SAD_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "onnx: initializer '", name, "' holds ",
            values.size(), " values for shape ", shape_str(shape));
  std::string raw(values.size() * 4, '\0');
  if (!values.empty()) std::memcpy(raw.data(), values.data(), raw.size());
  inits_.push_back(tensor_proto(name, std::vector<int64_t>(shape.begin(), shape.end()), kFloat, raw));
  init_names_.push_back(name);
  return name;
}

std::string Graph::initializer_i64(const std::string& name, const std::vector<int64_t>& values) {
  SAD_CHECK(std::find(init_names_.begin(), init_names_.end(), name) == init_names_.end(), "onnx: initializer '", name,
            "' added twice");
  std::string raw(values.size() * 8, '\0');
  if (!values.empty()) std::memcpy(raw.data(), values.data(), raw.size());
  inits_.push_back(tensor_proto(name, {static_cast<int64_t>(values.size())}, kInt64, raw));
  init_names_.push_back(name);
  return name;
}

std::string Graph::node(const std::string& op, const std::vector<std::string>& inputs, const std::vector<Attr>& attrs,
                        const std::string& name) {
  const std::string id = (name.empty() ? op : name) + "_" + std::to_string(counter_++);
  const std::string out = id + ":0";
  Message n;  // NodeProto: input 1, output 2, name 3, op_type 4, attribute 5
  for (const std::string& in : inputs) n.bytes(1, in);
  n.bytes(2, out).bytes(3, id).bytes(4, op);
  for (const Attr& a : attrs) {
    Message m;  // AttributeProto: name 1, f 2, i 3, s 4, floats 7, ints 8, type 20
    m.bytes(1, a.name);
    switch (a.kind) {
      case Attr::Kind::Int: m.varint(3, static_cast<uint64_t>(a.i)).varint(20, kAttrInt); break;
      case Attr::Kind::Float: m.f32(2, a.f).varint(20, kAttrFloat); break;
      case Attr::Kind::String: m.bytes(4, a.s).varint(20, kAttrString); break;
      case Attr::Kind::Ints: m.packed_varints(8, a.ints).varint(20, kAttrInts); break;
      case Attr::Kind::Floats: m.packed_f32(7, a.floats).varint(20, kAttrFloats); break;
    }
    n.message(5, m);
  }
  nodes_.push_back(std::move(n));
  return out;
}

void Graph::input(const std::string& name, const std::vector<int64_t>& dims, const std::string& doc) {
  inputs_.push_back(value_info(name, dims, doc));
}

void Graph::output(const std::string& value, const std::string& name, const std::vector<int64_t>& dims,
                   const std::string& doc) {
  // The graph's output carries a chosen name: an Identity renames the node's value.
  Message n;
  n.bytes(1, value).bytes(2, name).bytes(3, "output_" + name).bytes(4, "Identity");
  nodes_.push_back(std::move(n));
  outputs_.push_back(value_info(name, dims, doc));
}

std::string Graph::model(int64_t opset, const std::string& producer_version, const std::string& doc,
                         const std::vector<std::pair<std::string, std::string>>& metadata) const {
  Message g;  // GraphProto: node 1, name 2, initializer 5, doc_string 10, input 11, output 12
  for (const Message& n : nodes_) g.message(1, n);
  g.bytes(2, "sparsead");
  for (const Message& t : inits_) g.message(5, t);
  if (!doc.empty()) g.bytes(10, doc);
  for (const Message& v : inputs_) g.message(11, v);
  for (const Message& v : outputs_) g.message(12, v);
  Message opset_id;  // OperatorSetIdProto: domain 1 ("" = ai.onnx), version 2
  opset_id.bytes(1, "").varint(2, static_cast<uint64_t>(opset));
  Message m;       // ModelProto: ir_version 1, producer_name 2, producer_version 3, doc 6, graph 7,
                   // opset_import 8, metadata_props 14
  m.varint(1, 8);  // IR version 8 (ONNX 1.10 onwards), enough for opset 17
  m.bytes(2, "sparsead").bytes(3, producer_version);
  if (!doc.empty()) m.bytes(6, doc);
  m.message(7, g).message(8, opset_id);
  for (const auto& [k, v] : metadata) {
    Message e;  // StringStringEntryProto: key 1, value 2
    e.bytes(1, k).bytes(2, v);
    m.message(14, e);
  }
  return m.data();
}

}  // namespace sad::onnx
