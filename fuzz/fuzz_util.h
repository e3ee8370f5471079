// What every fuzz target shares: the input written to a file (the readers take paths, as the
// program does), and the one rule for a refused input. A refused input must raise a
// sad::Error whose user-facing line (cli::user_message) is one line without control
// characters and, for a file, names the file. Anything else is a finding and aborts, so
// libFuzzer saves the input: another exception type, a crash, a sanitizer report, a hang
// (-timeout) or a runaway allocation (-rss_limit_mb, -malloc_limit_mb).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

#include "apps/cli_args.h"
#include "tensor/check.h"

namespace sad::fuzz {

[[noreturn]] inline void finding(const std::string& what) {
  std::fprintf(stderr, "\n==== sparsead fuzz finding: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

// A directory of this process's own under $TMPDIR (or /tmp), removed at exit.
// (A leaked string: the exit handler that removes the directory runs after static destructors.)
inline std::string* g_work_dir = nullptr;
inline const std::string& work_dir() {
  if (!g_work_dir) {
    const char* t = std::getenv("TMPDIR");
    g_work_dir = new std::string(std::string(t && *t ? t : "/tmp") + "/sparsead-fuzz." + std::to_string(::getpid()));
    std::filesystem::create_directories(*g_work_dir);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(*g_work_dir, ec);
    });
  }
  return *g_work_dir;
}

inline void write_bytes(const std::string& path, const uint8_t* data, size_t size) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!f) finding("cannot write the fuzz input to " + path + " (disk full?)");
}

// The input as work_dir()/name.
inline std::string input_file(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = work_dir() + "/" + name;
  write_bytes(path, data, size);
  return path;
}

// Runs f. Returns true when it returned, false when it refused the input by the rules
// above (the message must name `must_name` when that is not empty); aborts otherwise.
template <class F>
bool accepted(F&& f, const std::string& must_name = "") {
  try {
    f();
    return true;
  } catch (const Error& e) {
    const std::string line = cli::user_message(e.what());
    if (line.empty()) finding("an empty error message");
    for (unsigned char c : line)
      if (c < 0x20 || c == 0x7f) finding("a control character in the error line: " + line);
    if (!must_name.empty() && line.find(must_name) == std::string::npos)
      finding("the error line does not name '" + must_name + "': " + line);
    return false;
  } catch (const std::exception& e) {
    finding(std::string("an exception other than sad::Error: ") + e.what());
  } catch (...) {
    finding("a non-standard exception");
  }
}

}  // namespace sad::fuzz
