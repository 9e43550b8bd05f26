// Element types and the one place that dispatches on them (visit_dtype).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace nabla {

enum class DType : uint8_t { Float32, Float64, Int64 };

inline constexpr DType kFloat32 = DType::Float32;
inline constexpr DType kFloat64 = DType::Float64;
inline constexpr DType kInt64 = DType::Int64;

constexpr std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int64: return "int64";
  }
  return "?";
}

constexpr size_t dtype_size(DType dtype) { return dtype == DType::Float32 ? 4 : 8; }
constexpr bool is_floating(DType dtype) { return dtype != DType::Int64; }

// NumPy/PyTorch promotion restricted to our three types: float64 > float32 > int64.
constexpr DType promote_types(DType a, DType b) {
  if (a == DType::Float64 || b == DType::Float64) return DType::Float64;
  if (a == DType::Float32 || b == DType::Float32) return DType::Float32;
  return DType::Int64;
}

template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::Float32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::Float64;
}
template <>
constexpr DType dtype_of<int64_t>() {
  return DType::Int64;
}

// Calls fn(T{}) with T the C++ type of `dtype`; the generic lambda recovers T via decltype.
template <typename Fn>
decltype(auto) visit_dtype(DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::Float32: return fn(float{});
    case DType::Float64: return fn(double{});
    case DType::Int64: break;
  }
  return fn(int64_t{});
}

// Like visit_dtype, for kernels defined only on floating types; int64 is a caller's error.
template <typename Fn>
decltype(auto) visit_floating(DType dtype, Fn&& fn) {
  if (dtype == DType::Float64) return fn(double{});
  return fn(float{});
}

}  // namespace nabla
