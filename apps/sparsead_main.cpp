// The `sparsead` binary: everything lives in apps/cli.cpp (sparsead_main), which the
// tests call directly.
#include "apps/cli.h"

int main(int argc, char** argv) { return sad::sparsead_main(argc, argv); }
