// TensorImpl bookkeeping and the Tensor members that only read metadata or elements.
#include "tensor/tensor.h"

#include <algorithm>
#include <new>

#include "tensor/kernels/kernels.h"

namespace nabla {
namespace {
std::atomic<int64_t> live_impls{0};
}  // namespace

TensorImpl::TensorImpl(std::shared_ptr<Storage> storage_in, Shape shape_in, Shape strides_in,
                       int64_t offset_in, DType dtype_in)
    : storage(std::move(storage_in)),
      shape(std::move(shape_in)),
      strides(std::move(strides_in)),
      offset(offset_in),
      dtype(dtype_in) {
  live_impls.fetch_add(1, std::memory_order_relaxed);
}

TensorImpl::~TensorImpl() { live_impls.fetch_sub(1, std::memory_order_relaxed); }

int64_t TensorImpl::live_count() { return live_impls.load(std::memory_order_relaxed); }

TensorImpl& Tensor::impl() const {
  if (!impl_) throw error("Tensor: use of an undefined tensor");
  return *impl_;
}

Tensor Tensor::empty(const Shape& shape, DType dtype) {
  check_shape("empty", shape);
  const int64_t numel = shape_numel(shape);
  int64_t nbytes = 0;
  if (__builtin_mul_overflow(numel, static_cast<int64_t>(dtype_size(dtype)), &nbytes)) {
    throw error("empty: shape {} is too large to allocate", shape_str(shape));
  }
  std::shared_ptr<Storage> storage;
  try {
    storage = Storage::allocate(static_cast<size_t>(nbytes));
  } catch (const std::bad_alloc&) {
    throw error("empty: cannot allocate {} bytes for shape {} ({})", nbytes, shape_str(shape),
                dtype_name(dtype));
  }
  return Tensor(
      std::make_shared<TensorImpl>(std::move(storage), shape, contiguous_strides(shape), 0, dtype));
}

Tensor Tensor::make_view(const Tensor& base, Shape shape, Shape strides, int64_t offset) {
  // Bounds: the lowest and highest element the view can touch must lie inside the storage.
  int64_t lowest = offset;
  int64_t highest = offset;
  bool empty_view = false;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 0) empty_view = true;
    const int64_t reach = (shape[d] - 1) * strides[d];
    if (reach < 0) {
      lowest += reach;
    } else {
      highest += reach;
    }
  }
  const auto capacity = static_cast<int64_t>(base.storage()->nbytes() / dtype_size(base.dtype()));
  if (!empty_view && (lowest < 0 || highest >= capacity)) {
    throw error("view: shape {} with strides {} and offset {} exceeds a storage of {} elements",
                shape_str(shape), shape_str(strides), offset, capacity);
  }
  return Tensor(std::make_shared<TensorImpl>(base.storage(), std::move(shape), std::move(strides),
                                             offset, base.dtype()));
}

int64_t Tensor::size(int64_t dim) const {
  return impl().shape[static_cast<size_t>(normalize_dim("size", dim, this->dim()))];
}

int64_t Tensor::numel() const { return shape_numel(impl().shape); }

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  const auto& sh = impl().shape;
  const auto& st = impl().strides;
  // An empty tensor has no elements to be out of order (as in PyTorch); its strides are arbitrary.
  if (std::find(sh.begin(), sh.end(), int64_t{0}) != sh.end()) return true;
  for (size_t i = sh.size(); i-- > 0;) {
    if (sh[i] == 1) continue;
    if (st[i] != expected) return false;
    expected *= sh[i];
  }
  return true;
}

void* Tensor::raw_data() const {
  return static_cast<char*>(impl().storage->data()) +
         impl().offset * static_cast<int64_t>(dtype_size(impl().dtype));
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  const Tensor flat = kernels::contiguous(*this);
  std::vector<T> out(static_cast<size_t>(flat.numel()));
  visit_dtype(flat.dtype(), [&](auto tag) {
    using Source = decltype(tag);
    const Source* data = flat.data_ptr<Source>();
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<T>(data[i]);
  });
  return out;
}

template <typename T>
T Tensor::item() const {
  if (numel() != 1) {
    throw error("item: tensor of shape {} has {} elements, expected exactly one",
                shape_str(shape()), numel());
  }
  return visit_dtype(dtype(), [&](auto tag) {
    using Source = decltype(tag);
    return static_cast<T>(*data_ptr<Source>());
  });
}

template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;
template float Tensor::item<float>() const;
template double Tensor::item<double>() const;
template int64_t Tensor::item<int64_t>() const;

}  // namespace nabla
