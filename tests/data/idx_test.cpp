// Tests for the IDX reader and writer: round trips of every element type, plain and gzipped,
// and one test per kind of bad input, each checked by what its message says.
#include "data/idx.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "tensor/error.h"
#include "tests/data/test_util.h"

namespace nabla::data {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

using test_support::error_of;
using test_support::expect_contains;
using test_support::TempDir;

void write_bytes(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

Bytes read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// gzip-compresses with zlib directly, independently of write_idx.
Bytes gzip(const Bytes& plain) {
  z_stream stream{};
  EXPECT_EQ(
      deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
      Z_OK);
  Bytes out(deflateBound(&stream, static_cast<uLong>(plain.size())) + 64);
  stream.next_in = const_cast<uint8_t*>(plain.data());
  stream.avail_in = static_cast<uInt>(plain.size());
  stream.next_out = out.data();
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&stream, Z_FINISH), Z_STREAM_END);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& part : parts) {
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

// A big-endian IDX header: 00 00 type ndims, then each dim as 32 bits.
Bytes idx_header(uint8_t type, std::initializer_list<uint32_t> dims) {
  Bytes out{0, 0, type, static_cast<uint8_t>(dims.size())};
  for (const uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) {
      out.push_back(static_cast<uint8_t>(d >> shift));
    }
  }
  return out;
}

template <class T>
IdxArray make_array(std::vector<int64_t> dims, const std::vector<T>& values) {
  IdxArray array;
  array.type = kIdxTypeOf<T>;
  array.dims = std::move(dims);
  array.bytes.resize(values.size() * sizeof(T));
  if (!values.empty()) {
    std::memcpy(array.bytes.data(), values.data(), array.bytes.size());
  }
  return array;
}

template <class T>
void expect_round_trip(const TempDir& tmp, const std::vector<T>& values) {
  const IdxArray array = make_array<T>({2, 1, 3}, values);
  for (const bool gz : {false, true}) {
    SCOPED_TRACE(idx_type_name(array.type) + (gz ? " gzip" : " plain"));
    const std::string path = tmp.file(idx_type_name(array.type) + (gz ? ".gz" : ""));
    write_idx(path, array, gz);
    const IdxArray back = read_idx(path);
    EXPECT_EQ(back.type, array.type);
    EXPECT_EQ(back.dims, array.dims);
    EXPECT_EQ(back.numel(), 6);
    EXPECT_EQ(back.bytes, array.bytes);
    const T* data = back.template data_as<T>();
    for (size_t i = 0; i < values.size(); ++i) {
      // Bitwise: -0.0 and NaN payloads must survive too.
      using Raw = std::array<uint8_t, sizeof(T)>;
      EXPECT_EQ(std::bit_cast<Raw>(data[i]), std::bit_cast<Raw>(values[i])) << "element " << i;
    }
    const Bytes raw = read_bytes(path);
    EXPECT_EQ(raw.size() >= 2 && raw[0] == 0x1f && raw[1] == 0x8b, gz);
  }
}

TEST(Idx, RoundTripsEveryTypePlainAndGzipped) {
  const TempDir tmp;
  expect_round_trip<uint8_t>(tmp, {0, 1, 127, 128, 254, 255});
  expect_round_trip<int8_t>(tmp, {0, 1, -1, 127, -128, 42});
  expect_round_trip<int16_t>(tmp, {0x0102, -2, 32767, -32768, 0x00FF, 0x7F00});
  expect_round_trip<int32_t>(tmp, {0x01020304, -2, 2147483647, -2147483647 - 1, 0xFF, 1 << 24});
  expect_round_trip<float>(
      tmp, {1.5F, -0.0F, 3.4e38F, 1e-45F, -2.25F, std::numeric_limits<float>::quiet_NaN()});
  expect_round_trip<double>(
      tmp, {1.5, -0.0, 1.7e308, 5e-324, -2.25, std::numeric_limits<double>::infinity()});
}

TEST(Idx, WritesBigEndianHeaderAndData) {
  const TempDir tmp;
  const std::string path = tmp.file("be");
  write_idx(path, make_array<int32_t>({2}, {0x01020304, -2}), false);
  EXPECT_EQ(read_bytes(path),
            concat({idx_header(0x0C, {2}), {1, 2, 3, 4, 0xFF, 0xFF, 0xFF, 0xFE}}));
  write_idx(path, make_array<float>({1}, {1.0F}), false);
  EXPECT_EQ(read_bytes(path), concat({idx_header(0x0D, {1}), {0x3F, 0x80, 0, 0}}));
}

