// The `sparsead` command line as a library function, so that the tests can run every
// verb in-process (return code, messages, files) and the binary is a one-line main().
//
//   sparsead synth | train | test | predict | info  [flags]   (sparsead <verb> --help)
//
// Exit codes: 0 success; 1 an error with a file, the data, a model or the machine
// (one line "sparsead: error: ..." on `err`); 2 a command line it could not make sense
// of (unknown verb or flag, a bad flag value); 130 training stopped by Ctrl-C after
// writing its checkpoint (continue with --resume). Every input is validated before the
// first file is written, so a refused command leaves nothing behind.
#pragma once

#include <cstdio>

namespace sad {

// argv[0] is the program name, argv[1] the verb. Normal output goes to `out`, the error
// line and usage hints to `err` (progress bars and the trainer's log go to stderr).
int sparsead_main(int argc, char** argv, std::FILE* out = stdout, std::FILE* err = stderr);

}  // namespace sad
