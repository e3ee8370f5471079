// Image IO and resizing: PNG/JPEG round trips, channel conversion, the one-line errors
// for bad files, and the resize rules on hand-computed cases.
#include <stb/stb_image_write.h>

#include "data/image.h"
#include "data_test_util.h"
#include "test_util.h"

using namespace sad;
using namespace sad::data;
using sad::test::check_close;
using sad::test::has;
using sad::test::TempDir;

namespace {
std::vector<double> values(const Tensor& t) { return t.to_vector_f64(); }
}  // namespace

TEST_CASE("image: PNG round trip is exact for gray and RGB") {
  TempDir dir("image");
  for (int c : {1, 3}) {
    Tensor img = sad::test::byte_image(c, 7, 5, 10 + c);  // odd sizes
    const std::string path = dir / ("rt" + std::to_string(c) + ".png");
    save_png(path, img);
    ImageInfo info = read_image_info(path);
    CHECK(info.width == 5);
    CHECK(info.height == 7);
    CHECK(info.channels == c);
    Tensor back = load_image(path, c);
    CHECK(back.shape() == Shape{c, 7, 5});
    check_close(values(back), values(img), 0, 0, "png round trip C=" + std::to_string(c));
  }
  // The atomic write leaves no temporary behind.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) files += e.is_regular_file();
  CHECK(files == 2);
}

TEST_CASE("image: channel conversion (gray -> RGB replicates and RGB -> gray is BT.601 luma and alpha is dropped)") {
  TempDir dir("image");
  Tensor gray = sad::test::byte_image(1, 4, 6, 3);
  save_png(dir / "g.png", gray);
  Tensor rgb3 = load_image(dir / "g.png", 3);
  const auto rv = values(rgb3);
  for (int c = 0; c < 3; ++c)
    check_close(std::vector<double>(rv.begin() + c * 24, rv.begin() + (c + 1) * 24), values(gray), 0, 0, "replicate");

  Tensor rgb = sad::test::byte_image(3, 4, 6, 4);
  save_png(dir / "c.png", rgb);
  Tensor luma = load_image(dir / "c.png", 1);
  auto v = values(rgb);
  std::vector<double> expected(24);
  for (int i = 0; i < 24; ++i) expected[i] = 0.299 * v[i] + 0.587 * v[24 + i] + 0.114 * v[48 + i];
  // float32 storage of a value computed in double: one float ulp at 1.0 is 6e-8.
  check_close(values(luma), expected, 1e-7, 0, "luma");

  // RGBA and gray+alpha written directly with stb: alpha must not leak into the values.
  const unsigned char rgba[8] = {10, 20, 30, 0, 200, 100, 50, 255};
  REQUIRE(stbi_write_png((dir / "a.png").c_str(), 2, 1, 4, rgba, 8));
  check_close(values(load_image(dir / "a.png", 3)),
              {10 / 255.0, 200 / 255.0, 20 / 255.0, 100 / 255.0, 30 / 255.0, 50 / 255.0}, 1e-7, 0, "rgba");
  CHECK(read_image_info(dir / "a.png").channels == 4);
  const unsigned char ga[4] = {77, 0, 160, 255};
  REQUIRE(stbi_write_png((dir / "ga.png").c_str(), 2, 1, 2, ga, 4));
  check_close(values(load_image(dir / "ga.png", 1)), {77 / 255.0, 160 / 255.0}, 1e-7, 0, "gray+alpha");
  CHECK(read_image_info(dir / "ga.png").gray());
}

