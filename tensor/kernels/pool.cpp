// Max and average pooling on NCHW buffers: direct loops over each (n, c) plane, planes spread
// over threads only when the call is large.
#include "tensor/kernels/pool.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

#include "tensor/kernels/kernels.h"

namespace nabla::kernels {
namespace {

// Below this much work (window elements visited) a call runs on the calling thread.
constexpr int64_t kParallelWork = int64_t{1} << 16;

// Clipped window [h0, h1) x [w0, w1) of output (oh, ow); empty if it lies entirely in padding.
struct Window {
  int64_t h0, h1, w0, w1;
};
Window window_at(const Pool2dGeometry& g, int64_t oh, int64_t ow) {
  const int64_t h_start = oh * g.stride_h - g.pad_top;
  const int64_t w_start = ow * g.stride_w - g.pad_left;
  const int64_t h0 = std::max<int64_t>(h_start, 0);
  const int64_t w0 = std::max<int64_t>(w_start, 0);
  return {h0, std::max(h0, std::min(h_start + g.kernel_h, g.in_h)), w0,
          std::max(w0, std::min(w_start + g.kernel_w, g.in_w))};
}

using detail::valid_range;
using detail::ValidRange;

// Index of the first NaN of the window in row-major order, or -1 if it holds none.
template <typename T>
int64_t first_nan(const T* plane, int64_t in_w, const Window& win) {
  for (int64_t h = win.h0; h < win.h1; ++h) {
    for (int64_t w = win.w0; w < win.w1; ++w) {
      if (std::isnan(plane[h * in_w + w])) {
        return h * in_w + w;
      }
    }
  }
  return -1;
}

void check_geometry(const Pool2dGeometry& g) {
  assert(g.batch >= 0 && g.channels >= 0 && g.in_h >= 0 && g.in_w >= 0);
  assert(g.kernel_h >= 1 && g.kernel_w >= 1 && g.stride_h >= 1 && g.stride_w >= 1);
  assert(g.pad_top >= 0 && g.pad_left >= 0 && g.out_h >= 0 && g.out_w >= 0);
  static_cast<void>(g);
}

// Runs body(plane) over all N*C planes; each plane is independent, so the result does not
// depend on how planes are spread over threads.
template <typename Body>
void for_each_plane(const Pool2dGeometry& g, int64_t work_per_plane, const Body& body) {
  const int64_t planes = g.batch * g.channels;
  if (planes > 1 && planes * work_per_plane >= kParallelWork) {
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < planes; ++p) {
      body(p);
    }
  } else {
    for (int64_t p = 0; p < planes; ++p) {
      body(p);
    }
  }
}

// NOTE: works on a whole output row at once, looping (window row, window column, output column)
// innermost over the columns: each window's running maximum is a serial dependency chain of
// compare latencies, and interleaving the independent windows of a row hides part of it.
template <typename T>
void max_forward_impl(const Pool2dGeometry& g, const T* input, T* output, int64_t* argmax) {
  check_geometry(g);
  const int64_t in_plane = g.in_h * g.in_w;
  const int64_t out_plane = g.out_h * g.out_w;
  for_each_plane(g, out_plane * g.kernel_h * g.kernel_w, [&](int64_t p) {
    // A local copy: stores through argmax (int64_t) could alias g's fields and force reloads.
    const Pool2dGeometry geo = g;
    const T* in = input + p * in_plane;
    for (int64_t oh = 0; oh < geo.out_h; ++oh) {
      T* out = output + p * out_plane + oh * geo.out_w;
      int64_t* arg = argmax + p * out_plane + oh * geo.out_w;
      std::fill(out, out + geo.out_w, -std::numeric_limits<T>::infinity());
      std::fill(arg, arg + geo.out_w, int64_t{-1});
      const int64_t h_start = oh * geo.stride_h - geo.pad_top;
      const int64_t h_end = std::min(h_start + geo.kernel_h, geo.in_h);
      bool has_nan = false;
      // Visiting (h, kw) in order walks every window in row-major order, so strict '>' keeps
      // the first of equal maxima; arg < 0 takes a window's first element whatever its value
      // (an all -inf window still has an argmax). NaN never compares greater: it is only
      // flagged here and the rare NaN row is patched below. Selects, not branches: on real
      // data the comparison is a coin flip.
      for (int64_t h = std::max<int64_t>(h_start, 0); h < h_end; ++h) {
        for (int64_t kw = 0; kw < geo.kernel_w; ++kw) {
          const int64_t offset = h * geo.in_w + kw - geo.pad_left;
          const ValidRange cols = valid_range(kw - geo.pad_left, geo.stride_w, geo.in_w, geo.out_w);
          for (int64_t ow = cols.lo; ow < cols.hi; ++ow) {
            const int64_t index = ow * geo.stride_w + offset;
            const T value = in[index];
            has_nan |= std::isnan(value);
            const bool take = value > out[ow] || arg[ow] < 0;
            out[ow] = take ? value : out[ow];
            arg[ow] = take ? index : arg[ow];
          }
        }
      }
      if (has_nan) {
        for (int64_t ow = 0; ow < geo.out_w; ++ow) {
          const int64_t index = first_nan(in, geo.in_w, window_at(geo, oh, ow));
          if (index >= 0) {
            out[ow] = in[index];
            arg[ow] = index;
          }
        }
      }
    }
  });
}

template <typename T>
void max_backward_impl(const Pool2dGeometry& g, const T* grad_output, const int64_t* argmax,
                       T* grad_input) {
  check_geometry(g);
  const int64_t in_plane = g.in_h * g.in_w;
  const int64_t out_plane = g.out_h * g.out_w;
  for_each_plane(g, in_plane + out_plane, [&](int64_t p) {
    const T* grad_out = grad_output + p * out_plane;
    const int64_t* arg = argmax + p * out_plane;
    T* grad_in = grad_input + p * in_plane;
    std::fill(grad_in, grad_in + in_plane, T(0));
    for (int64_t i = 0; i < out_plane; ++i) {
      if (arg[i] >= 0) {
        assert(arg[i] < in_plane);
        grad_in[arg[i]] += grad_out[i];
      }
    }
  });
}

// Row at a time for the same reason as the max: independent window sums interleave.
template <typename T>
void avg_forward_impl(const Pool2dGeometry& g, const T* input, T* output) {
  check_geometry(g);
  const int64_t in_plane = g.in_h * g.in_w;
  const int64_t out_plane = g.out_h * g.out_w;
  for_each_plane(g, out_plane * g.kernel_h * g.kernel_w, [&](int64_t p) {
    const Pool2dGeometry geo = g;
    const T* in = input + p * in_plane;
    for (int64_t oh = 0; oh < geo.out_h; ++oh) {
      T* out = output + p * out_plane + oh * geo.out_w;
      std::fill(out, out + geo.out_w, T(0));
      const int64_t h_start = oh * geo.stride_h - geo.pad_top;
      const int64_t h_begin = std::max<int64_t>(h_start, 0);
      const int64_t h_end = std::min(h_start + geo.kernel_h, geo.in_h);
      // Each window is summed in row-major order, as a per-window loop would.
      for (int64_t h = h_begin; h < h_end; ++h) {
        for (int64_t kw = 0; kw < geo.kernel_w; ++kw) {
          const int64_t offset = h * geo.in_w + kw - geo.pad_left;
          const ValidRange cols = valid_range(kw - geo.pad_left, geo.stride_w, geo.in_w, geo.out_w);
          for (int64_t ow = cols.lo; ow < cols.hi; ++ow) {
            out[ow] += in[ow * geo.stride_w + offset];
          }
        }
      }
      for (int64_t ow = 0; ow < geo.out_w; ++ow) {
        const Window win = window_at(geo, oh, ow);
        const int64_t count = (win.h1 - win.h0) * (win.w1 - win.w0);
        out[ow] = count > 0 ? out[ow] / static_cast<T>(count) : T(0);
      }
    }
  });
}

template <typename T>
void avg_backward_impl(const Pool2dGeometry& g, const T* grad_output, T* grad_input) {
  check_geometry(g);
  const int64_t in_plane = g.in_h * g.in_w;
  const int64_t out_plane = g.out_h * g.out_w;
  for_each_plane(g, in_plane + out_plane * g.kernel_h * g.kernel_w, [&](int64_t p) {
    const T* grad_out = grad_output + p * out_plane;
    T* grad_in = grad_input + p * in_plane;
    std::fill(grad_in, grad_in + in_plane, T(0));
    for (int64_t oh = 0; oh < g.out_h; ++oh) {
      for (int64_t ow = 0; ow < g.out_w; ++ow) {
        const Window win = window_at(g, oh, ow);
        const int64_t count = (win.h1 - win.h0) * (win.w1 - win.w0);
        if (count == 0) {
          continue;
        }
        const T share = grad_out[oh * g.out_w + ow] / static_cast<T>(count);
        for (int64_t h = win.h0; h < win.h1; ++h) {
          for (int64_t w = win.w0; w < win.w1; ++w) {
            grad_in[h * g.in_w + w] += share;
          }
        }
      }
    }
  });
}

}  // namespace

