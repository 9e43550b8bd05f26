// Tests for safetensors saving and loading: round trips, byte-exact agreement with the reference
// writer, golden files and one test per kind of corrupt file.
#include "tensor/io/safetensors.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "tensor/error.h"
#include "tensor/kernels/kernels.h"
#include "tests/support/scratch_files.h"

namespace nabla {
namespace {

using nabla::testing::error_of;
using nabla::testing::read_bytes;
using nabla::testing::ScratchDir;
using nabla::testing::write_bytes;

std::string le_u64(uint64_t value) {
  std::string out;
  for (int i = 0; i < 8; ++i) out += static_cast<char>((value >> (8 * i)) & 0xFF);
  return out;
}
std::string le_f32(std::initializer_list<float> values) {
  std::string out;
  for (const float v : values) {
    const auto bits = std::bit_cast<uint32_t>(v);
    for (int i = 0; i < 4; ++i) out += static_cast<char>((bits >> (8 * i)) & 0xFF);
  }
  return out;
}
std::string le_f64(std::initializer_list<double> values) {
  std::string out;
  for (const double v : values) out += le_u64(std::bit_cast<uint64_t>(v));
  return out;
}
std::string le_i64(std::initializer_list<int64_t> values) {
  std::string out;
  for (const int64_t v : values) out += le_u64(static_cast<uint64_t>(v));
  return out;
}

// header length + header (padded with spaces to a multiple of 8 unless told not to) + data.
std::string safetensors_bytes(std::string header, const std::string& data, bool pad = true) {
  if (pad) header.append((8 - header.size() % 8) % 8, ' ');
  return le_u64(header.size()) + header + data;
}

std::string load_error(const std::string& path) {
  return error_of([&] { (void)load_safetensors(path); });
}

// Writes `bytes` to a file and returns the load error, checked to name the function and path.
std::string load_error_of_bytes(const ScratchDir& dir, const std::string& bytes) {
  const std::string path = dir.file("bad.safetensors");
  write_bytes(path, bytes);
  std::string message = load_error(path);
  EXPECT_CONTAINS(message, "load_safetensors: " + path + ": ");
  return message;
}

// ---- round trips --------------------------------------------------------------------------

TEST(Safetensors, RoundTripsEveryDtypeAndShape) {
  ScratchDir dir;
  const std::string path = dir.file("t.safetensors");
  const Tensor matrix = tensor({{1.5, -2.25, 3.0}, {4.0, 1e-30, -0.0}}, kFloat32);
  const Tensor transposed = kernels::transpose(tensor({{1, 2, 3}, {4, 5, 6}}, kFloat32), 0, 1);
  ASSERT_FALSE(transposed.is_contiguous());
  const Tensor doubles = tensor(std::vector<double>{0.1, -1e300, 3.0, 2.5}, {4}, kFloat64);
  const Tensor ints = tensor(std::vector<int64_t>{std::numeric_limits<int64_t>::min(), -1, 0,
                                                  std::numeric_limits<int64_t>::max()},
                             {2, 2});
  const Tensor scalar = scalar_tensor(42.5, kFloat32);
  const Tensor empty = zeros({0, 3}, kFloat64);
  const NamedTensors tensors = {{"matrix", matrix},   {"transposed", transposed},
                                {"doubles", doubles}, {"ints", ints},
                                {"scalar", scalar},   {"empty", empty}};
  save_safetensors(path, tensors);
  const NamedTensors loaded = load_safetensors(path);

  // File order is the reference writer's: I64, then F64, then F32, each by name.
  std::vector<std::string> names;
  for (const auto& [name, t] : loaded) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"ints", "doubles", "empty", "matrix", "scalar",
                                             "transposed"}));

  std::map<std::string, Tensor> by_name(loaded.begin(), loaded.end());
  for (const auto& [name, original] : tensors) {
    SCOPED_TRACE(name);
    const Tensor& got = by_name.at(name);
    EXPECT_EQ(got.dtype(), original.dtype());
    EXPECT_EQ(got.shape(), original.shape());
    EXPECT_TRUE(got.is_contiguous());
    if (original.dtype() == kInt64) {
      EXPECT_EQ(got.to_vector<int64_t>(), original.to_vector<int64_t>());
    } else {
      EXPECT_EQ(got.to_vector<double>(), original.to_vector<double>());
    }
  }
  EXPECT_EQ(by_name.at("transposed").to_vector<double>(), (std::vector<double>{1, 4, 2, 5, 3, 6}));
  EXPECT_EQ(by_name.at("scalar").dim(), 0);
  EXPECT_EQ(by_name.at("empty").numel(), 0);
  // -0.0 keeps its sign bit: the bytes are copied, not converted.
  EXPECT_TRUE(std::signbit(by_name.at("matrix").to_vector<float>()[5]));
}

