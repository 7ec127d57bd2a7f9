// Whether a JSON value converts to a C++ type without loss, checked before nlohmann's get<T>().
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <vector>

namespace gst {

template <typename T>
struct IsJsonVector : std::false_type {};
template <typename U>
struct IsJsonVector<std::vector<U>> : std::true_type {};
template <typename T>
struct IsJsonMap : std::false_type {};
template <typename U>
struct IsJsonMap<std::map<std::string, U>> : std::true_type {};

// nlohmann converts numbers with static_cast: 1e300 as a float or 1e30 as an int is undefined
// behaviour, 2^40 as an int wraps and 2.5 as a count truncates. False for such a number (in any
// element of a list or map); values of another kind are left to get<T>(), which names their type.
template <typename T>
bool json_fits(const nlohmann::json& v) {
  if constexpr (IsJsonVector<T>::value) {
    if (v.is_array())
      for (const auto& e : v)
        if (!json_fits<typename T::value_type>(e)) return false;
    return true;
  } else if constexpr (IsJsonMap<T>::value) {
    if (v.is_object())
      for (const auto& e : v)
        if (!json_fits<typename T::mapped_type>(e)) return false;
    return true;
  } else if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    if (v.is_number_unsigned())
      return v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max());
    if (v.is_number_integer()) {
      const int64_t x = v.get<int64_t>();
      return x >= static_cast<int64_t>(std::numeric_limits<T>::min()) &&
             (x < 0 ||
              static_cast<uint64_t>(x) <= static_cast<uint64_t>(std::numeric_limits<T>::max()));
    }
    return !v.is_number_float();
  } else if constexpr (std::is_floating_point_v<T>) {
    return !v.is_number_float() || std::abs(v.get<double>()) <= std::numeric_limits<T>::max();
  } else {
    return true;
  }
}

}  // namespace gst