std::pair<Tensor, Tensor> max_pool2d_with_argmax(const Tensor& input,
                                                 const Pool2dOptions& options) {
  detail::check_floating_4d("max_pool2d", "input", input);
  const Pool2dGeometry g = pool2d_geometry("max_pool2d", input.shape(), options);
  const Tensor input_c = contiguous(input);
  Tensor out = Tensor::empty({g.batch, g.channels, g.out_h, g.out_w}, input.dtype());
  Tensor argmax = Tensor::empty(out.shape(), kInt64);
  visit_floating(input.dtype(), [&](auto tag) {
    using T = decltype(tag);
    max_forward_impl(g, input_c.data_ptr<T>(), out.data_ptr<T>(), argmax.data_ptr<int64_t>());
  });
  return {out, argmax};
}

Tensor max_pool2d_backward(const Tensor& grad, const Tensor& argmax, const Shape& input_shape,
                           const Pool2dOptions& options) {
  const Pool2dGeometry g = pool2d_geometry("max_pool2d", input_shape, options);
  const Shape output_shape{g.batch, g.channels, g.out_h, g.out_w};
  detail::check_output_grad("max_pool2d_backward", grad, output_shape);
  if (argmax.shape() != output_shape || argmax.dtype() != kInt64) {
    throw error("max_pool2d_backward: argmax must be int64 of the output shape {}, got {} {}",
                shape_str(output_shape), dtype_name(argmax.dtype()), shape_str(argmax.shape()));
  }
  const Tensor grad_c = contiguous(grad);
  const Tensor argmax_c = contiguous(argmax);
  Tensor out = Tensor::empty(input_shape, grad.dtype());
  visit_floating(grad.dtype(), [&](auto tag) {
    using T = decltype(tag);
    max_backward_impl(g, grad_c.data_ptr<T>(), argmax_c.data_ptr<int64_t>(), out.data_ptr<T>());
  });
  return out;
}

