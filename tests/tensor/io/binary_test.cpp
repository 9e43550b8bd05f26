// Tests for the shared binary I/O helpers: byte order against hand-written bytes, checked
// multiplication, whole-file reads with errno-named errors, and atomic writes.
#include "tensor/io/binary.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "tensor/error.h"
#include "tests/support/scratch_files.h"

namespace nabla::io {
namespace {

using Bytes = std::vector<uint8_t>;
using nabla::testing::error_of;
using nabla::testing::read_bytes;
using nabla::testing::ScratchDir;
using nabla::testing::write_bytes;

TEST(Binary, LoadsAndStoresBothByteOrdersAsWrittenByHand) {
  const Bytes bytes = {0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF};
  EXPECT_EQ(load_be<uint64_t>(bytes.data()), 0x0123456789ABCDEFULL);
  EXPECT_EQ(load_le<uint64_t>(bytes.data()), 0xEFCDAB8967452301ULL);
  EXPECT_EQ(load_be<uint32_t>(bytes.data()), 0x01234567U);
  EXPECT_EQ(load_le<uint32_t>(bytes.data() + 4), 0xEFCDAB89U);
  EXPECT_EQ(load_be<uint16_t>(bytes.data() + 6), 0xCDEFU);
  EXPECT_EQ(load_le<uint8_t>(bytes.data() + 1), 0x23U);

  Bytes out(8);
  store_be<uint64_t>(0x0123456789ABCDEFULL, out.data());
  EXPECT_EQ(out, bytes);
  store_le<uint64_t>(0xEFCDAB8967452301ULL, out.data());
  EXPECT_EQ(out, bytes);
  out.assign(8, 0);
  store_be<uint32_t>(0xDEADBEEFU, out.data());
  store_le<uint16_t>(0x1234U, out.data() + 4);
  EXPECT_EQ(out, (Bytes{0xDE, 0xAD, 0xBE, 0xEF, 0x34, 0x12, 0, 0}));
}

TEST(Binary, SwapsEachElementOfEverySize) {
  const Bytes start = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  const std::vector<std::pair<size_t, Bytes>> cases = {
      {1, start},
      {2, {2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15}},
      {4, {4, 3, 2, 1, 8, 7, 6, 5, 12, 11, 10, 9, 16, 15, 14, 13}},
      {8, {8, 7, 6, 5, 4, 3, 2, 1, 16, 15, 14, 13, 12, 11, 10, 9}},
      {16, {16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}},
  };
  for (const auto& [size, expected] : cases) {
    SCOPED_TRACE(size);
    Bytes bytes = start;
    swap_bytes(bytes.data(), bytes.size(), size);
    EXPECT_EQ(bytes, expected);
  }
  // Host order <-> a fixed order agrees with load_be/load_le of the same bytes.
  Bytes big = {0x01, 0x02, 0x03, 0x04};
  big_endian_to_from_host(big.data(), big.size(), 4);
  uint32_t host = 0;
  std::memcpy(&host, big.data(), 4);
  EXPECT_EQ(host, 0x01020304U);
  Bytes little = {0x04, 0x03, 0x02, 0x01};
  little_endian_to_from_host(little.data(), little.size(), 4);
  std::memcpy(&host, little.data(), 4);
  EXPECT_EQ(host, 0x01020304U);
}

TEST(Binary, CheckedMulRefusesOverflowAndNegatives) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  int64_t out = -7;
  EXPECT_TRUE(checked_mul(0, kMax, &out));
  EXPECT_EQ(out, 0);
  EXPECT_TRUE(checked_mul(kMax, 1, &out));
  EXPECT_EQ(out, kMax);
  EXPECT_TRUE(checked_mul(int64_t{1} << 31, int64_t{1} << 31, &out));
  EXPECT_EQ(out, int64_t{1} << 62);
  out = -7;
  EXPECT_FALSE(checked_mul(int64_t{1} << 32, int64_t{1} << 31, &out));
  EXPECT_FALSE(checked_mul(kMax / 2 + 1, 2, &out));
  EXPECT_FALSE(checked_mul(-1, 1, &out));
  EXPECT_FALSE(checked_mul(1, -1, &out));
  EXPECT_EQ(out, -7);  // untouched on failure
}

TEST(Binary, InputFileReadsPiecesAndTheRest) {
  const ScratchDir dir;
  const std::string path = dir.file("data");
  std::string content(200'000, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 31 % 251);
  write_bytes(path, content);
  InputFile file(path, "test: ");
  EXPECT_EQ(file.size(), 200'000);
  Bytes head(3);
  EXPECT_EQ(file.read(head.data(), head.size()), 3U);
  EXPECT_EQ(head, (Bytes{0, 31, 62}));
  const Bytes rest = file.read_rest();
  ASSERT_EQ(rest.size(), content.size() - 3);
  EXPECT_TRUE(std::equal(rest.begin(), rest.end(), content.begin() + 3,
                         [](uint8_t a, char b) { return a == static_cast<uint8_t>(b); }));
  EXPECT_EQ(file.read(head.data(), head.size()), 0U);  // at the end
  EXPECT_TRUE(file.read_rest().empty());
}

TEST(Binary, InputFileNamesTheErrno) {
  const ScratchDir dir;
  const std::string missing = error_of([&] { InputFile(dir.file("nope"), "op: x: "); });
  EXPECT_NE(missing.find("op: x: cannot open: No such file or directory"), std::string::npos)
      << missing;
  const std::string directory = error_of([&] { InputFile(dir.file(""), "op: d: "); });
  EXPECT_NE(directory.find("op: d: cannot open: is a directory"), std::string::npos) << directory;
}

TEST(Binary, AtomicFileReplacesTheTargetOnCommitAndLeavesNoTemporary) {
  const ScratchDir dir;
  const std::string path = dir.file("out");
  write_bytes(path, "old");
  {
    AtomicFile file(path, "test: ");
    EXPECT_EQ(file.temp_path().rfind(path + ".tmp-", 0), 0U) << file.temp_path();
    EXPECT_TRUE(std::filesystem::exists(file.temp_path()));
    file.write("new ", 4);
    file.write("bytes", 5);
    EXPECT_EQ(read_bytes(path), "old");  // nothing visible before commit
    file.commit();
  }
  EXPECT_EQ(read_bytes(path), "new bytes");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"out"});
}

TEST(Binary, AtomicFileAbandonedOrFailedKeepsTheOldFile) {
  const ScratchDir dir;
  const std::string path = dir.file("keep");
  write_bytes(path, "old");
  // An exception between the writes and commit (a failed save) abandons the temporary.
  EXPECT_THROW(
      {
        AtomicFile file(path, "test: ");
        file.write("partial", 7);
        throw Error("failed half way");
      },
      Error);
  EXPECT_EQ(read_bytes(path), "old");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"keep"});

  // A commit that cannot rename (the target is now a non-empty directory) fails, naming both.
  const std::string blocked = dir.file("blocked");
  std::string message = error_of([&] {
    AtomicFile file(blocked, "test: ");
    file.write("x", 1);
    std::filesystem::create_directories(blocked + "/inside");
    file.commit();
  });
  EXPECT_NE(message.find("test: cannot rename " + blocked + ".tmp-"), std::string::npos) << message;
  EXPECT_TRUE(std::filesystem::is_directory(blocked + "/inside"));
  std::filesystem::remove_all(blocked);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"keep"});

  message = error_of([&] { AtomicFile(dir.file("no/such/dir/x"), "test: "); });
  EXPECT_NE(message.find("cannot open for writing (cannot create temporary file"),
            std::string::npos)
      << message;
}

}  // namespace
}  // namespace nabla::io
