// The stb_image and stb_image_write implementations, compiled into the project from
// Debian's headers (libstb-dev) instead of linked from its libstb.so: the sanitizer build
// then instruments the decoder too, and only the formats sparsead reads are compiled in
// (PNG, JPEG, BMP), so GIF, PSD, HDR, PNM and PIC bytes are refused instead of decoded.
// data/image_format.cpp checks each file's container before stb sees it.
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_NO_STDIO  // every file reaches stb from memory, after the container checks
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
