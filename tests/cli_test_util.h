// Runs the `sparsead` command line in-process (sparsead_main) and captures what it writes
// to its two streams: the CLI tests and the end-to-end tests drive the binary this way.
#pragma once

#include <doctest/doctest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "apps/cli.h"

namespace sad::test {

struct Run {
  int rc = -1;
  std::string out, err;
};

inline std::string slurp(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string s;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  std::fclose(f);
  return s;
}

// Runs `sparsead <args...>` and captures what it writes to its two streams.
inline Run sparsead(std::vector<std::string> args) {
  args.insert(args.begin(), "sparsead");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  REQUIRE(out);
  REQUIRE(err);
  Run r;
  r.rc = sparsead_main(static_cast<int>(args.size()), argv.data(), out, err);
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

}  // namespace sad::test
