// Shapes and strides as int64 vectors, and the shape arithmetic every op needs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nabla {

using Shape = std::vector<int64_t>;

// "[2, 3]": the spelling used in every error message (also for an index or a list of dims).
std::string shape_str(const Shape& shape);

// Product of the extents; throws on negative extents or int64 overflow.
int64_t shape_numel(const Shape& shape);

// Row-major strides, in elements.
Shape contiguous_strides(const Shape& shape);

// NumPy broadcasting of two shapes; throws "<op>: shapes [..] and [..] cannot be broadcast".
Shape broadcast_shapes(std::string_view op, const Shape& a, const Shape& b);

// Maps a possibly negative dim into [0, ndim); throws naming the op when out of range.
int64_t normalize_dim(std::string_view op, int64_t dim, int64_t ndim);

// Normalizes, sorts and de-duplicates dims (an empty list means every dim).
std::vector<int64_t> normalize_dims(std::string_view op, const std::vector<int64_t>& dims,
                                    int64_t ndim);

// Checks extents are non-negative (a failed check names the op).
void check_shape(std::string_view op, const Shape& shape);

// a * b and a + b for shape and index arithmetic on user-given sizes: an int64 overflow throws
// "<op>: integer overflow in <what> (a * b)" instead of wrapping (undefined behaviour).
int64_t checked_mul(std::string_view op, std::string_view what, int64_t a, int64_t b);
int64_t checked_add(std::string_view op, std::string_view what, int64_t a, int64_t b);

}  // namespace nabla
