// The doctest runner for the whole suite (ctest runs one case per process).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