TEST(Safetensors, RoundTripsMetadataAndAnEmptyFile) {
  ScratchDir dir;
  const std::string path = dir.file("m.safetensors");
  const std::map<std::string, std::string> metadata = {
      {"format", "nabla"}, {"note", "h\xC3\xA9llo \"quoted\"\n"}, {"empty", ""}};
  save_safetensors(path, {}, metadata);
  std::map<std::string, std::string> got = {{"stale", "value"}};
  EXPECT_TRUE(load_safetensors(path, &got).empty());
  EXPECT_EQ(got, metadata);

  save_safetensors(path, {{"w", ones({2})}});
  EXPECT_EQ(load_safetensors(path, &got).size(), 1U);
  EXPECT_TRUE(got.empty());  // a file without "__metadata__" clears the caller's map
}

TEST(Safetensors, SavingReplacesTheFileAndLeavesNoTemporary) {
  ScratchDir dir;
  const std::string path = dir.file("w.safetensors");
  save_safetensors(path, {{"a", ones({3})}});
  save_safetensors(path, {{"b", zeros({2}, kInt64)}});
  const NamedTensors loaded = load_safetensors(path);
  ASSERT_EQ(loaded.size(), 1U);
  EXPECT_EQ(loaded[0].first, "b");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"w.safetensors"});
}

// ---- the format, byte for byte --------------------------------------------------------------

// The reference writer's output for {"attn0": F32 [1, 1, 2, 3] = 0..5}, as its own test suite
// asserts it: compact JSON, keys dtype/shape/data_offsets, header padded with spaces to 72 bytes.
TEST(Safetensors, WritesTheReferenceBytes) {
  ScratchDir dir;
  const std::string path = dir.file("attn.safetensors");
  save_safetensors(path, {{"attn0", kernels::reshape(arange(0, 6, 1, kFloat32), {1, 1, 2, 3})}});
  const std::string header = R"({"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}})";
  const std::string expected =
      le_u64(72) + header + std::string(7, ' ') + le_f32({0.0F, 1.0F, 2.0F, 3.0F, 4.0F, 5.0F});
  EXPECT_EQ(read_bytes(path), expected);

  // No tensors: "{}" padded to 8 bytes; with metadata, "__metadata__" comes first.
  save_safetensors(path, {});
  EXPECT_EQ(read_bytes(path), le_u64(8) + "{}      ");
  save_safetensors(path, {}, {{"framework", "pt"}});
  EXPECT_EQ(read_bytes(path), le_u64(40) + R"({"__metadata__":{"framework":"pt"}})" + "     ");
}

TEST(Safetensors, WritesDtypesInReferenceOrderWithExactOffsets) {
  ScratchDir dir;
  const std::string path = dir.file("mixed.safetensors");
  save_safetensors(path,
                   {{"b", tensor(std::vector<float>{1.0F, -2.0F}, {2})},
                    {"a", tensor(std::vector<double>{0.5}, {1}, kFloat64)},
                    {"c", scalar_tensor(-3, kInt64)}},
                   {{"format", "nabla"}});
  const std::string header = R"({"__metadata__":{"format":"nabla"},)"
                             R"("c":{"dtype":"I64","shape":[],"data_offsets":[0,8]},)"
                             R"("a":{"dtype":"F64","shape":[1],"data_offsets":[8,16]},)"
                             R"("b":{"dtype":"F32","shape":[2],"data_offsets":[16,24]}})";
  EXPECT_EQ(read_bytes(path),
            safetensors_bytes(header, le_i64({-3}) + le_f64({0.5}) + le_f32({1.0F, -2.0F})));
}