TEST_CASE("image: JPEG and BMP load") {
  TempDir dir("image");
  // A smooth gradient: JPEG at quality 95 reproduces it within a few levels.
  std::vector<float> v(3 * 16 * 24);
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 16; ++i)
      for (int j = 0; j < 24; ++j) v[(c * 16 + i) * 24 + j] = (0.2f + 0.6f * j / 23.0f) * (c == 1 ? 0.5f : 1.0f);
  Tensor img = Tensor::from_vector(v, {3, 16, 24});
  save_jpeg(dir / "g.jpg", img, 95);
  Tensor back = load_image(dir / "g.jpg", 3);
  CHECK(back.shape() == Shape{3, 16, 24});
  // 0.04 = 10 levels: chroma subsampling and quantisation error of quality 95 on a ramp.
  check_close(values(back), values(img), 0.04, 0, "jpeg");

  const unsigned char px[6] = {255, 0, 0, 0, 0, 255};
  REQUIRE(stbi_write_bmp((dir / "b.bmp").c_str(), 2, 1, 3, px));
  check_close(values(load_image(dir / "b.bmp", 3)), {1, 0, 0, 0, 0, 1}, 0, 0, "bmp");
}

TEST_CASE("image: errors name the file and the problem") {
  TempDir dir("image");
  const std::string missing = dir / "nope.png";
  CHECK_THROWS_WITH_AS(load_image(missing, 3), has("image '" + missing + "': file not found"), Error);
  CHECK_THROWS_WITH_AS(read_image_info(dir.path().string()), doctest::Contains("not a regular file"), Error);

  const std::string junk = dir / "junk.png";
  sad::test::write_bytes(junk, "this is not an image at all, just some text bytes");
  CHECK_THROWS_WITH_AS(load_image(junk, 1), has("image '" + junk + "': not a PNG, JPEG or BMP image"), Error);

  // Truncated PNG: the header is intact, the compressed data stops half way. The chunk walk
  // of the container check finds it with the header, before any decoder runs (so dataset
  // indexing, which reads headers only, refuses it before training starts).
  save_png(dir / "full.png", sad::test::byte_image(3, 64, 64, 5));  // noise: incompressible
  const std::string bytes = sad::test::read_bytes(dir / "full.png");
  const std::string cut = dir / "cut.png";
  sad::test::write_bytes(cut, bytes.substr(0, bytes.size() / 2));
  CHECK_THROWS_WITH_AS(read_image_info(cut), has("image '" + cut + "': corrupt PNG (truncated: a chunk of"), Error);
  CHECK_THROWS_WITH_AS(load_image(cut, 3), has("runs past the end of the file"), Error);
  CHECK_THROWS_WITH_AS(load_mask(cut), has(cut), Error);
  // Cut at a chunk boundary: every chunk whole, but no IEND.
  const size_t iend = bytes.size() - 12;
  sad::test::write_bytes(cut, bytes.substr(0, iend));
  CHECK_THROWS_WITH_AS(load_image(cut, 3), has("image '" + cut + "': corrupt PNG (truncated: no IEND chunk)"), Error);

  // Truncated JPEG.
  save_jpeg(dir / "full.jpg", sad::test::byte_image(3, 64, 64, 6), 90);
  const std::string jbytes = sad::test::read_bytes(dir / "full.jpg");
  const std::string jcut = dir / "cut.jpg";
  sad::test::write_bytes(jcut, jbytes.substr(0, jbytes.size() / 2));
  CHECK_THROWS_WITH_AS(load_image(jcut, 3), has("image '" + jcut + "': corrupt or truncated"), Error);

  // A 33-byte PNG (signature + IHDR) claiming 30000 x 10: refused from the header alone.
  std::string hdr = std::string("\x89PNG\r\n\x1a\n", 8) + std::string("\0\0\0\x0dIHDR", 8);
  for (uint32_t v : {30000u, 10u})
    for (int s = 24; s >= 0; s -= 8) hdr += static_cast<char>((v >> s) & 0xff);
  hdr += std::string("\x08\x00\x00\x00\x00", 5) + std::string("\0\0\0\0", 4);  // 8-bit gray; CRC unchecked
  REQUIRE(hdr.size() == 33);
  const std::string big = dir / "big.png";
  sad::test::write_bytes(big, hdr);
  CHECK_THROWS_WITH_AS(read_image_info(big),
                       has("image '" + big + "': 30000 x 10 pixels exceeds the limit of 20000 a side"), Error);
  CHECK_THROWS_AS(load_image(big, 1), Error);

  // Saving: bad channel count, NaN, missing directory.
  CHECK_THROWS_WITH_AS(save_png(dir / "x.png", Tensor::zeros({2, 4, 4})), doctest::Contains("C must be 1 or 3"), Error);
  Tensor nan = Tensor::zeros({1, 2, 2});
  nan.data<float>()[3] = std::nanf("");
  CHECK_THROWS_WITH_AS(save_png(dir / "n.png", nan), doctest::Contains("contains NaN"), Error);
  const std::string nodir = dir / "no/such/dir/x.png";
  CHECK_THROWS_WITH_AS(save_png(nodir, Tensor::zeros({1, 2, 2})), has(nodir), Error);
  CHECK_THROWS_AS(load_image(dir / "full.png", 2), Error);
}

