#include "run/checkpoint.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "common/errors.h"
#include "common/json_fits.h"
#include "run/checkpoint_schema.h"
#include "store/checksum.h"

namespace gst {

namespace fs = std::filesystem;
namespace schema = checkpoint_schema;

namespace {

fs::path final_dir(const fs::path& run_dir, int64_t step) {
  return run_dir / schema::step_dir_name(step);
}

CheckpointInfo read_manifest(const fs::path& dir, nlohmann::json* files) {
  const fs::path path = dir / schema::kManifestFile;
  std::ifstream in(path);
  if (!in) input_error("{}: checkpoint has no manifest (incomplete)", dir.string());
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
    if (j.at("format").get<std::string>() != schema::kFormat)
      input_error("{}: not a gst checkpoint manifest", path.string());
    if (!json_fits<int>(j.at("version")) || !json_fits<int64_t>(j.at("step")) ||
        !json_fits<int>(j.at("world_size")))
      input_error("{}: 'version', 'step' and 'world_size' must be whole numbers in range",
                  path.string());
    const int version = j.at("version").get<int>();
    if (version != schema::kFormatVersion)
      input_error("{}: checkpoint format version {}, this gst reads version {}", path.string(),
                  version, schema::kFormatVersion);
    CheckpointInfo info{j.at("step").get<int64_t>(), j.at("world_size").get<int>(), dir};
    if (info.step < 0 || info.world_size < 1)
      input_error("{}: step {} and world_size {}: expected a step >= 0 and at least one rank",
                  path.string(), info.step, info.world_size);
    if (files) *files = j.at("files");
    return info;
  } catch (const nlohmann::json::exception& e) {
    input_error("{}: malformed checkpoint manifest: {}", path.string(), e.what());
  }
}

}  // namespace

fs::path staging_dir(const fs::path& run_dir, int64_t step) {
  return run_dir / schema::staging_dir_name(step);
}

fs::path begin_checkpoint(const fs::path& run_dir, int64_t step) {
  const fs::path staging = staging_dir(run_dir, step);
  std::error_code ec;
  fs::remove_all(staging, ec);
  fs::create_directories(staging, ec);
  if (ec) fail("cannot create checkpoint directory {}: {}", staging.string(), ec.message());
  return staging;
}

void abandon_checkpoint(const fs::path& staging) {
  std::error_code ec;
  fs::remove_all(staging, ec);
}

void write_checkpoint_file(const fs::path& file, const std::string& bytes) {
  errno = 0;
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (out) out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (out) out.flush();
  if (!out)
    fail("cannot write checkpoint file {} ({} bytes): {}", file.string(), bytes.size(),
         errno ? std::strerror(errno) : "stream error");
}

CheckpointInfo commit_checkpoint(const fs::path& staging, int64_t step, int world_size) {
  const fs::path run_dir = staging.parent_path();
  const fs::path target = final_dir(run_dir, step);
  try {
    nlohmann::json files = nlohmann::json::object();
    std::vector<fs::path> entries;
    for (const auto& e : fs::directory_iterator(staging)) entries.push_back(e.path());
    std::sort(entries.begin(), entries.end());
    for (const auto& p : entries)
      files[p.filename().string()] = {{"bytes", fs::file_size(p)}, {"checksum", file_checksum(p)}};
    nlohmann::json manifest = {{"format", schema::kFormat},
                               {"version", schema::kFormatVersion},
                               {"step", step},
                               {"world_size", world_size},
                               {"files", files}};
    const std::string manifest_file = schema::kManifestFile;
    write_checkpoint_file(staging / (manifest_file + ".tmp"), manifest.dump(2) + "\n");
    fs::rename(staging / (manifest_file + ".tmp"), staging / manifest_file);
    // Replacing a checkpoint of the same step: move the old one aside first, drop it after.
    const fs::path old = run_dir / schema::replaced_dir_name(step);
    fs::remove_all(old);
    if (fs::exists(target)) fs::rename(target, old);
    fs::rename(staging, target);
    fs::remove_all(old);
  } catch (const fs::filesystem_error& e) {
    abandon_checkpoint(staging);
    fail("saving checkpoint {} failed: {}", target.string(), e.what());
  } catch (...) {
    abandon_checkpoint(staging);
    throw;
  }
  return {step, world_size, target};
}

