// libFuzzer target for the IDX reader: parse_idx on the input bytes, and read_idx on them as a
// file when they start like gzip (the inflate path). Bad input must throw nabla::Error; a
// returned array must hold exactly the bytes its dims and type promise.
#include <cstddef>
#include <cstdint>
#include <span>

#include "data/idx.h"
#include "fuzz_support.h"

namespace {

void check_array(const nabla::data::IdxArray& array) {
  NABLA_FUZZ_CHECK(!array.dims.empty() &&
                   array.dims.size() <= static_cast<size_t>(nabla::data::kIdxMaxDims));
  NABLA_FUZZ_CHECK(static_cast<uint64_t>(array.numel() * array.element_size()) ==
                   array.bytes.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using nabla::data::IdxArray;
  const std::span<const uint8_t> bytes(data, size);
  IdxArray parsed;
  const bool parsed_ok =
      nabla_fuzz::accepts([&] { parsed = nabla::data::parse_idx(bytes, "fuzz input"); });
  if (parsed_ok) check_array(parsed);

  const bool gzip = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
  if (gzip || parsed_ok) {
    const std::string path = nabla_fuzz::scratch().write("input.idx", data, size);
    IdxArray read;
    const bool read_ok = nabla_fuzz::accepts([&] { read = nabla::data::read_idx(path); });
    if (read_ok) check_array(read);
    // A plain file reads exactly as the same bytes parse.
    if (!gzip) {
      NABLA_FUZZ_CHECK(read_ok);
      NABLA_FUZZ_CHECK(read.type == parsed.type && read.dims == parsed.dims &&
                       read.bytes == parsed.bytes);
    }
  }
  return 0;
}
