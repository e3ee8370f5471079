// tensor/file_io: the one atomic writer (the file appears whole or not at all, a failure
// names the file and leaves no temporary) and the temporary names a run directory clears.
#include <sys/resource.h>

#include <csignal>
#include <filesystem>

#include "data_test_util.h"
#include "tensor/check.h"
#include "tensor/file_io.h"

using namespace sad;
namespace fs = std::filesystem;

TEST_CASE("file_io: a writer's temporary names are recognised and nothing else") {
  for (const char* yes : {"a.csv.tmp", "checkpoint.safetensors.tmp.123", "x.png.tmp.77.12"})
    CHECK_MESSAGE(is_temp_name(yes), yes);
  for (const char* no : {"notes.tmp.txt", ".tmp", "a.tmp.", "a.tmp.1.", "a.tmp.1..2", "a.tmp.1.2.3", "a.tmpx",
                         "a.tmp.x1", "model.safetensors"})
    CHECK_MESSAGE(!is_temp_name(no), no);
}

TEST_CASE("file_io: write_file_atomic replaces the file whole and fails without a trace") {
  test::TempDir dir("file-io");
  const std::string path = dir / "out.csv";
  write_file_atomic(path, "first\n");
  write_file_atomic(path, "second\n");
  CHECK(test::read_bytes(path) == "second\n");

  // A write over the file-size limit fails like a full disk: the old file stays, no temporary.
  std::signal(SIGXFSZ, SIG_IGN);
  rlimit old{};
  REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
  rlimit small = old;
  small.rlim_cur = 1024;
  REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
  std::string error;
  try {
    write_file_atomic(path, std::string(4096, 'x'), "table");
  } catch (const Error& e) {
    error = e.what();
  }
  REQUIRE(setrlimit(RLIMIT_FSIZE, &old) == 0);
  CHECK(error.find("table '" + path + "': write failed (disk full?)") != std::string::npos);
  CHECK(test::read_bytes(path) == "second\n");
  for (const auto& e : fs::directory_iterator(dir.path()))
    CHECK_MESSAGE(!is_temp_name(e.path().filename().string()), e.path());

  CHECK_THROWS_WITH_AS(write_file_atomic(dir / "no/such/dir/f.txt", "x"),
                       doctest::Contains("cannot create a temporary file beside it"), Error);
}
