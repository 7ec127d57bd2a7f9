// Run checkpoints on disk: <run>/step-<N>/ holding per-rank and shared files plus manifest.json
// (format version, step, world size, size and XXH64 checksum of every file), written last. File
// names and the version: run/checkpoint_schema.h.
//
// A checkpoint is staged in <run>/.step-<N>.tmp/ and renamed into place after its manifest is
// written, so a directory named step-<N> without a valid manifest (a crash mid-rename or a
// hand-made copy) is incomplete and ignored.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace gst {

struct CheckpointInfo {
  int64_t step = 0;
  int world_size = 1;
  std::filesystem::path dir;
};

// The staging directory of a checkpoint at `step`: begin_checkpoint creates it fresh (replacing
// leftovers; one process does this), staging_dir names it (every rank writes its files there).
std::filesystem::path begin_checkpoint(const std::filesystem::path& run_dir, int64_t step);
std::filesystem::path staging_dir(const std::filesystem::path& run_dir, int64_t step);
// Checksums every file in `staging`, writes its manifest and renames it to step-<N>. Throws
// gst::Error (removing the staging directory) when anything fails; earlier checkpoints stay.
CheckpointInfo commit_checkpoint(const std::filesystem::path& staging, int64_t step,
                                 int world_size);
// Removes the staging directory after a failure elsewhere.
void abandon_checkpoint(const std::filesystem::path& staging);
// Writes one checkpoint file; throws gst::Error naming the file and the system's reason (disk
// full, file too large, not writable) instead of leaving a short file behind silently.
void write_checkpoint_file(const std::filesystem::path& file, const std::string& bytes);

// Checkpoints of a run whose manifest parses, newest first (checksums not verified).
std::vector<CheckpointInfo> list_checkpoints(const std::filesystem::path& run_dir);
// Reads and checks a checkpoint's manifest and every file's checksum; throws InputError naming
// the file that is missing or does not match, and the previous checkpoint to resume from.
CheckpointInfo verify_checkpoint(const std::filesystem::path& dir);
// What to do about the damaged checkpoint `dir`, for error messages: resume from the newest older
// checkpoint of its run (named) or, when there is none, start again.
std::string resume_hint(const std::filesystem::path& dir);
// The newest checkpoint that verifies; each newer one that fails is reported with a warning.
std::optional<CheckpointInfo> newest_valid_checkpoint(const std::filesystem::path& run_dir);
// Keeps the newest `keep` complete checkpoints (never fewer than one) and removes the others.
void prune_checkpoints(const std::filesystem::path& run_dir, int keep);

}  // namespace gst
