// Refcounted, 64-byte aligned tensor memory from a caching allocator, shared by views.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace nabla {

class Storage {
 public:
  // Uninitialized bytes from the cache (or the OS on a miss).
  static std::shared_ptr<Storage> allocate(size_t nbytes);

  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  ~Storage();

  [[nodiscard]] void* data() const { return data_; }
  [[nodiscard]] size_t nbytes() const { return nbytes_; }

  // Bumped by every in-place write; shared by all views, so autograd can detect that a saved
  // tensor was modified after it was saved.
  [[nodiscard]] uint64_t version() const { return version_; }
  void bump_version() { ++version_; }

 private:
  Storage(void* data, size_t nbytes, size_t capacity)
      : data_(data), nbytes_(nbytes), capacity_(capacity) {}

  void* data_;
  size_t nbytes_;
  size_t capacity_;
  uint64_t version_ = 0;
};

struct AllocatorStats {
  uint64_t os_allocations = 0;  // cache misses that went to the OS
  uint64_t cache_hits = 0;
  size_t cached_bytes = 0;  // free blocks held for reuse
};

AllocatorStats allocator_stats();
// Returns every cached free block to the OS.
void empty_allocator_cache();

}  // namespace nabla