std::vector<CheckpointInfo> list_checkpoints(const fs::path& run_dir) {
  std::vector<CheckpointInfo> out;
  if (!fs::is_directory(run_dir)) return out;
  static const std::regex name(std::string(schema::kStepDirPrefix) + "([0-9]+)");
  for (const auto& e : fs::directory_iterator(run_dir)) {
    std::smatch m;
    const std::string file = e.path().filename().string();
    if (!e.is_directory() || !std::regex_match(file, m, name)) continue;
    try {
      CheckpointInfo info = read_manifest(e.path(), nullptr);
      if (info.step == std::stoll(m[1].str())) out.push_back(info);
    } catch (const InputError&) {
      // No or bad manifest: incomplete, ignored.
    }
  }
  std::sort(out.begin(), out.end(),
            [](const CheckpointInfo& a, const CheckpointInfo& b) { return a.step > b.step; });
  return out;
}

namespace {

// The step in a checkpoint directory's name, or -1 for another name.
int64_t step_of(const fs::path& dir) {
  static const std::regex name(std::string(schema::kStepDirPrefix) + "([0-9]+)");
  std::smatch m;
  const std::string file = dir.filename().string();
  return std::regex_match(file, m, name) ? std::stoll(m[1].str()) : -1;
}

// Without a trailing separator, so that parent_path() is the run directory.
fs::path without_trailing_slash(const fs::path& dir) {
  return dir.has_filename() ? dir : dir.parent_path();
}

CheckpointInfo verify_files(const fs::path& dir) {
  nlohmann::json files;
  CheckpointInfo info = read_manifest(dir, &files);
  for (const auto& [name, meta] : files.items()) {
    // Only names of files in the checkpoint directory: "../x" or "/dev/zero" would make verify
    // read files elsewhere, or forever.
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos)
      input_error("{}: the manifest lists '{}', which is not a file name in the checkpoint",
                  (dir / schema::kManifestFile).string(), name);
    const fs::path p = dir / name;
    if (!fs::exists(p)) input_error("{}: checkpoint file {} is missing", dir.string(), name);
    std::string want;
    try {
      want = meta.at("checksum").get<std::string>();
    } catch (const nlohmann::json::exception& e) {
      input_error("{}: malformed entry for {} in the checkpoint manifest: {}", dir.string(), name,
                  e.what());
    }
    const std::string got = file_checksum(p);
    if (got != want)
      input_error("{}: checksum mismatch (manifest {}, file {})", p.string(), want, got);
  }
  return info;
}

}  // namespace

std::string resume_hint(const fs::path& checkpoint_dir) {
  const fs::path dir = without_trailing_slash(checkpoint_dir);
  const int64_t step = step_of(dir);
  const fs::path run_dir = dir.parent_path().empty() ? fs::path(".") : dir.parent_path();
  for (const auto& c : list_checkpoints(run_dir))
    if (c.dir.filename() != dir.filename() && (step < 0 || c.step < step))
      return fmt::format(
          "resume from the previous checkpoint with `--resume {}` (or `--resume auto`, which "
          "takes the newest checkpoint that verifies)",
          c.dir.string());
  return "there is no earlier checkpoint to `--resume` from: start the run again without "
         "--resume, in a new --run-dir";
}

CheckpointInfo verify_checkpoint(const fs::path& dir) {
  try {
    return verify_files(dir);
  } catch (const InputError& e) {
    input_error("{}. The checkpoint is damaged or incomplete: {}", e.what(), resume_hint(dir));
  }
}

std::optional<CheckpointInfo> newest_valid_checkpoint(const fs::path& run_dir) {
  for (const auto& c : list_checkpoints(run_dir)) {
    try {
      return verify_files(c.dir);
    } catch (const InputError& e) {
      spdlog::warn("skipping corrupted checkpoint: {}", e.what());
    }
  }
  return std::nullopt;
}

void prune_checkpoints(const fs::path& run_dir, int keep) {
  auto all = list_checkpoints(run_dir);
  for (size_t i = std::max(1, keep); i < all.size(); ++i) {
    std::error_code ec;
    fs::remove_all(all[i].dir, ec);
    if (ec) spdlog::warn("cannot remove old checkpoint {}: {}", all[i].dir.string(), ec.message());
  }
}

}  // namespace gst