TEST_CASE("image: masks threshold at 128 and save/load as 0/255") {
  TempDir dir("image");
  const unsigned char m[4] = {0, 127, 128, 255};
  REQUIRE(stbi_write_png((dir / "m.png").c_str(), 4, 1, 1, m, 4));
  check_close(values(load_mask(dir / "m.png")), {0, 0, 1, 1}, 0, 0, "mask threshold");
  // An RGB mask thresholds its luma: (200, 100, 50) -> 124.2 (<128), (255, 255, 0) -> 225.7.
  const unsigned char rgb[6] = {200, 100, 50, 255, 255, 0};
  REQUIRE(stbi_write_png((dir / "rgb.png").c_str(), 2, 1, 3, rgb, 6));
  check_close(values(load_mask(dir / "rgb.png")), {0, 1}, 0, 0, "rgb mask");
  Tensor mask = Tensor::from_vector({0, 1, 1, 0, 1, 0}, {1, 2, 3});
  save_png(dir / "w.png", mask);
  check_close(values(load_mask(dir / "w.png")), values(mask), 0, 0, "mask round trip");
}

TEST_CASE("resize: hand-computed area and bilinear cases") {
  // Shrink by 2 (box mean) and by 3/2 (fractional overlaps: [0, 1.5) and [1.5, 3)).
  check_close(values(resize(Tensor::from_vector({1, 2, 3, 4}, {1, 1, 4}), 1, 2)), {1.5, 3.5}, 0, 0, "area 4->2");
  check_close(values(resize(Tensor::from_vector({0, 3, 6}, {1, 1, 3}), 1, 2)), {1, 5}, 1e-6, 0, "area 3->2");
  // Enlarge 2 -> 4: source coordinates -0.25, 0.25, 0.75, 1.25, clamped to [0, 1].
  check_close(values(resize(Tensor::from_vector({0, 4}, {1, 1, 2}), 1, 4)), {0, 1, 3, 4}, 0, 0, "bilinear 2->4");
  // Enlarge 2 -> 3: sources -1/6, 0.5, 7/6 -> 0, midpoint, 1.
  check_close(values(resize(Tensor::from_vector({0, 6}, {1, 1, 2}), 1, 3)), {0, 3, 6}, 1e-6, 0, "bilinear 2->3");
  // Per-axis rules: height 2 -> 4 (bilinear), width 4 -> 2 (area), C = 2 planes.
  Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6, 7, 8, 10, 20, 30, 40, 50, 60, 70, 80}, {2, 2, 4});
  check_close(values(resize(x, 4, 2)), {1.5, 3.5, 2.5, 4.5, 4.5, 6.5, 5.5, 7.5, 15, 35, 25, 45, 45, 65, 55, 75}, 1e-6,
              0, "mixed axes");
  // Identity, and a constant image stays constant under any rule (weights sum to 1).
  Tensor r = sad::test::byte_image(3, 5, 7, 1);
  check_close(values(resize(r, 5, 7)), values(r), 0, 0, "identity");
  Tensor c = Tensor::full({1, 37, 23}, 0.3);
  check_close(values(resize(c, 128, 5)), std::vector<double>(128 * 5, 0.3f), 1e-6, 0, "constant");
  // Integer-factor area shrink keeps the mean exactly (up to float rounding).
  Tensor big = sad::test::byte_image(1, 12, 12, 9);
  double m0 = 0, m1 = 0;
  for (double v : values(big)) m0 += v / 144;
  for (double v : values(resize(big, 4, 3))) m1 += v / 12;
  CHECK(std::abs(m0 - m1) < 1e-6);  // float32 outputs, 12 of them
  CHECK_THROWS_AS(resize(Tensor::zeros({4, 4}), 2, 2), Error);
  CHECK_THROWS_AS(resize(Tensor::zeros({1, 4, 4}), 0, 2), Error);
}