// A file as Python writers with json.dumps make it (", " and ": " separators, entries in any
// order, header not padded), with F64 data first: the loader follows the offsets.
TEST(Safetensors, ReadsAGoldenFileFromAnotherWriter) {
  ScratchDir dir;
  const std::string header =
      R"({"fc.weight": {"dtype": "F32", "shape": [2, 2], "data_offsets": [16, 32]}, )"
      R"("__metadata__": {"format": "pt"}, )"
      R"("fc.bias": {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]}, )"
      R"("step": {"dtype": "I64", "shape": [], "data_offsets": [32, 40]}})";
  const std::string bytes = safetensors_bytes(
      header, le_f64({0.25, -8.0}) + le_f32({1.0F, 2.0F, 3.5F, -4.0F}) + le_i64({7}), false);
  const std::string path = dir.file("golden.safetensors");
  write_bytes(path, bytes);

  std::map<std::string, std::string> metadata;
  const NamedTensors loaded = load_safetensors(path, &metadata);
  EXPECT_EQ(metadata, (std::map<std::string, std::string>{{"format", "pt"}}));
  ASSERT_EQ(loaded.size(), 3U);
  EXPECT_EQ(loaded[0].first, "fc.bias");
  EXPECT_EQ(loaded[0].second.dtype(), kFloat64);
  EXPECT_EQ(loaded[0].second.to_vector<double>(), (std::vector<double>{0.25, -8.0}));
  EXPECT_EQ(loaded[1].first, "fc.weight");
  EXPECT_EQ(loaded[1].second.shape(), (Shape{2, 2}));
  EXPECT_EQ(loaded[1].second.to_vector<float>(), (std::vector<float>{1.0F, 2.0F, 3.5F, -4.0F}));
  EXPECT_EQ(loaded[2].first, "step");
  EXPECT_EQ(loaded[2].second.dim(), 0);
  EXPECT_EQ(loaded[2].second.item<int64_t>(), 7);
}

// ---- corrupt files: each names the function, the path and what is wrong --------------------

const std::string kGoodHeader = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
const std::string kGoodData = le_f32({1.0F, 2.0F});

TEST(Safetensors, RejectsAFileShorterThanTheLengthPrefix) {
  ScratchDir dir;
  EXPECT_CONTAINS(load_error_of_bytes(dir, std::string("\x05\0\0\0\0", 5)), "file has 5 bytes");
  EXPECT_CONTAINS(load_error(dir.file("missing.safetensors")), "cannot open");
}

TEST(Safetensors, RejectsAHeaderLengthBeyondTheFile) {
  ScratchDir dir;
  const std::string message = load_error_of_bytes(dir, le_u64(1000) + "{}" + std::string(10, ' '));
  EXPECT_CONTAINS(message, "header length 1000");
  EXPECT_CONTAINS(message, "offset 1008");
  EXPECT_CONTAINS(message, "20 bytes");
  EXPECT_CONTAINS(load_error_of_bytes(dir, le_u64(uint64_t{1} << 62) + "{}      "),
                  "exceeds the limit");
}

TEST(Safetensors, RejectsInvalidJsonNamingTheOffset) {
  ScratchDir dir;
  // The '}' at header byte 9 is where the parser gives up: file offset 8 + 9.
  const std::string message = load_error_of_bytes(dir, safetensors_bytes(R"({"a": [1,})", ""));
  EXPECT_CONTAINS(message, "not valid JSON");
  EXPECT_CONTAINS(message, "header byte 9 (file offset 17)");
  EXPECT_CONTAINS(load_error_of_bytes(dir, safetensors_bytes("", "")), "not valid JSON");
  EXPECT_CONTAINS(load_error_of_bytes(dir, safetensors_bytes("{\"\xFF\": 1}", "")),
                  "not valid JSON");
}

TEST(Safetensors, RejectsAHeaderThatIsNotAnObject) {
  ScratchDir dir;
  EXPECT_CONTAINS(load_error_of_bytes(dir, safetensors_bytes("[1, 2]", "")),
                  "header is a JSON array, expected an object");
  EXPECT_CONTAINS(load_error_of_bytes(dir, safetensors_bytes(R"({"w": 3})", "")),
                  "tensor 'w': entry is a JSON number");
  EXPECT_CONTAINS(load_error_of_bytes(dir, safetensors_bytes(R"({"__metadata__": {"k": 1}})", "")),
                  "\"k\" must be a string");
}

