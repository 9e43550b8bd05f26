// The Keras-like progress bar's text.
#include "train/progress.h"

#include <gtest/gtest.h>

namespace nabla::train {
namespace {

TEST(ProgressBar, RendersLikeKeras) {
  EXPECT_EQ(ProgressBar::render(0, 10, 0.0, {}, false),
            " 0/10 [..............................] - ETA: 0ms");
  EXPECT_EQ(ProgressBar::render(5, 10, 2.0, {{"loss", 0.5}, {"accuracy", 0.25}}, false),
            " 5/10 [==============>...............] - ETA: 2s - loss: 0.5000 - accuracy: 0.2500");
  EXPECT_EQ(
      ProgressBar::render(10, 10, 3.0, {{"loss", 0.5}, {"val_loss", 0.75}, {"lr", 0.1}}, true),
      "10/10 [==============================] - 3s 300ms/step - loss: 0.5000 - val_loss: 0.7500");
}

TEST(ProgressBar, FormatsDurations) {
  EXPECT_EQ(format_duration(0.0456), "46ms");
  EXPECT_EQ(format_duration(12.4), "12s");
  EXPECT_EQ(format_duration(62.0), "1:02");
  EXPECT_EQ(format_duration(3723.0), "1:02:03");
}

TEST(ProgressBar, WritesOneLinePerEpochAtVerbose2) {
  std::FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  ProgressBar bar(4, 2, out);
  bar.update(1, {{"loss", 1.0}});
  bar.finish({{"loss", 0.5}});
  std::rewind(out);
  char buffer[256] = {};
  const size_t read = std::fread(buffer, 1, sizeof(buffer) - 1, out);
  std::fclose(out);
  const std::string text(buffer, read);
  EXPECT_NE(text.find(" - loss: 0.5000\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("loss: 1.0000"), std::string::npos) << text;
}

}  // namespace
}  // namespace nabla::train