TEST_CASE("resize_mask: nearest and area + threshold") {
  check_close(values(resize_mask(Tensor::from_vector({0, 1}, {1, 1, 2}), 1, 4)), {0, 0, 1, 1}, 0, 0, "nearest up");
  // Down 4 -> 2: sources floor(0.5 * 2) = 1 and floor(1.5 * 2) = 3.
  check_close(values(resize_mask(Tensor::from_vector({0, 1, 1, 0}, {1, 1, 4}), 1, 2)), {1, 0}, 0, 0, "nearest down");
  Tensor m = Tensor::from_vector({1, 0, 0, 0, 1, 1, 0, 1}, {1, 1, 8});
  // Area 8 -> 4: means 0.5, 0, 1, 0.5 -> >= 0.5.
  check_close(values(resize_mask(m, 1, 4, MaskResize::Area)), {1, 0, 1, 1}, 0, 0, "area down");
  check_close(values(resize_mask(m, 1, 4, MaskResize::Area, 0.75f)), {0, 0, 1, 0}, 0, 0, "area threshold");
  CHECK_THROWS_AS(resize_mask(Tensor::zeros({3, 4, 4}), 2, 2), Error);
}

TEST_CASE("image: range scaling and the model input") {
  Tensor t = Tensor::from_vector({0, 0.5, 1}, {1, 1, 3});
  to_signed_range(t);
  check_close(values(t), {-1, 0, 1}, 0, 0, "to_signed_range");
  to_unit_range(t);
  check_close(values(t), {0, 0.5, 1}, 0, 0, "to_unit_range");
  TempDir dir("image");
  save_png(dir / "in.png", Tensor::full({1, 10, 6}, 1.0));
  Tensor x = load_model_input(dir / "in.png", 3, 8);
  CHECK(x.shape() == Shape{3, 8, 8});
  check_close(values(x), std::vector<double>(192, 1.0), 1e-6, 0, "model input");
}

namespace {

// A DHT marker segment: one Huffman table (class 0, id 0) of `symbols` symbols, its 16 counts
// spreading them as 255 + the rest.
std::string huffman_segment(size_t symbols) {
  std::string table(1, '\x00');
  std::string counts(16, '\0');
  size_t left = symbols;
  for (int i = 15; i >= 0 && left > 0; --i) {
    const size_t c = std::min<size_t>(left, 255);
    counts[static_cast<size_t>(i)] = static_cast<char>(c);
    left -= c;
  }
  table += counts + std::string(symbols, '\x01');
  const size_t len = table.size() + 2;
  return std::string("\xFF\xC4", 2) + static_cast<char>(len >> 8) + static_cast<char>(len & 0xFF) + table;
}

// A scan header and 64 bytes of entropy-coded data.
std::string scan() { return std::string("\xFF\xDA\x00\x08\x01\x01\x00\x00\x3F\x00", 10) + std::string(64, '\x55'); }

// A minimal JPEG: SOI, a frame header, one Huffman table of `symbols` symbols, a scan, EOI.
std::string jpeg_with_huffman_table(size_t symbols) {
  const std::string sof = std::string("\xFF\xC0\x00\x0B\x08\x00\x10\x00\x10\x01\x01\x11\x00", 13);
  return "\xFF\xD8" + sof + huffman_segment(symbols) + scan() + "\xFF\xD9";
}

}  // namespace