TEST(Safetensors, RejectsMissingAndUnexpectedKeys) {
  ScratchDir dir;
  std::string message = load_error_of_bytes(
      dir, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2]}})", kGoodData));
  EXPECT_CONTAINS(message, "tensor 'w': missing \"data_offsets\"");
  message = load_error_of_bytes(
      dir,
      safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"strides":[1]}})",
                        kGoodData));
  EXPECT_CONTAINS(message, "tensor 'w': unexpected key \"strides\"");
}

TEST(Safetensors, RejectsFieldsOfTheWrongType) {
  ScratchDir dir;
  const auto entry_error = [&](const std::string& entry) {
    return load_error_of_bytes(dir, safetensors_bytes(R"({"w":)" + entry + "}", kGoodData));
  };
  EXPECT_CONTAINS(entry_error(R"({"dtype":4,"shape":[2],"data_offsets":[0,8]})"),
                  "tensor 'w': dtype must be a string");
  EXPECT_CONTAINS(entry_error(R"({"dtype":"F32","shape":"2","data_offsets":[0,8]})"),
                  "tensor 'w': shape must be a list of non-negative integers");
  EXPECT_CONTAINS(entry_error(R"({"dtype":"F32","shape":[-2],"data_offsets":[0,8]})"),
                  "shape must be a list of non-negative integers, found [-2]");
  EXPECT_CONTAINS(entry_error(R"({"dtype":"F32","shape":[2.0],"data_offsets":[0,8]})"),
                  "shape must be a list of non-negative integers");
  EXPECT_CONTAINS(entry_error(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8,8]})"),
                  "tensor 'w': data_offsets must be a list of two non-negative integers");
  EXPECT_CONTAINS(entry_error(R"({"dtype":"F32","shape":[2],"data_offsets":[-1,7]})"),
                  "data_offsets must be a list of two non-negative integers");
  EXPECT_CONTAINS(entry_error(R"({"dtype":"F32","shape":[0],"data_offsets":[8,0]})"),
                  "data_offsets [8, 0] end before they begin");
}

TEST(Safetensors, RejectsUnsupportedAndUnknownDtypesNamingTheTensor) {
  ScratchDir dir;
  for (const std::string dtype : {"F16", "BF16", "U8", "I32", "BOOL"}) {
    const std::string message =
        load_error_of_bytes(dir, safetensors_bytes(R"({"half":{"dtype":")" + dtype +
                                                       R"(","shape":[1],"data_offsets":[0,8]}})",
                                                   kGoodData));
    EXPECT_CONTAINS(message, "tensor 'half': unsupported dtype \"" + dtype + "\"");
  }
  EXPECT_CONTAINS(
      load_error_of_bytes(
          dir,
          safetensors_bytes(R"({"q":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}})", kGoodData)),
      "tensor 'q': unknown dtype \"Q7\"");
}

TEST(Safetensors, RejectsShapesThatDisagreeWithTheOffsets) {
  ScratchDir dir;
  std::string message = load_error_of_bytes(
      dir, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})",
                             std::string(20, '\0')));
  EXPECT_CONTAINS(message,
                  "tensor 'w': F32 [2, 3] needs 24 bytes, but data_offsets [0, 20] span 20");
  message = load_error_of_bytes(
      dir, safetensors_bytes(
               R"({"w":{"dtype":"F64","shape":[4611686018427387904,4],"data_offsets":[0,8]}})",
               kGoodData));
  EXPECT_CONTAINS(message, "tensor 'w': shape [4611686018427387904,4] has more elements than fit");
  message = load_error_of_bytes(
      dir, safetensors_bytes(
               R"({"w":{"dtype":"F64","shape":[18446744073709551615],"data_offsets":[0,8]}})",
               kGoodData));
  EXPECT_CONTAINS(message, "shape must be a list of non-negative integers");
}

