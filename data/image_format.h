// The container of an image file, read before any decoder sees its bytes: the format by
// its magic bytes (PNG, JPEG, BMP; nothing else is decoded), the size its header declares,
// and what stb_image 2.27 would trust unchecked:
// - JPEG: every Huffman table's symbol count, wherever a table is defined (before or between
//   scans). stb writes past a 256-entry array when a table declares more than 256 symbols
//   (stbi__build_huffman).
// - PNG: every chunk up to IEND inside the file, and enough compressed data for the declared
//   size; JPEG and BMP: a file long enough for the declared size. stb allocates from chunk
//   lengths and the header before reading data: gigabytes from a 70-byte file.
// Such files are refused here as corrupt. scripts/fuzz.sh (fuzz_image) found the last two.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sad::data {

enum class ImageFormat { Png, Jpeg, Bmp };

struct ContainerInfo {
  ImageFormat format = ImageFormat::Png;
  int64_t width = 0, height = 0;  // as the header declares them (before any decode)
};

// The whole file, at most `max_bytes`; errors name the file.
std::vector<uint8_t> read_file_bytes(const std::string& path, size_t max_bytes);

// Checks `bytes` (the contents of `path`) as above; a one-line error naming the file on a
// format we do not read, a truncated header, chunk or marker segment, a bad Huffman table, or
// a file too short for its declared size (images over kMaxImageSide a side are left to the
// caller's size check).
ContainerInfo inspect_container(const std::string& path, const std::vector<uint8_t>& bytes);

const char* format_name(ImageFormat f);

}  // namespace sad::data
