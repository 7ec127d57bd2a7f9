// The ranking losses a run can train with (train.loss), apart from their LibTorch code in losses.h
// so that the run config and its readers need no LibTorch.
#pragma once

#include <array>
#include <utility>

namespace gst {

enum class LossKind { Hinge, ListMle, ListMleTop };
constexpr auto enum_names(LossKind) {
  return std::array{std::pair{LossKind::Hinge, "hinge"}, std::pair{LossKind::ListMle, "listmle"},
                    std::pair{LossKind::ListMleTop, "listmle_top"}};
}

}  // namespace gst
