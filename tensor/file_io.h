// Whole-file writes that a crash or a full disk cannot leave half done: the one atomic
// writer of the project (images, CSVs, JSON, the training log), and the name of its
// temporaries, so a run directory can be cleared of a dead process's leftovers. (The
// safetensors writer streams tensors and fsyncs; it names its temporary the same way.)
#pragma once

#include <string>
#include <string_view>

namespace sad {

// Writes `bytes` to a temporary beside `path` (see is_temp_name), then renames it over
// `path`. On failure the temporary is removed, `path` is left as it was, and a sad::Error
// reads "<what> '<path>': <problem>" (a failed write says "disk full?").
void write_file_atomic(const std::string& path, std::string_view bytes, const std::string& what = "file");

// A writer's temporary: "<name>.tmp" or "<name>.tmp.<pid>" or "<name>.tmp.<pid>.<n>".
bool is_temp_name(const std::string& filename);

}  // namespace sad
