// Container checks before decoding: magic bytes, declared size, JPEG marker segments.
#include "data/image_format.h"

#include <cstdio>
#include <fstream>

#include "tensor/check.h"

namespace sad::data {

namespace {

[[noreturn]] void bad(const std::string& path, const std::string& problem) { SAD_FAIL("image '", path, "': ", problem); }

uint32_t be16(const uint8_t* p) { return (uint32_t{p[0]} << 8) | p[1]; }
uint32_t be32(const uint8_t* p) { return (be16(p) << 16) | be16(p + 2); }
int32_t le32(const uint8_t* p) {
  return static_cast<int32_t>(uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24));
}

// Walks the marker segments from SOI to the first SOS: each Huffman table (DHT) declares at
// most 256 symbols and fits its segment; the frame header (SOFn) gives the size.
ContainerInfo inspect_jpeg(const std::string& path, const std::vector<uint8_t>& b) {
  ContainerInfo info{ImageFormat::Jpeg, 0, 0};
  size_t i = 2;  // after SOI
  for (;;) {
    while (i < b.size() && b[i] == 0xFF && i + 1 < b.size() && b[i + 1] == 0xFF) ++i;  // fill bytes
    if (i + 4 > b.size()) bad(path, "corrupt JPEG (truncated before its image data)");
    if (b[i] != 0xFF) bad(path, "corrupt JPEG (a marker was expected at byte " + std::to_string(i) + ")");
    const uint8_t marker = b[i + 1];
    if (marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) {  // no length
      i += 2;
      continue;
    }
    if (marker == 0xD9) bad(path, "corrupt JPEG (end of image before any image data)");
    const size_t len = be16(&b[i + 2]);
    if (len < 2 || i + 2 + len > b.size()) bad(path, "corrupt JPEG (a marker segment runs past the end of the file)");
    const uint8_t* seg = &b[i + 4];
    const size_t n = len - 2;
    if (marker == 0xC4) {  // DHT: one or more tables of (class/id, 16 counts, symbols)
      size_t k = 0;
      while (k < n) {
        if (k + 17 > n) bad(path, "corrupt JPEG (truncated Huffman table)");
        size_t symbols = 0;
        for (int c = 0; c < 16; ++c) symbols += seg[k + 1 + static_cast<size_t>(c)];
        if (symbols > 256)
          bad(path, "corrupt JPEG (a Huffman table declares " + std::to_string(symbols) + " symbols, at most 256)");
        k += 17 + symbols;
        if (k > n) bad(path, "corrupt JPEG (a Huffman table runs past its segment)");
      }
    } else if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) {
      if (n < 5) bad(path, "corrupt JPEG (truncated frame header)");
      info.height = be16(seg + 1);
      info.width = be16(seg + 3);
    } else if (marker == 0xDA) {  // SOS: entropy-coded data follows
      if (info.width == 0 && info.height == 0) bad(path, "corrupt JPEG (image data before a frame header)");
      return info;
    }
    i += 2 + len;
  }
}

}  // namespace

const char* format_name(ImageFormat f) {
  switch (f) {
    case ImageFormat::Png: return "PNG";
    case ImageFormat::Jpeg: return "JPEG";
    case ImageFormat::Bmp: return "BMP";
  }
  return "?";
}

std::vector<uint8_t> read_file_bytes(const std::string& path, size_t max_bytes) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) bad(path, "cannot be opened");
  const std::streamoff size = f.tellg();
  if (size < 0) bad(path, "cannot be read");
  if (static_cast<uint64_t>(size) > max_bytes)
    bad(path, "file of " + std::to_string(size) + " bytes exceeds the limit of " + std::to_string(max_bytes));
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  f.seekg(0);
  if (size > 0 && !f.read(reinterpret_cast<char*>(bytes.data()), size)) bad(path, "cannot be read");
  return bytes;
}

ContainerInfo inspect_container(const std::string& path, const std::vector<uint8_t>& b) {
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (b.size() >= 8 && std::equal(kPng, kPng + 8, b.begin())) {
    // The IHDR chunk comes first: length 13, "IHDR", width, height (big-endian).
    if (b.size() < 24 || be32(&b[8]) != 13 || std::string(b.begin() + 12, b.begin() + 16) != "IHDR")
      bad(path, "corrupt PNG (no image header)");
    return {ImageFormat::Png, be32(&b[16]), be32(&b[20])};
  }
  if (b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return inspect_jpeg(path, b);
  if (b.size() >= 2 && b[0] == 'B' && b[1] == 'M') {
    if (b.size() < 26) bad(path, "corrupt BMP (truncated header)");
    if (le32(&b[14]) == 12)  // the old OS/2 header: 16-bit sizes
      return {ImageFormat::Bmp, int64_t{b[18]} | (int64_t{b[19]} << 8), int64_t{b[20]} | (int64_t{b[21]} << 8)};
    const int64_t w = le32(&b[18]), h = le32(&b[22]);  // a negative height is a top-down image
    return {ImageFormat::Bmp, w < 0 ? -w : w, h < 0 ? -h : h};
  }
  if (b.empty()) bad(path, "empty file");
  bad(path, "not a PNG, JPEG or BMP image (sparsead reads no other format)");
}

}  // namespace sad::data
