// Views (no copies), copies, concatenation: the geometry side of the raw tensor library.
#include <algorithm>
#include <numeric>
#include <utility>

#include "tensor/kernels/kernels.h"
#include "tensor/kernels/loops.h"

namespace nabla::kernels {

Shape infer_shape(std::string_view op, const Shape& shape, int64_t numel) {
  Shape out = shape;
  int64_t known = 1;
  std::optional<size_t> wildcard;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      if (wildcard) throw error("{}: only one dimension can be -1, got {}", op, shape_str(shape));
      wildcard = i;
    } else if (out[i] < 0) {
      throw error("{}: invalid extent {} in shape {}", op, out[i], shape_str(shape));
    } else {
      known *= out[i];
    }
  }
  if (wildcard) {
    if (known == 0 || numel % known != 0) {
      throw error("{}: shape {} is invalid for {} elements", op, shape_str(shape), numel);
    }
    out[*wildcard] = numel / known;
  } else if (known != numel) {
    throw error("{}: shape {} is invalid for {} elements", op, shape_str(shape), numel);
  }
  return out;
}

std::optional<Tensor> view_if_possible(const Tensor& t, const Shape& shape) {
  const Shape target = infer_shape("view", shape, t.numel());
  if (t.is_contiguous()) {
    return Tensor::make_view(t, target, contiguous_strides(target), t.storage_offset());
  }
  // Split/merge dims inside runs of the old shape that are contiguous among themselves
  // (the stride computation PyTorch calls computeStride).
  const Shape& old_shape = t.shape();
  const Shape& old_strides = t.strides();
  Shape new_strides(target.size());
  if (t.numel() == 0) return Tensor::make_view(t, target, contiguous_strides(target), 0);
  int64_t view_d = static_cast<int64_t>(target.size()) - 1;
  int64_t chunk_base_stride = old_strides.empty() ? 1 : old_strides.back();
  int64_t tensor_numel = 1;
  int64_t view_numel = 1;
  for (int64_t tensor_d = static_cast<int64_t>(old_shape.size()) - 1; tensor_d >= 0; --tensor_d) {
    const auto td = static_cast<size_t>(tensor_d);
    tensor_numel *= old_shape[td];
    if (tensor_d == 0 ||
        (old_shape[td - 1] != 1 && old_strides[td - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 &&
             (view_numel < tensor_numel || target[static_cast<size_t>(view_d)] == 1)) {
        new_strides[static_cast<size_t>(view_d)] = view_numel * chunk_base_stride;
        view_numel *= target[static_cast<size_t>(view_d)];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (tensor_d > 0) {
        chunk_base_stride = old_strides[td - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return Tensor::make_view(t, target, new_strides, t.storage_offset());
}

Tensor view(const Tensor& t, const Shape& shape) {
  auto result = view_if_possible(t, shape);
  if (!result) {
    throw error(
        "view: shape {} is not compatible with the strides {} of a tensor of shape {} "
        "(use reshape, which copies)",
        shape_str(shape), shape_str(t.strides()), shape_str(t.shape()));
  }
  return *result;
}

Tensor reshape(const Tensor& t, const Shape& shape) {
  const Shape target = infer_shape("reshape", shape, t.numel());
  if (auto result = view_if_possible(t, target)) return *result;
  return view(contiguous(t), target);
}

Tensor transpose(const Tensor& t, int64_t dim0, int64_t dim1) {
  const auto d0 = static_cast<size_t>(normalize_dim("transpose", dim0, t.dim()));
  const auto d1 = static_cast<size_t>(normalize_dim("transpose", dim1, t.dim()));
  Shape shape = t.shape();
  Shape strides = t.strides();
  if (t.dim() == 0) return Tensor::make_view(t, shape, strides, t.storage_offset());
  std::swap(shape[d0], shape[d1]);
  std::swap(strides[d0], strides[d1]);
  return Tensor::make_view(t, shape, strides, t.storage_offset());
}

Tensor permute(const Tensor& t, const std::vector<int64_t>& dims) {
  if (static_cast<int64_t>(dims.size()) != t.dim()) {
    throw error("permute: {} dims given for a tensor of shape {}", dims.size(),
                shape_str(t.shape()));
  }
  Shape shape(dims.size());
  Shape strides(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (size_t i = 0; i < dims.size(); ++i) {
    const auto d = static_cast<size_t>(normalize_dim("permute", dims[i], t.dim()));
    if (seen[d]) {
      throw error("permute: dim {} appears more than once in {}", dims[i], shape_str(dims));
    }
    seen[d] = true;
    shape[i] = t.shape()[d];
    strides[i] = t.strides()[d];
  }
  return Tensor::make_view(t, shape, strides, t.storage_offset());
}

Tensor squeeze(const Tensor& t, std::optional<int64_t> dim) {
  Shape shape;
  Shape strides;
  std::optional<int64_t> only;
  if (dim) only = normalize_dim("squeeze", *dim, t.dim());
  for (int64_t d = 0; d < t.dim(); ++d) {
    const auto du = static_cast<size_t>(d);
    const bool drop = t.shape()[du] == 1 && (!only || *only == d);
    if (!drop) {
      shape.push_back(t.shape()[du]);
      strides.push_back(t.strides()[du]);
    }
  }
  return Tensor::make_view(t, shape, strides, t.storage_offset());
}

Tensor unsqueeze(const Tensor& t, int64_t dim) {
  const int64_t d = normalize_dim("unsqueeze", dim, t.dim() + 1);
  Shape shape = t.shape();
  Shape strides = t.strides();
  const auto du = static_cast<size_t>(d);
  const int64_t stride = du < shape.size() ? shape[du] * strides[du] : 1;
  shape.insert(shape.begin() + d, 1);
  strides.insert(strides.begin() + d, stride);
  return Tensor::make_view(t, shape, strides, t.storage_offset());
}

Shape broadcast_strides(std::string_view op, const Tensor& t, const Shape& shape) {
  const size_t ndim = shape.size();
  if (static_cast<size_t>(t.dim()) > ndim) {
    throw error("{}: shape {} cannot be broadcast to {}", op, shape_str(t.shape()),
                shape_str(shape));
  }
  Shape strides(ndim, 0);
  const size_t lead = ndim - static_cast<size_t>(t.dim());
  for (size_t i = 0; i < static_cast<size_t>(t.dim()); ++i) {
    const int64_t extent = t.shape()[i];
    if (extent == shape[lead + i]) {
      strides[lead + i] = t.strides()[i];
    } else if (extent != 1) {
      throw error("{}: shape {} cannot be broadcast to {}", op, shape_str(t.shape()),
                  shape_str(shape));
    }
  }
  return strides;
}

Tensor expand(const Tensor& t, const Shape& shape) {
  Shape target = shape;
  const size_t lead = target.size() - std::min(target.size(), static_cast<size_t>(t.dim()));
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == -1) {
      if (i < lead) throw error("expand: -1 is not allowed for the new leading dim {}", i);
      target[i] = t.shape()[i - lead];
    }
  }
  check_shape("expand", target);
  return Tensor::make_view(t, target, broadcast_strides("expand", t, target), t.storage_offset());
}

Tensor slice(const Tensor& t, int64_t dim, std::optional<int64_t> start,
             std::optional<int64_t> stop, int64_t step) {
  if (t.dim() == 0) throw error("slice: cannot slice a 0-d tensor");
  const auto d = static_cast<size_t>(normalize_dim("slice", dim, t.dim()));
  if (step <= 0) throw error("slice: step must be positive, got {}", step);
  const int64_t extent = t.shape()[d];
  auto clamp_index = [extent](int64_t index) {
    if (index < 0) index += extent;
    return std::clamp<int64_t>(index, 0, extent);
  };
  const int64_t begin = clamp_index(start.value_or(0));
  const int64_t end = std::max(begin, clamp_index(stop.value_or(extent)));
  Shape shape = t.shape();
  Shape strides = t.strides();
  // NOTE: written so that no step or bound near INT64_MAX can overflow.
  shape[d] = end == begin ? 0 : (end - begin - 1) / step + 1;
  if (shape[d] > 1) strides[d] = checked_mul("slice", "the stride", strides[d], step);
  const int64_t offset = t.storage_offset() + (shape[d] > 0 ? begin * t.strides()[d] : 0);
  return Tensor::make_view(t, shape, strides, offset);
}

Tensor select(const Tensor& t, int64_t dim, int64_t index) {
  if (t.dim() == 0) throw error("select: cannot index a 0-d tensor");
  const auto d = static_cast<size_t>(normalize_dim("select", dim, t.dim()));
  const int64_t extent = t.shape()[d];
  if (index < -extent || index >= extent) {
    throw error("select: index {} is out of range for dim {} of size {} (shape {})", index, dim,
                extent, shape_str(t.shape()));
  }
  if (index < 0) index += extent;
  Shape shape = t.shape();
  Shape strides = t.strides();
  const int64_t offset = t.storage_offset() + index * strides[d];
  shape.erase(shape.begin() + static_cast<int64_t>(d));
  strides.erase(strides.begin() + static_cast<int64_t>(d));
  return Tensor::make_view(t, shape, strides, offset);
}

namespace {

template <typename Dst, typename Src>
void copy_loop(const Tensor& dst, const Tensor& src_broadcast, const Shape& src_strides) {
  const auto it = detail::coalesce<2>(dst.shape(), {dst.strides(), src_strides});
  Dst* out = dst.data_ptr<Dst>();
  const Src* in = src_broadcast.data_ptr<Src>();
  detail::for_each_row(it, [out, in](const std::array<int64_t, 2>& off, int64_t n,
                                     const std::array<int64_t, 2>& st) {
    Dst* o = out + off[0];
    const Src* s = in + off[1];
    if (st[0] == 1 && st[1] == 1) {
      for (int64_t i = 0; i < n; ++i) o[i] = static_cast<Dst>(s[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) o[i * st[0]] = static_cast<Dst>(s[i * st[1]]);
    }
  });
}

}  // namespace

void check_no_internal_overlap(std::string_view op, const Tensor& t) {
  if (t.numel() == 0) return;
  // Sorted by stride, each dim must step past everything the smaller dims span; nabla's views
  // (slice, transpose, select, reshape) always do, expand's stride 0 does not.
  std::vector<std::pair<int64_t, int64_t>> dims;  // (stride, extent)
  for (int64_t d = 0; d < t.dim(); ++d) {
    const int64_t extent = t.shape()[static_cast<size_t>(d)];
    if (extent > 1) dims.emplace_back(t.strides()[static_cast<size_t>(d)], extent);
  }
  std::sort(dims.begin(), dims.end());
  int64_t span = 0;
  for (const auto& [stride, extent] : dims) {
    if (stride <= span) {
      throw error(
          "{}_: more than one element of the written-to tensor (shape {}, strides {}) refers to a "
          "single memory location; clone() it before writing",
          op, shape_str(t.shape()), shape_str(t.strides()));
    }
    span += stride * (extent - 1);
  }
}

void copy_(const Tensor& dst, const Tensor& source) {
  check_no_internal_overlap("copy", dst);
  broadcast_strides("copy_", source, dst.shape());
  // Overlap (e.g. x.copy_(x.t())) would read already-written elements: copy through a buffer.
  const Tensor src = source.storage() == dst.storage() ? clone(source) : source;
  const Shape strides = broadcast_strides("copy_", src, dst.shape());
  visit_dtype(dst.dtype(), [&](auto dst_tag) {
    visit_dtype(src.dtype(), [&](auto src_tag) {
      copy_loop<decltype(dst_tag), decltype(src_tag)>(dst, src, strides);
    });
  });
  dst.bump_version();
}

void fill_(const Tensor& dst, double value) {
  visit_dtype(dst.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const auto typed = static_cast<T>(value);
    const auto it = detail::coalesce<1>(dst.shape(), {dst.strides()});
    T* out = dst.data_ptr<T>();
    detail::for_each_row(it, [out, typed](const std::array<int64_t, 1>& off, int64_t n,
                                          const std::array<int64_t, 1>& st) {
      for (int64_t i = 0; i < n; ++i) out[off[0] + i * st[0]] = typed;
    });
  });
  dst.bump_version();
}

Tensor contiguous(const Tensor& t) { return t.is_contiguous() ? t : clone(t); }

Tensor clone(const Tensor& t) {
  Tensor out = Tensor::empty(t.shape(), t.dtype());
  copy_(out, t);
  return out;
}

Tensor to_dtype(const Tensor& t, DType dtype) {
  if (t.dtype() == dtype) return t;
  Tensor out = Tensor::empty(t.shape(), dtype);
  copy_(out, t);
  return out;
}

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  if (tensors.empty()) throw error("cat: expected a non-empty list of tensors");
  const Tensor& first = tensors.front();
  if (first.dim() == 0) throw error("cat: 0-d tensors cannot be concatenated (use stack)");
  const auto d = static_cast<size_t>(normalize_dim("cat", dim, first.dim()));
  Shape shape = first.shape();
  DType dtype = first.dtype();
  shape[d] = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    bool compatible = t.dim() == first.dim();
    for (size_t k = 0; compatible && k < shape.size(); ++k) {
      if (k != d && t.shape()[k] != first.shape()[k]) compatible = false;
    }
    if (!compatible) {
      throw error(
          "cat: tensor {} has shape {}, incompatible with shape {} of tensor 0 along dim {}", i,
          shape_str(t.shape()), shape_str(first.shape()), dim);
    }
    shape[d] += t.shape()[d];
    dtype = promote_types(dtype, t.dtype());
  }
  Tensor out = Tensor::empty(shape, dtype);
  int64_t offset = 0;
  for (const Tensor& t : tensors) {
    const int64_t extent = t.shape()[d];
    copy_(slice(out, static_cast<int64_t>(d), offset, offset + extent, 1), t);
    offset += extent;
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  if (tensors.empty()) throw error("stack: expected a non-empty list of tensors");
  const int64_t d = normalize_dim("stack", dim, tensors.front().dim() + 1);
  std::vector<Tensor> expanded;
  expanded.reserve(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (tensors[i].shape() != tensors.front().shape()) {
      throw error("stack: tensor {} has shape {}, tensor 0 has {}", i,
                  shape_str(tensors[i].shape()), shape_str(tensors.front().shape()));
    }
    expanded.push_back(unsqueeze(tensors[i], d));
  }
  return cat(expanded, d);
}

}  // namespace nabla::kernels