// Found while writing tests/fuzz/safetensors_fuzzer.cpp, confirmed by it under UBSan (corpus
// crash-empty-huge-shape): a tensor with a 0 extent and others whose product overflows int64 was
// accepted, and Tensor::empty then overflowed computing its strides.
TEST(Safetensors, RejectsEmptyShapesWhoseOtherExtentsOverflow) {
  ScratchDir dir;
  const std::string message = load_error_of_bytes(
      dir,
      safetensors_bytes(
          R"({"w":{"dtype":"F32","shape":[0,4294967296,4294967296],"data_offsets":[0,0]}})", ""));
  EXPECT_CONTAINS(message,
                  "tensor 'w': shape [0,4294967296,4294967296]: the product of its "
                  "nonzero extents does not fit in 64 bits");
  const std::string path = dir.file("fits.safetensors");
  write_bytes(
      path,
      safetensors_bytes(
          R"({"w":{"dtype":"F32","shape":[0,4294967296,2147483647],"data_offsets":[0,0]}})", ""));
  const NamedTensors loaded = load_safetensors(path);
  ASSERT_EQ(loaded.size(), 1U);
  EXPECT_EQ(loaded[0].second.numel(), 0);
}

TEST(Safetensors, RejectsOffsetsBeyondTheBufferAndTruncatedFiles) {
  ScratchDir dir;
  std::string message = load_error_of_bytes(
      dir,
      safetensors_bytes(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", kGoodData));
  EXPECT_CONTAINS(message, "truncated");
  EXPECT_CONTAINS(message, "tensor 'w' (data_offsets [0, 16])");

  // A real file cut short by three bytes.
  const std::string path = dir.file("cut.safetensors");
  save_safetensors(path, {{"a", ones({4})}, {"b", ones({2}, kInt64)}});
  std::string bytes = read_bytes(path);
  bytes.resize(bytes.size() - 3);
  message = load_error_of_bytes(dir, bytes);
  EXPECT_CONTAINS(message, "truncated");
  EXPECT_CONTAINS(message, "tensor 'a' (data_offsets [16, 32])");
  EXPECT_CONTAINS(message, fmt::format("the file has {} bytes", bytes.size()));
}

TEST(Safetensors, RejectsOverlappingTensors) {
  ScratchDir dir;
  const std::string header = R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                             R"("b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})";
  const std::string message =
      load_error_of_bytes(dir, safetensors_bytes(header, std::string(24, '\0')));
  EXPECT_CONTAINS(message,
                  "tensors 'a' (data_offsets [0, 16]) and 'b' (data_offsets [8, 24]) overlap");
  // Two names for the same bytes overlap too.
  const std::string aliased = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                              R"("b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  EXPECT_CONTAINS(load_error_of_bytes(dir, safetensors_bytes(aliased, kGoodData)), "overlap");
}

TEST(Safetensors, RejectsHolesInTheBuffer) {
  ScratchDir dir;
  const std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                             R"("b":{"dtype":"F32","shape":[2],"data_offsets":[16,24]}})";
  std::string message = load_error_of_bytes(dir, safetensors_bytes(header, std::string(24, '\0')));
  EXPECT_CONTAINS(message, "hole in the data buffer: bytes [8, 16) before tensor 'b'");
  message = load_error_of_bytes(
      dir, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                             std::string(16, '\0')));
  EXPECT_CONTAINS(message, "bytes [0, 8) before tensor 'w'");
}

TEST(Safetensors, RejectsTrailingBytes) {
  ScratchDir dir;
  const std::string message =
      load_error_of_bytes(dir, safetensors_bytes(kGoodHeader, kGoodData + "junk"));
  EXPECT_CONTAINS(message, "4 trailing bytes: the tensors end at file offset 72, the file has 76");
}

TEST(Safetensors, RejectsATensorDeclaredTwice) {
  ScratchDir dir;
  const std::string header = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                             R"("w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})";
  EXPECT_CONTAINS(load_error_of_bytes(dir, safetensors_bytes(header, std::string(16, '\0'))),
                  "tensor 'w' is declared twice");
}