// stb_image 2.27 writes past its 256-entry symbol array (stbi__build_huffman) for a table of
// more than 256 symbols: about 1.8 KB from the file's bytes. The container check refuses the
// file before stb sees it (UBSan and ASan saw the write when the table went through).
TEST_CASE("image: a JPEG whose Huffman table declares more than 256 symbols is refused before decoding") {
  TempDir dir("image-huffman");
  const std::string evil = dir / "evil.png";  // the format is sniffed from the bytes, not the name
  sad::test::write_bytes(evil, jpeg_with_huffman_table(400));
  CHECK_THROWS_WITH_AS(load_image(evil, 1), doctest::Contains("a Huffman table declares 400 symbols, at most 256"),
                       Error);
  CHECK_THROWS_WITH_AS(read_image_info(evil), doctest::Contains("declares 400 symbols"), Error);
  // 256 symbols pass the guard (and fail later as the corrupt data they are, not by overflow).
  const std::string edge = dir / "edge.jpg";
  sad::test::write_bytes(edge, jpeg_with_huffman_table(256));
  CHECK_THROWS_WITH_AS(load_image(edge, 1), has("image '" + edge + "'"), Error);
}

// A progressive JPEG defines tables between its scans, and stb reads them there: the first
// guard walked the markers only up to the first scan, and fuzz_image found such a file within
// 20 s (UBSan: index 257 out of bounds in stbi__build_huffman). Its input is kept in
// tests/data/fuzz/image/ as well.
TEST_CASE("image: a Huffman table of more than 256 symbols after the first scan is refused too") {
  TempDir dir("image-huffman-late");
  std::string b = jpeg_with_huffman_table(10);
  b.resize(b.size() - 2);  // before EOI: a second table and a second scan
  b += huffman_segment(300) + scan() + "\xFF\xD9";
  const std::string evil = dir / "late.jpg";
  sad::test::write_bytes(evil, b);
  CHECK_THROWS_WITH_AS(load_image(evil, 1), doctest::Contains("declares 300 symbols, at most 256"), Error);
  CHECK_THROWS_WITH_AS(read_image_info(evil), doctest::Contains("declares 300 symbols"), Error);
  const std::string found = std::string(SPARSEAD_SOURCE_DIR) + "/tests/data/fuzz/image/regress-huffman-after-scan.jpg";
  CHECK_THROWS_WITH_AS(load_image(found, 1), doctest::Contains("symbols, at most 256"), Error);
}

// stb reads zeros past the end of the file, so a table cut off by the end still declares the
// counts that are there: the 10-minute fuzz run found a file ending 5 bytes into a DHT segment
// whose counts sum to 610 (UBSan in stbi__build_huffman again). Kept in tests/data/fuzz/image/.
TEST_CASE("image: a Huffman table cut off by the end of the file is counted as stb reads it") {
  TempDir dir("image-huffman-eof");
  std::string b = jpeg_with_huffman_table(10);
  b.resize(b.size() - 2);                                   // no EOI
  b += std::string("\xFF\xC4\x00\x14\x00\xFF\xFF\x02", 8);  // class 0, counts 255 + 255 + 2, then the end
  const std::string evil = dir / "cut.jpg";
  sad::test::write_bytes(evil, b);
  CHECK_THROWS_WITH_AS(read_image_info(evil), doctest::Contains("declares 512 symbols, at most 256"), Error);
  const std::string found = std::string(SPARSEAD_SOURCE_DIR) + "/tests/data/fuzz/image/regress-huffman-cut-by-eof.jpg";
  CHECK_THROWS_WITH_AS(load_image(found, 1), doctest::Contains("symbols, at most 256"), Error);
}

