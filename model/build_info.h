// The build's provenance: the commit of the source tree the binary was built from, with
// "-dirty" when tracked files differed from it ("unknown" outside a git checkout). The file
// defining it is generated at every build (cmake/build_info.cmake), not at configure time,
// so a binary rebuilt after an edit or a commit never records an older commit.
#pragma once

namespace sad {
const char* build_commit();
}  // namespace sad
