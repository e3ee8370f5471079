// The stb_image and stb_image_write implementations, compiled into the project from
// Debian's headers (libstb-dev) instead of linked from its libstb.so: the sanitizer build
// then instruments the decoder too, and only the formats sparsead reads are compiled in
// (PNG, JPEG, BMP), so GIF, PSD, HDR, PNM and PIC bytes are refused instead of decoded.
// data/image_format.cpp checks each file's container before stb sees it.
//
// stb's allocations are zero-filled: on some corrupt JPEGs stb 2.27 reads memory it never
// wrote, so the same bytes decoded differently from one call to the next (found by fuzz_image:
// load_image read a file that load_mask then refused). With zeros the result is a function of
// the bytes alone; a correct decode never reads such memory, so valid images are unchanged
// (all 2188 of ../shared/data decode to the same pixels).
#include <cstdlib>
#include <cstring>

namespace {
void* stb_zalloc(size_t n) { return std::calloc(1, n ? n : 1); }
void* stb_zrealloc(void* p, size_t old_n, size_t new_n) {
  void* q = std::realloc(p, new_n ? new_n : 1);
  if (q && new_n > old_n) std::memset(static_cast<char*>(q) + old_n, 0, new_n - old_n);
  return q;
}
}  // namespace

#define STBI_MALLOC(n) stb_zalloc(n)
#define STBI_REALLOC_SIZED(p, old_n, new_n) stb_zrealloc(p, old_n, new_n)
#define STBI_FREE(p) std::free(p)
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_NO_STDIO  // every file reaches stb from memory, after the container checks
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
