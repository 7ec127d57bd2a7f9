// The GST_FAULT grammar, which rules fire at a point, and the stall kind (the commands' fault
// tests run the fail and kill kinds through gst itself).
#include "common/fault.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <functional>

#include "common/errors.h"

namespace gst {
namespace {

double seconds_of(const std::function<void()>& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string parse_error(const std::string& text) {
  try {
    FaultPlan::parse(text);
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

TEST(FaultPlan, ParsesRulesWithTheirFields) {
  const FaultPlan plan =
      FaultPlan::parse(" fail:train.step,rank=1,at=21 ; stall:comm-check.start,seconds=0.5;");
  ASSERT_EQ(plan.rules().size(), 2u);
  const FaultRule& fail = plan.rules()[0];
  EXPECT_EQ(fail.kind, FaultKind::Fail);
  EXPECT_EQ(fail.point, "train.step");
  EXPECT_EQ(fail.rank, 1);
  EXPECT_EQ(fail.at, 21);
  const FaultRule& stall = plan.rules()[1];
  EXPECT_EQ(stall.kind, FaultKind::Stall);
  EXPECT_FALSE(stall.rank.has_value());
  EXPECT_FALSE(stall.at.has_value());
  EXPECT_DOUBLE_EQ(stall.seconds, 0.5);
  EXPECT_TRUE(FaultPlan::parse("").rules().empty());
}

TEST(FaultPlan, MalformedRulesNameTheVariableTheRuleAndTheGrammar) {
  const std::string msg = parse_error("explode:train.step");
  EXPECT_NE(msg.find("GST_FAULT='explode:train.step'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unknown kind 'explode'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("KIND one of fail, kill, stall"), std::string::npos) << msg;
  EXPECT_NE(msg.find("train.step, shard.file-written, comm-check.start"), std::string::npos) << msg;
  EXPECT_NE(parse_error("fail:train.stp").find("unknown point 'train.stp'"), std::string::npos);
  EXPECT_NE(parse_error("fail").find("no ':'"), std::string::npos);
  EXPECT_NE(parse_error("fail:train.step,rank=x").find("'rank' needs a non-negative number"),
            std::string::npos);
  EXPECT_NE(parse_error("fail:train.step,at=-1").find("'at' needs"), std::string::npos);
  EXPECT_NE(parse_error("fail:train.step,when=3").find("unknown key 'when'"), std::string::npos);
  EXPECT_NE(parse_error("stall:train.step").find("needs seconds > 0"), std::string::npos);
  EXPECT_NE(parse_error("fail:train.step,seconds=2").find("only a stall"), std::string::npos);
}

TEST(FaultPlan, FailFiresOnlyAtItsPointRankAndCount) {
  const FaultPlan plan = FaultPlan::parse("fail:train.step,rank=1,at=3");
  EXPECT_NO_THROW(plan.hit("train.step", 0, 3));        // another rank
  EXPECT_NO_THROW(plan.hit("train.step", 1, 2));        // another step
  EXPECT_NO_THROW(plan.hit("comm-check.start", 1, 3));  // another point
  try {
    plan.hit("train.step", 1, 3);
    FAIL() << "the fault did not fire";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "injected fault on rank 1 at train.step 3 (GST_FAULT)");
  }
  EXPECT_NO_THROW(FaultPlan().hit("train.step", 1, 3));  // no plan, no fault
}

// A stall sleeps its seconds on the named rank at the named point and nowhere else: what a later
// watchdog needs to see a stuck rank without a mechanism of its own.
TEST(FaultPlan, StallSleepsOnTheNamedRankOnly) {
  const FaultPlan plan = FaultPlan::parse("stall:train.step,rank=1,seconds=0.3");
  EXPECT_GE(seconds_of([&] { plan.hit("train.step", 1, 7); }), 0.3);
  EXPECT_LT(seconds_of([&] { plan.hit("train.step", 0, 7); }), 0.1);
  EXPECT_LT(seconds_of([&] { plan.hit("shard.file-written", 1, 7); }), 0.1);
}

TEST(FaultPlan, ReadsTheEnvironment) {
  setenv("GST_FAULT", "fail:comm-check.start", 1);
  const FaultPlan plan = FaultPlan::from_environment();
  unsetenv("GST_FAULT");
  ASSERT_EQ(plan.rules().size(), 1u);
  EXPECT_THROW(plan.hit("comm-check.start", 5, 0), Error);
  EXPECT_TRUE(FaultPlan::from_environment().rules().empty());
}

}  // namespace
}  // namespace gst
