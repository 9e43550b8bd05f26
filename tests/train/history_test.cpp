// History and CSV output.
#include "train/history.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tensor/error.h"

namespace nabla::train {
namespace {

TEST(History, CollectsValuesPerEpochAndWritesCsv) {
  History history;
  history.append(0, {{"loss", 0.5}, {"accuracy", 0.75}});
  history.append(1, {{"loss", 0.25}, {"accuracy", 0.875}, {"val_loss", 0.3}});
  EXPECT_EQ(history.values("loss"), (std::vector<double>{0.5, 0.25}));
  const auto val = history.values("val_loss");
  EXPECT_TRUE(std::isnan(val[0]));
  EXPECT_EQ(val[1], 0.3);
  EXPECT_EQ(history.to_csv(), "epoch,accuracy,loss,val_loss\n0,0.75,0.5,\n1,0.875,0.25,0.3\n");
  EXPECT_THROW((void)history.values("nope"), Error);
  const auto path = std::filesystem::temp_directory_path() / "nabla_history_test.csv";
  history.write_csv(path.string());
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  EXPECT_EQ(text.str(), history.to_csv());
  std::filesystem::remove(path);
  EXPECT_THROW(history.write_csv("/nonexistent-dir/x.csv"), Error);
}

TEST(History, WriteCsvReplacesAnOldFileWhole) {
  const auto path = std::filesystem::temp_directory_path() / "nabla_history_replace_test.csv";
  {
    std::ofstream old_file(path);
    old_file << "an older and much longer table that must not survive in part\n";
  }
  History history;
  history.append(0, {{"loss", 0.5}});
  history.write_csv(path.string());
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  EXPECT_EQ(text.str(), "epoch,loss\n0,0.5\n");
  // No temporary file is left beside it.
  int entries = 0;
  for (const auto& entry : std::filesystem::directory_iterator(path.parent_path())) {
    entries += entry.path().filename().string().rfind("nabla_history_replace_test.csv", 0) == 0;
  }
  EXPECT_EQ(entries, 1);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace nabla::train