Tensor avg_pool2d(const Tensor& input, const Pool2dOptions& options) {
  detail::check_floating_4d("avg_pool2d", "input", input);
  const Pool2dGeometry g = pool2d_geometry("avg_pool2d", input.shape(), options);
  const Tensor input_c = contiguous(input);
  Tensor out = Tensor::empty({g.batch, g.channels, g.out_h, g.out_w}, input.dtype());
  visit_floating(input.dtype(), [&](auto tag) {
    using T = decltype(tag);
    avg_forward_impl(g, input_c.data_ptr<T>(), out.data_ptr<T>());
  });
  return out;
}

Tensor avg_pool2d_backward(const Tensor& grad, const Shape& input_shape,
                           const Pool2dOptions& options) {
  const Pool2dGeometry g = pool2d_geometry("avg_pool2d", input_shape, options);
  detail::check_output_grad("avg_pool2d_backward", grad, {g.batch, g.channels, g.out_h, g.out_w});
  const Tensor grad_c = contiguous(grad);
  Tensor out = Tensor::empty(input_shape, grad.dtype());
  visit_floating(grad.dtype(), [&](auto tag) {
    using T = decltype(tag);
    avg_backward_impl(g, grad_c.data_ptr<T>(), out.data_ptr<T>());
  });
  return out;
}

}  // namespace nabla::kernels