TEST(Idx, ParsesHandWrittenBigEndianBytes) {
  const Bytes i16 = concat({idx_header(0x0B, {3}), {0x01, 0x02, 0xFF, 0xFE, 0x80, 0x00}});
  const IdxArray a = parse_idx(i16, "i16");
  ASSERT_EQ(a.type, IdxType::Int16);
  EXPECT_EQ(a.dims, std::vector<int64_t>{3});
  EXPECT_EQ(a.data_as<int16_t>()[0], 0x0102);
  EXPECT_EQ(a.data_as<int16_t>()[1], -2);
  EXPECT_EQ(a.data_as<int16_t>()[2], -32768);

  // 1.0 and -2.0 as IEEE doubles, big-endian; dims 1x2.
  const Bytes f64 = concat(
      {idx_header(0x0E, {1, 2}), {0x3F, 0xF0, 0, 0, 0, 0, 0, 0, 0xC0, 0x00, 0, 0, 0, 0, 0, 0}});
  const IdxArray b = parse_idx(f64, "f64");
  EXPECT_EQ(b.dims, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(b.data_as<double>()[0], 1.0);
  EXPECT_EQ(b.data_as<double>()[1], -2.0);
}

TEST(Idx, DetectsGzipByMagicBytesNotByName) {
  const TempDir tmp;
  const IdxArray array = make_array<uint8_t>({4}, {1, 2, 3, 4});
  write_idx(tmp.file("compressed-without-suffix"), array, true);
  write_idx(tmp.file("plain-with-suffix.gz"), array, false);
  EXPECT_EQ(read_idx(tmp.file("compressed-without-suffix")).bytes, array.bytes);
  EXPECT_EQ(read_idx(tmp.file("plain-with-suffix.gz")).bytes, array.bytes);
}

TEST(Idx, RoundTripsAZeroSizedDimension) {
  const TempDir tmp;
  const IdxArray array = make_array<float>({0, 5}, {});
  for (const bool gz : {false, true}) {
    write_idx(tmp.file("empty"), array, gz);
    const IdxArray back = read_idx(tmp.file("empty"));
    EXPECT_EQ(back.dims, (std::vector<int64_t>{0, 5}));
    EXPECT_EQ(back.numel(), 0);
    EXPECT_TRUE(back.bytes.empty());
  }
}

TEST(Idx, ReadsConcatenatedGzipMembers) {
  // `cat a.gz b.gz` is a valid gzip file; gunzip reads it as one stream, and so do we.
  const TempDir tmp;
  write_bytes(tmp.file("two"), concat({gzip(idx_header(0x08, {3})), gzip({7, 8, 9})}));
  EXPECT_EQ(read_idx(tmp.file("two")).bytes, (Bytes{7, 8, 9}));
}

TEST(Idx, ReadsDataLargerThanTheFirstBufferStep) {
  // 65 MiB: past the reader's first 64 MiB step for gzip, so its buffer has to grow; the input
  // refills and the chunked writer run many times too. Mostly zeros, to compress fast.
  const TempDir tmp;
  std::vector<int32_t> values(size_t{65} << 18);
  for (size_t i = 0; i < values.size(); i += 4099) {
    values[i] = static_cast<int32_t>(i * 2654435761U);
  }
  values.back() = -7;
  const IdxArray array = make_array<int32_t>({65, 1 << 18}, values);
  for (const bool gz : {true, false}) {
    write_idx(tmp.file("big"), array, gz);
    const IdxArray back = read_idx(tmp.file("big"));
    EXPECT_EQ(back.dims, array.dims);
    EXPECT_TRUE(back.bytes == array.bytes) << (gz ? "gzip" : "plain");
  }
}

TEST(Idx, DataAsChecksTheElementTypeAndSize) {
  IdxArray array = make_array<int16_t>({2}, {1, 2});
  EXPECT_EQ(array.data_as<int16_t>()[1], 2);
  expect_contains(error_of([&] { (void)array.data_as<float>(); }), {"data_as", "int16", "float32"});
  array.bytes.pop_back();
  expect_contains(error_of([&] { (void)array.data_as<int16_t>(); }), {"data_as", "4", "3"});
}

TEST(Idx, RejectsABadMagicNumber) {
  const TempDir tmp;
  const std::string path = tmp.file("bad_magic");
  write_bytes(path, {0x01, 0x02, 0x08, 0x01, 0, 0, 0, 1, 5});
  expect_contains(error_of([&] { (void)read_idx(path); }),
                  {"read_idx: " + path + ": ", "bad magic", "0x01020801"});
}

TEST(Idx, RejectsAnUnknownElementType) {
  const Bytes bytes{0, 0, 0x0A, 1, 0, 0, 0, 1, 5};
  expect_contains(error_of([&] { (void)parse_idx(bytes, "mem"); }),
                  {"parse_idx: mem: ", "unknown element type 0x0a", "0x00000a01"});
}

TEST(Idx, RejectsZeroOrTooManyDimensions) {
  expect_contains(error_of([] {
                    (void)parse_idx(Bytes{0, 0, 8, 0}, "zero");
                  }),
                  {"zero", "0 dimensions", "expected 1 to 8"});
  Bytes nine = idx_header(0x08, {1, 1, 1, 1, 1, 1, 1, 1, 1});
  nine.push_back(3);
  expect_contains(error_of([&] { (void)parse_idx(nine, "nine"); }),
                  {"nine", "9 dimensions", "expected 1 to 8"});
}

TEST(Idx, RejectsATruncatedHeader) {
  const TempDir tmp;
  const std::string path = tmp.file("short_header");
  write_bytes(path, {0, 0, 8, 3, 0, 0, 0, 2});  // three dims announced, one present
  expect_contains(error_of([&] { (void)read_idx(path); }),
                  {path, "truncated header", "3 dimensions need a 16-byte header", "has 8 bytes"});
  write_bytes(path, gzip({0, 0, 8, 3, 0, 0, 0, 2}));
  expect_contains(error_of([&] { (void)read_idx(path); }),
                  {path, "truncated header", "decompressed data has 8 bytes"});
  write_bytes(path, {});
  expect_contains(error_of([&] { (void)read_idx(path); }),
                  {path, "truncated header", "has 0 bytes"});
  expect_contains(error_of([] {
                    (void)parse_idx(Bytes{0, 0}, "two");
                  }),
                  {"two", "truncated header", "has 2 bytes"});
}

TEST(Idx, RejectsTruncatedData) {
  const TempDir tmp;
  const Bytes bytes = concat({idx_header(0x0C, {2, 3}), Bytes(23, 0)});  // 24 bytes wanted
  const std::string path = tmp.file("short_data");
  write_bytes(path, bytes);
  const std::string message = error_of([&] { (void)read_idx(path); });
  expect_contains(message, {"read_idx: " + path, "truncated data", "2x3 int32", "24 bytes",
                            "offset 12", "only 23 bytes", "35 in all"});
  expect_contains(error_of([&] { (void)parse_idx(bytes, "mem"); }),
                  {"parse_idx: mem", "truncated data", "only 23 bytes"});
  write_bytes(path, gzip(bytes));  // a valid gzip stream with too little inside
  expect_contains(error_of([&] { (void)read_idx(path); }),
                  {path, "truncated data", "2x3 int32", "decompressed data has only 23 bytes"});
}

TEST(Idx, RejectsTrailingBytes) {
  const TempDir tmp;
  const Bytes bytes = concat({idx_header(0x08, {2, 2}), {1, 2, 3, 4, 5, 6}});
  const std::string path = tmp.file("trailing");
  write_bytes(path, bytes);
  expect_contains(error_of([&] { (void)read_idx(path); }),
                  {path, "2 trailing bytes", "2x2 uint8 = 4 bytes at offset 12", "has 18 bytes"});
  expect_contains(error_of([&] { (void)parse_idx(bytes, "mem"); }), {"mem", "2 trailing bytes"});
  write_bytes(path, gzip(bytes));
  expect_contains(error_of([&] { (void)read_idx(path); }),
                  {path, "2 trailing bytes", "decompressed data has 18 bytes"});
}

TEST(Idx, RejectsATruncatedGzipStream) {
  const TempDir tmp;
  const std::string path = tmp.file("cut.gz");
  std::vector<uint8_t> values(4096);
  for (size_t i = 0; i < values.size(); ++i) {
    values[i] = static_cast<uint8_t>(i * 7 % 251);
  }
  write_idx(path, make_array<uint8_t>({64, 64}, values), true);
  const Bytes whole = read_bytes(path);
  // Cut inside the deflate data, and cut only the 8-byte CRC/length trailer.
  for (const size_t keep : {whole.size() / 2, whole.size() - 8, whole.size() - 1}) {
    SCOPED_TRACE(keep);
    write_bytes(path, Bytes(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(keep)));
    expect_contains(error_of([&] { (void)read_idx(path); }),
                    {"read_idx: " + path, "truncated gzip stream", std::to_string(keep)});
  }
}

TEST(Idx, RejectsACorruptGzipStream) {
  const TempDir tmp;
  const std::string path = tmp.file("corrupt.gz");
  write_idx(path, make_array<uint8_t>({8}, {1, 2, 3, 4, 5, 6, 7, 8}), true);
  const Bytes whole = read_bytes(path);

  Bytes bad_block = whole;
  bad_block[10] = 0xFF;  // first deflate block header: BTYPE 11 is reserved
  write_bytes(path, bad_block);
  expect_contains(error_of([&] { (void)read_idx(path); }),
                  {path, "corrupt gzip stream", "invalid block type"});

  Bytes bad_crc = whole;
  bad_crc[bad_crc.size() - 8] ^= 0x01;  // the CRC-32 of the data
  write_bytes(path, bad_crc);
  expect_contains(error_of([&] { (void)read_idx(path); }),
                  {path, "corrupt gzip stream", "incorrect data check"});
}

TEST(Idx, RejectsGarbageAfterTheGzipStream) {
  const TempDir tmp;
  const std::string path = tmp.file("garbage.gz");
  write_bytes(path, concat({gzip(concat({idx_header(0x08, {1}), {9}})), {0, 0, 0}}));
  expect_contains(error_of([&] { (void)read_idx(path); }),
                  {path, "unexpected bytes after the end of the gzip stream"});
}

TEST(Idx, RejectsOverflowingDimsWithoutAllocating) {
  const TempDir tmp;
  const std::string path = tmp.file("overflow");
  const Bytes bytes = concat({idx_header(0x0E, {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}), {1, 2}});
  for (const bool gz : {false, true}) {
    write_bytes(path, gz ? gzip(bytes) : bytes);
    expect_contains(error_of([&] { (void)read_idx(path); }),
                    {path, "4294967295x4294967295x4294967295 float64", "overflow"});
  }
  // Just past 2^63 bytes: 2^31 x 2^29 x 8.
  expect_contains(error_of([] {
                    (void)parse_idx(idx_header(0x0E, {0x80000000U, 0x20000000U}), "edge");
                  }),
                  {"edge", "overflow"});
}

// Found while writing tests/fuzz/mnist_fuzzer.cpp, confirmed by it under UBSan (corpus
// crash-empty-images-huge-dims): an empty image file of dims 0x4294967295x4294967295 was accepted,
// and load_mnist_files' Tensor::empty then overflowed int64 computing its strides.
TEST(Idx, RejectsEmptyArraysWhoseOtherDimsOverflow) {
  expect_contains(error_of([] {
                    (void)parse_idx(idx_header(0x08, {0, 0xFFFFFFFF, 0xFFFFFFFF}), "empty");
                  }),
                  {"empty", "0x4294967295x4294967295 uint8", "nonzero dimensions"});
  // The product of the nonzero dims fits: a valid empty array.
  const IdxArray fits = parse_idx(idx_header(0x08, {0, 0xFFFFFFFF, 0x7FFFFFFF}), "fits");
  EXPECT_EQ(fits.numel(), 0);
}

TEST(Idx, RejectsHugeClaimsInTinyFilesWithoutAllocating) {
  // 2^32-1 x 2^16 float64s = 2 PiB: fits in 64 bits, so only the length checks stand between
  // this header and a huge allocation (which AddressSanitizer would also report).
  const TempDir tmp;
  const std::string path = tmp.file("huge");
  const Bytes bytes = concat({idx_header(0x0E, {0xFFFFFFFF, 0x10000}), Bytes(16, 0)});
  write_bytes(path, bytes);
  expect_contains(error_of([&] { (void)read_idx(path); }),
                  {path, "truncated data", "4294967295x65536 float64", "2251799813160960 bytes"});
  write_bytes(path, gzip(bytes));
  expect_contains(error_of([&] { (void)read_idx(path); }),
                  {path, "more than this gzip file can hold", "2251799813160960 bytes"});
}

TEST(Idx, RejectsAMissingFileOrADirectory) {
  const TempDir tmp;
  const std::string missing = tmp.file("does-not-exist");
  expect_contains(error_of([&] { (void)read_idx(missing); }),
                  {"read_idx: " + missing, "cannot open", "No such file"});
  expect_contains(error_of([&] { (void)read_idx(tmp.dir()); }),
                  {"read_idx: " + tmp.dir(), "is a directory"});
}

TEST(Idx, WriteRejectsInconsistentArraysAndUnwritablePaths) {
  const TempDir tmp;
  const std::string path = tmp.file("out");
  IdxArray short_bytes = make_array<int32_t>({2, 2}, {1, 2, 3});
  expect_contains(error_of([&] { write_idx(path, short_bytes, false); }),
                  {"write_idx: " + path, "2x2 int32 needs 16 bytes", "has 12"});
  IdxArray no_dims = make_array<uint8_t>({}, {1});
  expect_contains(error_of([&] { write_idx(path, no_dims, false); }), {"0 dimensions"});
  IdxArray wide = make_array<uint8_t>({int64_t{1} << 32}, {});
  expect_contains(error_of([&] { write_idx(path, wide, false); }),
                  {"dimension 4294967296", "outside"});
  EXPECT_FALSE(fs::exists(path));

  const std::string nowhere = tmp.file("no-such-dir/out");
  for (const bool gz : {false, true}) {
    expect_contains(error_of([&] { write_idx(nowhere, make_array<uint8_t>({1}, {1}), gz); }),
                    {"write_idx: " + nowhere, "cannot open for writing"});
  }
}

TEST(Idx, FindsMnistFilesUnderEitherSpelling) {
  const TempDir tmp;
  const IdxArray labels = make_array<uint8_t>({2}, {3, 4});
  write_idx(tmp.file("train-labels.idx1-ubyte.gz"), labels, true);
  EXPECT_EQ(find_mnist_file(tmp.dir(), "train-labels-idx1-ubyte"),
            tmp.file("train-labels.idx1-ubyte.gz"));
  // The exact stem wins over .gz, and .gz over the other spelling.
  write_idx(tmp.file("train-labels-idx1-ubyte.gz"), labels, true);
  EXPECT_EQ(find_mnist_file(tmp.dir(), "train-labels-idx1-ubyte"),
            tmp.file("train-labels-idx1-ubyte.gz"));
  write_idx(tmp.file("train-labels-idx1-ubyte"), labels, false);
  EXPECT_EQ(find_mnist_file(tmp.dir(), "train-labels-idx1-ubyte"),
            tmp.file("train-labels-idx1-ubyte"));
  // And the dotted stem finds the dashed file once its own spelling is gone.
  fs::remove(tmp.file("train-labels.idx1-ubyte.gz"));
  EXPECT_EQ(find_mnist_file(tmp.dir(), "train-labels.idx1-ubyte"),
            tmp.file("train-labels-idx1-ubyte"));
  EXPECT_EQ(read_idx(find_mnist_file(tmp.dir(), "train-labels-idx1-ubyte")).bytes, labels.bytes);
}

TEST(Idx, FindMnistFileListsWhatItTried) {
  const TempDir tmp;
  expect_contains(error_of([&] { (void)find_mnist_file(tmp.dir(), "t10k-images-idx3-ubyte"); }),
                  {"find_mnist_file", "t10k-images-idx3-ubyte", tmp.file("t10k-images-idx3-ubyte"),
                   tmp.file("t10k-images-idx3-ubyte.gz"), tmp.file("t10k-images.idx3-ubyte"),
                   tmp.file("t10k-images.idx3-ubyte.gz")});
  expect_contains(error_of([&] { (void)find_mnist_file(tmp.file("nope"), "x"); }),
                  {"no such directory"});
}

TEST(Idx, ReadsTheFashionMnistTestSet) {
  // Debian's dataset-fashion-mnist ships t10k-{images-idx3,labels-idx1}-ubyte.gz here.
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::is_directory(dir)) {
    GTEST_SKIP() << dir << " is absent (package dataset-fashion-mnist)";
  }

  const IdxArray labels = read_idx(find_mnist_file(dir, "t10k-labels-idx1-ubyte"));
  ASSERT_EQ(labels.type, IdxType::UInt8);
  ASSERT_EQ(labels.dims, std::vector<int64_t>{10000});
  std::array<int, 10> per_class{};
  const auto* label = labels.data_as<uint8_t>();
  for (int64_t i = 0; i < labels.numel(); ++i) {
    ASSERT_LT(label[i], 10) << "label " << i;
    ++per_class[label[i]];
  }
  for (const int count : per_class) {
    EXPECT_EQ(count, 1000);  // the test set is balanced
  }

  const IdxArray images = read_idx(find_mnist_file(dir, "t10k-images-idx3-ubyte"));
  ASSERT_EQ(images.type, IdxType::UInt8);
  ASSERT_EQ(images.dims, (std::vector<int64_t>{10000, 28, 28}));
  ASSERT_EQ(images.bytes.size(), size_t{10000} * 28 * 28);
  const auto [lo, hi] = std::minmax_element(images.bytes.begin(), images.bytes.end());
  EXPECT_EQ(*lo, 0);
  EXPECT_EQ(*hi, 255);
}

}  // namespace
}  // namespace nabla::data
