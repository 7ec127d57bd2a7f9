// GoogleTest check that a call throws gst::InputError whose message contains every given part.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/errors.h"

namespace gst::testing {

template <typename F>
void expect_input_error(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one containing '" << parts.front() << "'";
  } catch (const InputError& e) {
    for (const auto& part : parts)
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
          << "message '" << e.what() << "' lacks '" << part << "'";
  }
}

}  // namespace gst::testing