// stb sizes its buffers from the header and the chunk lengths before it reads any data: a
// 70-byte PNG whose chunk declared 1.2 GB made it allocate that (fuzz_image, in 20 s; the
// input is in tests/data/fuzz/image/), and a header of 20000 x 20000 makes it allocate the
// whole image. Such files cannot hold what they declare, and are refused by their size first.
TEST_CASE("image: a file too short for its declared chunks or pixels is refused before stb allocates") {
  TempDir dir("image-declared");
  const std::string found = std::string(SPARSEAD_SOURCE_DIR) + "/tests/data/fuzz/image/regress-png-chunk-past-end.png";
  CHECK_THROWS_WITH_AS(read_image_info(found), doctest::Contains("runs past the end of the file"), Error);

  auto be32 = [](std::string& b, size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) b[at + static_cast<size_t>(i)] = static_cast<char>((v >> (24 - 8 * i)) & 0xFF);
  };
  save_png(dir / "small.png", sad::test::byte_image(3, 4, 4, 1));
  std::string png = sad::test::read_bytes(dir / "small.png");
  be32(png, 16, 20000), be32(png, 20, 20000);
  sad::test::write_bytes(dir / "huge.png", png);
  CHECK_THROWS_WITH_AS(load_image(dir / "huge.png", 3),
                       doctest::Contains("bytes of image data cannot hold the declared 20000 x 20000 pixels"), Error);

  std::string jpeg = jpeg_with_huffman_table(10);
  jpeg[7] = jpeg[9] = static_cast<char>(0x4E), jpeg[8] = jpeg[10] = static_cast<char>(0x20);  // SOF: 20000 x 20000
  sad::test::write_bytes(dir / "huge.jpg", jpeg);
  CHECK_THROWS_WITH_AS(read_image_info(dir / "huge.jpg"),
                       doctest::Contains("corrupt JPEG (the file is too short for its declared 20000 x 20000 pixels)"),
                       Error);

  std::string bmp(54, '\0');  // BITMAPINFOHEADER, 24 bits, 20000 x 20000, no pixel data
  bmp[0] = 'B', bmp[1] = 'M', bmp[14] = 40, bmp[28] = 24;
  bmp[18] = bmp[22] = static_cast<char>(0x20), bmp[19] = bmp[23] = static_cast<char>(0x4E);
  sad::test::write_bytes(dir / "huge.bmp", bmp);
  CHECK_THROWS_WITH_AS(read_image_info(dir / "huge.bmp"),
                       doctest::Contains("corrupt BMP (the file is too short for its declared 20000 x 20000 pixels)"),
                       Error);
}

TEST_CASE("image: formats other than PNG JPEG and BMP are refused and an oversized header is named by its size") {
  TempDir dir("image-formats");
  const std::string gif = dir / "a.png";
  sad::test::write_bytes(gif, std::string("GIF89a\x01\x00\x01\x00\x00\x00\x00;", 13));
  CHECK_THROWS_WITH_AS(load_image(gif, 1), doctest::Contains("not a PNG, JPEG or BMP image"), Error);
  // A PNG whose header declares 30000 x 10: refused by its size before any decode.
  std::string png = sad::test::read_bytes([&] {
    save_png(dir / "small.png", sad::test::byte_image(1, 4, 4, 1));
    return dir / "small.png";
  }());
  png[16] = 0, png[17] = 0, png[18] = 0x75, png[19] = 0x30;  // width 30000, big-endian
  sad::test::write_bytes(dir / "big.png", png);
  CHECK_THROWS_WITH_AS(read_image_info(dir / "big.png"),
                       doctest::Contains("30000 x 4 pixels exceeds the limit of 20000"), Error);
}