// Issue 7 (kept in tests/fuzz/corpus/safetensors_fuzzer/crash-nested-*): quoting a value in a
// message dumped it recursively, so a header nested 100,000 deep overflowed the stack. Nesting
// beyond 64 is refused with the byte offset before the JSON is parsed, wherever it occurs.
TEST(Safetensors, RejectsDeeplyNestedHeadersNamingTheOffset) {
  ScratchDir dir;
  constexpr size_t kDepth = 100'000;
  const std::string deep = std::string(kDepth, '[') + std::string(kDepth, ']');
  // {"a": [[[...: '{' is level 1 at byte 0, the first '[' is level 2 at byte 6, level 65 is
  // reached at byte 6 + 63.
  std::string message = load_error_of_bytes(dir, safetensors_bytes(R"({"a": )" + deep + "}", ""));
  EXPECT_CONTAINS(message, "nests JSON arrays and objects more than 64 deep");
  EXPECT_CONTAINS(message, "header byte 69 (file offset 77) opens level 65");
  for (const std::string& header :
       {R"({"w":{"dtype":"F32","shape":)" + deep + R"(,"data_offsets":[0,8]}})",
        R"({"w":{"dtype":)" + deep + R"(,"shape":[2],"data_offsets":[0,8]}})",
        R"({"w":{"dtype":"F32","shape":[2],"data_offsets":)" + deep + "}}",
        R"({"__metadata__":{"k":)" + deep + "}}", R"({"__metadata__":)" + deep + "}",
        std::string(kDepth, '{') + std::string(kDepth, '}'),
        std::string(kDepth, '[') + std::string(kDepth, ']')}) {
    EXPECT_CONTAINS(load_error_of_bytes(dir, safetensors_bytes(header, kGoodData)),
                    "more than 64 deep");
  }
  // Brackets inside strings do not count.
  const std::string in_name = std::string(100, '[') + "\\\"{";
  const std::string path = dir.file("brackets.safetensors");
  write_bytes(path, safetensors_bytes(R"({")" + in_name +
                                          R"(":{"dtype":"F32","shape":[2],)"
                                          R"("data_offsets":[0,8]}})",
                                      kGoodData));
  const NamedTensors loaded = load_safetensors(path);
  ASSERT_EQ(loaded.size(), 1U);
  EXPECT_EQ(loaded[0].first, std::string(100, '[') + "\"{");
}

// Messages quote at most 80 characters of the offending JSON, however big or deep it is.
TEST(Safetensors, QuotesOnlyTheStartOfBigOrDeepValues) {
  ScratchDir dir;
  const auto entry_error = [&](const std::string& shape) {
    return load_error_of_bytes(dir, safetensors_bytes(R"({"w":{"dtype":"F32","shape":)" + shape +
                                                          R"(,"data_offsets":[0,8]}})",
                                                      kGoodData));
  };
  std::string long_shape = "[";
  for (int i = 0; i < 100'000; ++i) long_shape += "1,";
  long_shape += "-1]";
  std::string message = entry_error(long_shape);
  EXPECT_CONTAINS(message, "found [1,1,1,");
  EXPECT_CONTAINS(message, "...");
  EXPECT_LT(message.size(), 400U);
  message = entry_error(std::string(60, '[') + std::string(60, ']'));
  EXPECT_CONTAINS(message, "found " + std::string(60, '[') + std::string(20, ']') + "...");
  message = entry_error(R"([")" + std::string(1'000'000, 'x') + R"("])");
  EXPECT_CONTAINS(message, R"(found [")" + std::string(10, 'x'));
  EXPECT_LT(message.size(), 400U);
}

// Issue 7 (corpus crash-number-overflow): a number beyond double range made nlohmann throw
// out_of_range (406), which escaped as a raw nlohmann exception instead of a nabla::Error.
TEST(Safetensors, RejectsNumbersBeyondDoubleRangeAsAnError) {
  ScratchDir dir;
  for (const std::string& header :
       {std::string(R"({"w":{"dtype":"F32","shape":[1e400],"data_offsets":[0,8]}})"),
        std::string(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,-1e400]}})"),
        std::string(R"({"__metadata__":{"k":1e999}})")}) {
    const std::string message = load_error_of_bytes(dir, safetensors_bytes(header, kGoodData));
    EXPECT_CONTAINS(message, "header cannot be parsed");
    EXPECT_CONTAINS(message, "number overflow");
  }
}

