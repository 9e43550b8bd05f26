// Caching allocator: a training step asks for the same sizes every iteration, so freed blocks are
// kept in per-size free lists instead of going back to the OS (fresh pages cost a fault each).
#include "tensor/storage.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <vector>

namespace nabla {
namespace {

constexpr size_t kAlignment = 64;
constexpr size_t kCacheLimitBytes = size_t{2} << 30;

// Rounds up so that near-equal requests share a free list: 64 bytes below 4 KiB, 512 below
// 1 MiB, then to 1/8th of the next power of two (at most 12.5% waste).
size_t round_capacity(size_t nbytes) {
  if (nbytes == 0) return kAlignment;
  if (nbytes < 4096) return (nbytes + kAlignment - 1) & ~(kAlignment - 1);
  if (nbytes < (size_t{1} << 20)) return (nbytes + 511) & ~size_t{511};
  size_t power = size_t{1} << 20;
  while (power < nbytes) power <<= 1;
  const size_t step = power / 8;
  return (nbytes + step - 1) / step * step;
}

class CachingAllocator {
 public:
  void* take(size_t capacity) {
    {
      const std::lock_guard lock(mutex_);
      auto it = free_.find(capacity);
      if (it != free_.end() && !it->second.empty()) {
        void* block = it->second.back();
        it->second.pop_back();
        stats_.cached_bytes -= capacity;
        ++stats_.cache_hits;
        return block;
      }
      ++stats_.os_allocations;
    }
    void* block = std::aligned_alloc(kAlignment, capacity);
    if (block == nullptr) {
      release_all();
      block = std::aligned_alloc(kAlignment, capacity);
      if (block == nullptr) throw std::bad_alloc();
    }
    return block;
  }

  void give_back(void* block, size_t capacity) {
    {
      const std::lock_guard lock(mutex_);
      if (stats_.cached_bytes + capacity <= kCacheLimitBytes) {
        free_[capacity].push_back(block);
        stats_.cached_bytes += capacity;
        return;
      }
    }
    std::free(block);
  }

  void release_all() {
    const std::lock_guard lock(mutex_);
    for (auto& [capacity, blocks] : free_) {
      for (void* block : blocks) std::free(block);
    }
    free_.clear();
    stats_.cached_bytes = 0;
  }

  AllocatorStats stats() {
    const std::lock_guard lock(mutex_);
    return stats_;
  }

  ~CachingAllocator() { release_all(); }

 private:
  std::mutex mutex_;
  std::map<size_t, std::vector<void*>> free_;
  AllocatorStats stats_;
};

CachingAllocator& allocator() {
  // Leaked on purpose: tensors in static objects may be destroyed after it would be.
  static auto* instance = new CachingAllocator();
  return *instance;
}

}  // namespace

std::shared_ptr<Storage> Storage::allocate(size_t nbytes) {
  const size_t capacity = round_capacity(nbytes);
  void* data = allocator().take(capacity);
  return std::shared_ptr<Storage>(new Storage(data, nbytes, capacity));
}

Storage::~Storage() { allocator().give_back(data_, capacity_); }

AllocatorStats allocator_stats() { return allocator().stats(); }
void empty_allocator_cache() { allocator().release_all(); }

}  // namespace nabla
