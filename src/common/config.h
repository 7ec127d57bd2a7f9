// Strict YAML config decoding into typed structs with defaults, ranges and file:line errors.
//
// A config struct lists its fields once, in `void visit(ConfigSection&)`; the same list reads a
// YAML map (rejecting unknown keys, wrong types and out-of-range values) and writes the struct
// back to YAML (for checkpoints and run directories).
#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/enum_names.h"
#include "common/errors.h"

namespace gst {

// Where the values come from: the YAML file and the `--set key=value` overrides applied on top.
struct ConfigSource {
  std::string file;                              // "" when there is no file
  std::map<std::string, std::string> overrides;  // dotted key -> override text
  // "configs/x.yaml:12" or "--set model.hidden=abc", for messages about `path`.
  std::string where(const std::string& path, const YAML::Node& node) const;
};

class ConfigSection {
 public:
  // A reading section over `node` (a map or null), or a writing one when `out` is given.
  ConfigSection(std::shared_ptr<const ConfigSource> source, std::string path, YAML::Node node);
  static ConfigSection writer(YAML::Node out, std::string path = "");

  void field(const char* key, int& value, int64_t min = std::numeric_limits<int>::min(),
             int64_t max = std::numeric_limits<int>::max());
  void field(const char* key, int64_t& value, int64_t min = std::numeric_limits<int64_t>::min(),
             int64_t max = std::numeric_limits<int64_t>::max());
  void field(const char* key, double& value, double min = -std::numeric_limits<double>::infinity(),
             double max = std::numeric_limits<double>::infinity());
  void field(const char* key, bool& value);
  void field(const char* key, std::string& value);
  void field(const char* key, std::vector<std::string>& value);
  // An enum read and written as one of its words (common/enum_names.h); any other word is an
  // error listing the accepted ones.
  template <typename E>
  void choice(const char* key, E& value) {
    std::string word(to_string(value));
    word_choice(key, word, enum_words<E>());
    if (!writing_) value = *find_enum<E>(word);
  }

  // A key earlier versions wrote and this one no longer reads: accepted (and dropped) only with
  // the value those versions wrote by default, so their saved configs still load; any other value
  // is an error pointing to `replacement`.
  void retired(const char* key, const std::string& inert, const std::string& replacement);

  // A nested struct with its own visit().
  template <typename T>
  void section(const char* key, T& value) {
    ConfigSection child = child_section(key);
    value.visit(child);
    child.finish();
  }

  // Reading: throws if the map holds keys no field asked for, listing the valid ones.
  void finish();

 private:
  ConfigSection child_section(const char* key);
  YAML::Node value_node(const char* key);  // null node when absent (reading)
  [[noreturn]] void bad_value(const char* key, const YAML::Node& node, const std::string& expected);
  std::string full(const char* key) const;
  void word_choice(const char* key, std::string& value, const std::vector<std::string>& choices);
  template <typename T>
  void scalar(const char* key, T& value, const char* expected);

  std::shared_ptr<const ConfigSource> source_;
  std::string path_;
  YAML::Node node_;
  bool writing_ = false;
  YAML::Node out_;  // a handle into the tree being written
  std::vector<std::string> known_;
  std::vector<std::string> retired_;  // accepted, but not listed among the valid keys
};

// Parses `key=value` override strings; the value is YAML ("3", "true", "[a, b]").
std::map<std::string, std::string> parse_overrides(const std::vector<std::string>& sets);

// Reads a config struct from a YAML file (optional: "" means defaults) plus overrides.
template <typename T>
T load_config(const std::filesystem::path& file, const std::vector<std::string>& sets);

// Loads the YAML tree with overrides applied; used by load_config.
YAML::Node load_config_tree(const std::shared_ptr<ConfigSource>& source);

template <typename T>
T load_config(const std::filesystem::path& file, const std::vector<std::string>& sets) {
  auto source = std::make_shared<ConfigSource>();
  source->file = file.string();
  source->overrides = parse_overrides(sets);
  YAML::Node root = load_config_tree(source);
  T config;
  ConfigSection top(source, "", root);
  config.visit(top);
  top.finish();
  return config;
}

// Writes a config struct as YAML text.
template <typename T>
std::string dump_config(T& config) {
  YAML::Node out(YAML::NodeType::Map);
  ConfigSection top = ConfigSection::writer(out);
  config.visit(top);
  YAML::Emitter emitter;
  emitter << out;
  return emitter.c_str();
}

}  // namespace gst