// parse_safetensors reads bytes held in memory with the same checks, naming the buffer.
TEST(Safetensors, ParsesFromMemoryLikeFromAFile) {
  ScratchDir dir;
  const std::string path = dir.file("t.safetensors");
  save_safetensors(path,
                   {{"w", tensor({{1.5, -2.0}, {0.25, 8.0}}, kFloat32)},
                    {"steps", tensor(std::vector<int64_t>{3, -4}, {2})}},
                   {{"format", "nabla"}});
  const std::string bytes = read_bytes(path);
  const auto as_span = [](const std::string& text) {
    return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  };
  std::map<std::string, std::string> metadata;
  const NamedTensors parsed = parse_safetensors(as_span(bytes), "mem", &metadata);
  const NamedTensors loaded = load_safetensors(path);
  ASSERT_EQ(parsed.size(), 2U);
  ASSERT_EQ(loaded.size(), 2U);
  for (size_t i = 0; i < parsed.size(); ++i) {
    EXPECT_EQ(parsed[i].first, loaded[i].first);
    EXPECT_EQ(parsed[i].second.shape(), loaded[i].second.shape());
    EXPECT_EQ(parsed[i].second.dtype(), loaded[i].second.dtype());
  }
  EXPECT_EQ(parsed[0].second.to_vector<int64_t>(), (std::vector<int64_t>{3, -4}));
  EXPECT_EQ(parsed[1].second.to_vector<float>(), (std::vector<float>{1.5F, -2.0F, 0.25F, 8.0F}));
  EXPECT_EQ(metadata, (std::map<std::string, std::string>{{"format", "nabla"}}));

  const auto parse_error = [&](const std::string& text) {
    return error_of([&] { (void)parse_safetensors(as_span(text), "mem"); });
  };
  EXPECT_CONTAINS(parse_error(std::string("\x05\0\0", 3)),
                  "parse_safetensors: mem: buffer has 3 bytes");
  EXPECT_CONTAINS(parse_error(bytes.substr(0, bytes.size() - 3)), "buffer is truncated");
  EXPECT_CONTAINS(parse_error(bytes + "x"), "1 trailing bytes");
  EXPECT_CONTAINS(parse_error(safetensors_bytes(R"({"a": [1,})", "")),
                  "header byte 9 (buffer offset 17)");
}

TEST(Safetensors, AcceptsTheValidFileTheErrorTestsStartFrom) {
  ScratchDir dir;
  const std::string path = dir.file("good.safetensors");
  write_bytes(path, safetensors_bytes(kGoodHeader, kGoodData));
  const NamedTensors loaded = load_safetensors(path);
  ASSERT_EQ(loaded.size(), 1U);
  EXPECT_EQ(loaded[0].second.to_vector<float>(), (std::vector<float>{1.0F, 2.0F}));
}

// ---- save errors -------------------------------------------------------------------------------

TEST(Safetensors, SaveRejectsBadNamesAndKeepsTheOldFile) {
  ScratchDir dir;
  const std::string path = dir.file("keep.safetensors");
  save_safetensors(path, {{"w", ones({2})}});
  const std::string before = read_bytes(path);

  std::string message = error_of([&] {
    save_safetensors(path, {{"w", ones({2})}, {"w", ones({3})}});
  });
  EXPECT_CONTAINS(message, "save_safetensors: " + path + ": duplicate tensor name 'w'");
  message = error_of([&] { save_safetensors(path, {{"", ones({2})}}); });
  EXPECT_CONTAINS(message, "tensor #0 has an empty name");
  message = error_of([&] { save_safetensors(path, {{"__metadata__", ones({2})}}); });
  EXPECT_CONTAINS(message, "reserves for metadata");
  message = error_of([&] { save_safetensors(path, {{"bad\xFF", ones({2})}}); });
  EXPECT_CONTAINS(message, "not valid UTF-8");
  message = error_of([&] { save_safetensors(path, {{"u", Tensor()}}); });
  EXPECT_CONTAINS(message, "tensor 'u' is undefined");

  EXPECT_EQ(read_bytes(path), before);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"keep.safetensors"});
  EXPECT_CONTAINS(error_of([&] { save_safetensors(dir.file("no/such/dir/x"), {}); }),
                  "cannot create temporary file");
}

}  // namespace
}  // namespace nabla
