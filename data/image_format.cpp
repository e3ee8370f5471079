// Container checks before decoding: magic bytes, declared size, JPEG marker segments.
#include "data/image_format.h"

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "data/image.h"
#include "tensor/check.h"

namespace sad::data {

namespace {

[[noreturn]] void bad(const std::string& path, const std::string& problem) {
  SAD_FAIL("image '", path, "': ", problem);
}

uint32_t be16(const uint8_t* p) { return (uint32_t{p[0]} << 8) | p[1]; }
uint32_t be32(const uint8_t* p) { return (be16(p) << 16) | be16(p + 2); }
int32_t le32(const uint8_t* p) {
  return static_cast<int32_t>(uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24));
}

// The data checks below apply to images within the size limit; the caller refuses larger
// ones by their size, which says more than any data check.
bool within_limit(const ContainerInfo& c) { return c.width <= kMaxImageSide && c.height <= kMaxImageSide; }

std::string dims(const ContainerInfo& c) { return std::to_string(c.width) + " x " + std::to_string(c.height); }

// Every chunk up to IEND lies inside the file, and the compressed image data (IDAT) could
// inflate to the declared size: deflate expands at most 1032:1, and the rows need at least
// height * ceil(width * channels * depth / 8) bytes. stb sizes its buffers from the chunk
// lengths and the header before it reads the data, so a short file declaring a large chunk
// or image made it allocate gigabytes (found by fuzz_image).
void check_png_data(const std::string& path, const std::vector<uint8_t>& b, const ContainerInfo& info) {
  if (!within_limit(info)) return;
  uint64_t idat = 0;
  bool iend = false;
  for (size_t p = 8; !iend;) {
    if (p + 12 > b.size()) bad(path, "corrupt PNG (truncated: no IEND chunk)");
    const uint64_t len = be32(&b[p]);
    if (len > 0x7FFFFFFFu || p + 12 + len > b.size())
      bad(path, "corrupt PNG (truncated: a chunk of " + std::to_string(len) + " bytes runs past the end of the file)");
    const std::string type(b.begin() + static_cast<std::ptrdiff_t>(p + 4),
                           b.begin() + static_cast<std::ptrdiff_t>(p + 8));
    if (type == "IDAT") idat += len;
    iend = type == "IEND";
    p += 12 + len;
  }
  static const int kChannels[7] = {1, 0, 3, 1, 2, 0, 4};  // by colour type
  const int depth = b[24], colour = b[25];
  const int channels = colour <= 6 ? kChannels[colour] : 0;
  if (channels == 0 || depth == 0) return;  // stb refuses these itself
  const uint64_t raw = static_cast<uint64_t>(info.height) *
                       ((static_cast<uint64_t>(info.width) * static_cast<uint64_t>(channels * depth) + 7) / 8);
  if (raw > 1032 * idat + 1024)
    bad(path, "corrupt PNG (" + std::to_string(idat) + " bytes of image data cannot hold the declared " + dims(info) +
                  " pixels)");
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
      // Every 8 x 8 block of the first component costs at least one bit (a Huffman code of
      // its DC difference), so a file shorter than that cannot hold the declared size; stb
      // would allocate the whole image first (from a 100-byte file, gigabytes).
      const uint64_t blocks =
          static_cast<uint64_t>((info.width + 7) / 8) * static_cast<uint64_t>((info.height + 7) / 8);
      if (within_limit(info) && blocks > 8 * static_cast<uint64_t>(b.size()))
        bad(path, "corrupt JPEG (the file is too short for its declared " + dims(info) + " pixels)");
      return info;
    }
    i += 2 + len;
  }
}

// Debian's stb_image 2.27 builds a Huffman table without checking that its 16 counts sum to
// at most 256: a larger sum writes past the table's arrays (stbi__build_huffman). stb reads a
// DHT segment wherever the bytes FF C4 start a marker, before or after image data, so every
// FF C4 in the file is read here as stb would read it (tables while the segment length
// lasts, each a class/id byte, 16 counts and the symbols), and any table over 256 symbols is
// refused. A valid JPEG holds FF C4 only as a marker (entropy-coded data stuffs FF as FF 00);
// elsewhere (inside another segment) the same bytes are harmless to stb and rarely read as an
// oversized table, which is refused all the same: the file cannot be told from an attack.
void refuse_oversized_huffman_tables(const std::string& path, const std::vector<uint8_t>& b) {
  for (size_t p = 0; p + 4 <= b.size(); ++p) {
    if (b[p] != 0xFF || b[p + 1] != 0xC4) continue;
    int64_t remaining = static_cast<int64_t>(be16(&b[p + 2])) - 2;
    size_t k = p + 4;
    // Past the end of the file stb reads zeros: a table cut off by the end still counts
    // the counts that are there (the 10-minute fuzz run found such a file).
    while (remaining > 0 && k < b.size()) {
      const uint8_t q = b[k];
      if ((q >> 4) > 1 || (q & 15) > 3) break;  // stb refuses this table itself
      size_t symbols = 0;
      for (size_t c = 1; c <= 16 && k + c < b.size(); ++c) symbols += b[k + c];
      if (symbols > 256)
        bad(path, "corrupt JPEG (a Huffman table at byte " + std::to_string(k) + " declares " +
                      std::to_string(symbols) + " symbols, at most 256)");
      remaining -= static_cast<int64_t>(17 + symbols);
      k += 17 + symbols;
    }
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
    if (b.size() < 33 || be32(&b[8]) != 13 || std::string(b.begin() + 12, b.begin() + 16) != "IHDR")
      bad(path, "corrupt PNG (no image header)");
    const ContainerInfo info{ImageFormat::Png, be32(&b[16]), be32(&b[20])};
    check_png_data(path, b, info);
    return info;
  }
  if (b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) {
    const ContainerInfo info = inspect_jpeg(path, b);
    refuse_oversized_huffman_tables(path, b);
    return info;
  }
  if (b.size() >= 2 && b[0] == 'B' && b[1] == 'M') {
    if (b.size() < 26) bad(path, "corrupt BMP (truncated header)");
    ContainerInfo info{ImageFormat::Bmp, 0, 0};
    int bits = 0;
    if (le32(&b[14]) == 12) {  // the old OS/2 header: 16-bit sizes
      info.width = int64_t{b[18]} | (int64_t{b[19]} << 8);
      info.height = int64_t{b[20]} | (int64_t{b[21]} << 8);
      bits = b[24] | (b[25] << 8);
    } else {
      if (b.size() < 30) bad(path, "corrupt BMP (truncated header)");
      const int64_t w = le32(&b[18]), h = le32(&b[22]);  // a negative height is a top-down image
      info.width = w < 0 ? -w : w;
      info.height = h < 0 ? -h : h;
      bits = b[28] | (b[29] << 8);
    }
    // Uncompressed rows (stb reads no RLE): the file must hold them all.
    const int64_t row_bytes = (info.width * std::max(bits, 1) + 7) / 8;
    if (within_limit(info) && static_cast<uint64_t>(row_bytes * info.height) > b.size())
      bad(path, "corrupt BMP (the file is too short for its declared " + dims(info) + " pixels)");
    return info;
  }
  if (b.empty()) bad(path, "empty file");
  bad(path, "not a PNG, JPEG or BMP image (sparsead reads no other format)");
}

}  // namespace sad::data
