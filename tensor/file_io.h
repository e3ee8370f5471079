// Whole-file writes that a crash or a full disk cannot leave half done: the one atomic
// writer of the project (images, CSVs, JSON, the training log, and, streamed and fsynced,
// the safetensors files), and the name of its temporaries, so a run directory can be
// cleared of a dead process's leftovers.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace sad {

// Writes `bytes` to a temporary beside `path` (see is_temp_name), then renames it over
// `path`. On failure the temporary is removed, `path` is left as it was, and a sad::Error
// reads "<what> '<path>': <problem>" (a failed write says "disk full?").
void write_file_atomic(const std::string& path, std::string_view bytes, const std::string& what = "file");

// The same for a file too large to hold in memory at once (models, checkpoints), and made
// durable: `produce` hands its pieces to the writer it is given, in order; the temporary is
// fsynced before the rename and the directory after it. Errors read as above; an error
// `produce` throws removes the temporary too and propagates unchanged.
using ChunkWriter = std::function<void(const void* data, size_t n)>;
void write_file_durable(const std::string& path, const std::function<void(const ChunkWriter&)>& produce,
                        const std::string& what = "file");

// A writer's temporary: "<name>.tmp" or "<name>.tmp.<pid>" or "<name>.tmp.<pid>.<n>".
bool is_temp_name(const std::string& filename);

}  // namespace sad
