#include "eval/submission.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "test_support.h"

namespace {

TEST(Submission, BestFirstAllForLayoutTopFiveForTile) {
  const std::vector<double> scores = {0.5, -1.0, 2.0, 0.5, -3.0, 7.0, 0.0};
  EXPECT_EQ(gst::top_configs(scores, gst::Task::Layout),
            std::vector<int64_t>({4, 1, 6, 0, 3, 2, 5}));  // ties keep index order (0 before 3)
  EXPECT_EQ(gst::top_configs(scores, gst::Task::Tile), std::vector<int64_t>({4, 1, 6, 0, 3}));
  EXPECT_EQ(gst::top_configs({1.0, 0.0}, gst::Task::Tile), std::vector<int64_t>({1, 0}));
}

TEST(Submission, CsvFormat) {
  gst::testing::ScratchDir dir("submission");
  gst::write_submission(dir / "s.csv",
                        {{"layout:xla:random:a", {2, 0, 1}}, {"tile:xla:b", {4, 3, 2, 1, 0}}});
  std::ifstream in(dir / "s.csv");
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "ID,TopConfigs\nlayout:xla:random:a,2;0;1\ntile:xla:b,4;3;2;1;0\n");
  EXPECT_FALSE(std::filesystem::exists(dir / "s.csv.tmp"));
  // numpy/pandas-free check with Python's csv module as an independent reader.
  auto r = gst::testing::run_python(
      "import csv,sys\n"
      "rows=list(csv.DictReader(open(sys.argv[1])))\n"
      "assert [r['ID'] for r in rows]==['layout:xla:random:a','tile:xla:b'], rows\n"
      "assert [list(map(int,r['TopConfigs'].split(';'))) for r in rows]==[[2,0,1],[4,3,2,1,0]]\n"
      "print('ok')\n",
      (dir / "s.csv").string());
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

}  // namespace
