// Formatting of SAD_CHECK failures: "message (expr) at file:line".
#include "tensor/check.h"

#include <cstring>

namespace sad {

void fail_check(const char* expr, const char* file, int line, const std::string& msg) {
  // Keep the path short: the part from the project's top folder on.
  const char* short_file = file;
  for (const char* top : {"/tensor/", "/autograd/", "/kernels/", "/layers/", "/model/", "/data/", "/eval/", "/apps/",
                          "/tests/", "/bench/"}) {
    if (const char* p = std::strstr(file, top)) {
      short_file = p + 1;
      break;
    }
  }
  std::ostringstream os;
  os << msg;
  if (expr) os << " [check failed: " << expr << "]";
  os << " [" << short_file << ":" << line << "]";
  throw Error(os.str());
}

}  // namespace sad
