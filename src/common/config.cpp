#include "common/config.h"

#include <fmt/ranges.h>

#include <fstream>

namespace gst {

std::string ConfigSource::where(const std::string& path, const YAML::Node& node) const {
  auto it = overrides.find(path);
  if (it != overrides.end()) return fmt::format("--set {}={}", path, it->second);
  if (node.IsDefined() && node.Mark().line >= 0)
    return fmt::format("{}:{}", file.empty() ? "<config>" : file, node.Mark().line + 1);
  return file.empty() ? "<config>" : file;
}

ConfigSection::ConfigSection(std::shared_ptr<const ConfigSource> source, std::string path,
                             YAML::Node node)
    : source_(std::move(source)), path_(std::move(path)), node_(node) {}

ConfigSection ConfigSection::writer(YAML::Node out, std::string path) {
  ConfigSection s(nullptr, std::move(path), YAML::Node());
  s.writing_ = true;
  s.out_ = out;
  return s;
}

std::string ConfigSection::full(const char* key) const {
  return path_.empty() ? key : path_ + "." + key;
}

YAML::Node ConfigSection::value_node(const char* key) {
  known_.push_back(key);
  // An absent section reads as "every key absent", so fields keep their defaults.
  if (!node_ || node_.IsNull()) return YAML::Node(YAML::NodeType::Undefined);
  return node_[key];
}

void ConfigSection::bad_value(const char* key, const YAML::Node& node,
                              const std::string& expected) {
  input_error("{}: bad value for '{}': expected {}", source_->where(full(key), node), full(key),
              expected);
}

template <typename T>
void ConfigSection::scalar(const char* key, T& value, const char* expected) {
  if (writing_) {
    out_[key] = value;
    return;
  }
  YAML::Node node = value_node(key);
  if (!node) return;
  if (!node.IsScalar()) bad_value(key, node, expected);
  try {
    value = node.as<T>();
  } catch (const YAML::Exception&) {
    bad_value(key, node, fmt::format("{}, got '{}'", expected, node.Scalar()));
  }
}

void ConfigSection::field(const char* key, int& value, int64_t min, int64_t max) {
  int64_t wide = value;
  field(key, wide, min, max);
  value = static_cast<int>(wide);
}

void ConfigSection::field(const char* key, int64_t& value, int64_t min, int64_t max) {
  scalar(key, value, "an integer");
  if (!writing_ && (value < min || value > max))
    bad_value(key, node_ ? node_[key] : YAML::Node(),
              fmt::format("an integer in [{}, {}], got {}", min, max, value));
}

void ConfigSection::field(const char* key, double& value, double min, double max) {
  scalar(key, value, "a number");
  if (!writing_ && !(value >= min && value <= max))
    bad_value(key, node_ ? node_[key] : YAML::Node(),
              fmt::format("a number in [{}, {}], got {}", min, max, value));
}

void ConfigSection::field(const char* key, bool& value) { scalar(key, value, "true or false"); }

void ConfigSection::field(const char* key, std::string& value) { scalar(key, value, "a string"); }

void ConfigSection::field(const char* key, std::vector<std::string>& value) {
  if (writing_) {
    out_[key] = value;
    return;
  }
  YAML::Node node = value_node(key);
  if (!node) return;
  if (!node.IsSequence()) bad_value(key, node, "a list of strings");
  try {
    value = node.as<std::vector<std::string>>();
  } catch (const YAML::Exception&) {
    bad_value(key, node, "a list of strings");
  }
}

void ConfigSection::word_choice(const char* key, std::string& value,
                                const std::vector<std::string>& choices) {
  field(key, value);
  if (!writing_ && std::find(choices.begin(), choices.end(), value) == choices.end())
    bad_value(key, node_ ? node_[key] : YAML::Node(),
              fmt::format("one of {}, got '{}'", fmt::join(choices, ", "), value));
}

void ConfigSection::retired(const char* key, const std::string& inert,
                            const std::string& replacement) {
  if (writing_) return;
  retired_.push_back(key);
  if (!node_ || node_.IsNull()) return;
  YAML::Node node = node_[key];
  if (!node || (node.IsScalar() && node.Scalar() == inert)) return;
  input_error("{}: '{}' is no longer a config key: {}", source_->where(full(key), node), full(key),
              replacement);
}

ConfigSection ConfigSection::child_section(const char* key) {
  if (writing_) {
    out_[key] = YAML::Node(YAML::NodeType::Map);
    return writer(out_[key], full(key));
  }
  YAML::Node node = value_node(key);
  if (node && !node.IsMap() && !node.IsNull()) bad_value(key, node, "a map of settings");
  return ConfigSection(source_, full(key), node);
}

void ConfigSection::finish() {
  if (writing_ || !node_ || node_.IsNull()) return;
  if (!node_.IsMap()) input_error("{}: '{}' must be a map", source_->where(path_, node_), path_);
  for (const auto& item : node_) {
    // YAML allows lists and maps as keys (`? [a, b]: 1`); a config key is always a name.
    if (!item.first.IsScalar())
      input_error("{}: a key in {} is a list or map, expected a setting name",
                  source_->where(path_, item.first), path_.empty() ? "the top level" : path_);
    auto key = item.first.as<std::string>();
    if (std::find(known_.begin(), known_.end(), key) == known_.end() &&
        std::find(retired_.begin(), retired_.end(), key) == retired_.end()) {
      std::string where = path_.empty() ? "the top level" : "'" + path_ + "'";
      input_error("{}: unknown key '{}' in {}; valid keys: {}",
                  source_->where(path_.empty() ? key : path_ + "." + key, item.first), key, where,
                  fmt::join(known_, ", "));
    }
  }
}

std::map<std::string, std::string> parse_overrides(const std::vector<std::string>& sets) {
  std::map<std::string, std::string> out;
  for (const auto& s : sets) {
    auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0)
      input_error("--set {}: expected key=value, e.g. --set model.hidden=128", s);
    out[s.substr(0, eq)] = s.substr(eq + 1);
  }
  return out;
}

YAML::Node load_config_tree(const std::shared_ptr<ConfigSource>& source) {
  YAML::Node root(YAML::NodeType::Map);
  if (!source->file.empty()) {
    if (!std::filesystem::exists(source->file))
      input_error("config file {} does not exist", source->file);
    try {
      root = YAML::LoadFile(source->file);
    } catch (const YAML::Exception& e) {
      input_error("{}:{}: invalid YAML: {}", source->file, e.mark.line + 1, e.msg);
    }
    if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
    if (!root.IsMap()) input_error("{}: the top level must be a map of sections", source->file);
  }
  for (const auto& [path, text] : source->overrides) {
    YAML::Node value;
    try {
      value = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      input_error("--set {}={}: invalid YAML value: {}", path, text, e.msg);
    }
    // Walk/create the dotted path; yaml-cpp nodes are handles, so assignment edits the tree.
    std::vector<YAML::Node> chain{root};
    size_t start = 0;
    while (true) {
      size_t dot = path.find('.', start);
      std::string part =
          path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      if (part.empty()) input_error("--set {}={}: empty key component", path, text);
      if (dot == std::string::npos) {
        chain.back()[part] = value;
        break;
      }
      YAML::Node next = chain.back()[part];
      if (!next || next.IsNull()) {
        chain.back()[part] = YAML::Node(YAML::NodeType::Map);
        next = chain.back()[part];
      } else if (!next.IsMap()) {
        input_error("--set {}={}: '{}' is not a section", path, text, path.substr(0, dot));
      }
      chain.push_back(next);
      start = dot + 1;
    }
  }
  return root;
}

}  // namespace gst
