#!/usr/bin/python3
"""Writes tests/nn/layer_goldens.h: PyTorch reference values for the nn/ layer tests.

Run once with Debian's python3-torch (1.13), from the repository root, and commit the result:
    /usr/bin/python3 tests/nn/layer_goldens.py > tests/nn/layer_goldens.h

Inputs and weights come from an integer formula (pattern(), mirrored in tests/nn/golden_support.h)
so the C++ tests rebuild them without reading any file. Everything runs in float64. Each case
records the outputs and the gradients of sum(output * cotangent) w.r.t. the inputs and weights,
the cotangents being patterns too.

Keras layouts and gate orders are mapped onto the torch modules here:
  - kernels are Keras's [in, gates * units]; torch's weight_ih is [gates * units, in] (transposed),
    and likewise recurrent_kernel [units, gates * units] vs weight_hh.
  - LSTM: Keras gates i, f, c, o are torch's i, f, g, o (same order). Keras has one bias; torch has
    bias_ih + bias_hh, so bias_hh is zero.
  - GRU (Keras reset_after=True, bias [2, 3 * units] = input bias, recurrent bias): Keras gates z, r,
    h are torch's z, r, n in the order r, z, n, so the blocks are permuted (z, r, h) -> (r, z, n);
    torch's n = tanh(W_in x + b_in + r * (W_hn h + b_hn)) is reset_after, and
    h' = (1 - z) * n + z * h is Keras's h = z * h + (1 - z) * h~.
  - Conv1D is NCW like torch's conv1d; "same"/"causal" padding is applied with F.pad first.
  - Conv2DTranspose: torch's conv_transpose2d takes a symmetric padding, so Keras's "same" output
    (in * stride, padded as TensorFlow pads the matching Conv2D: the odd row at the bottom) is
    torch's unpadded output cropped from the top-left; "valid" with kernel < stride gets
    output_padding stride - kernel (Keras's in * stride rows).
  - Bidirectional: torch's reverse direction returns its outputs in time order, as Keras's
    Bidirectional does after flipping the backward layer's outputs.
Gradients w.r.t. the torch parameters are mapped back through the same permutations.
"""
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
torch.set_default_dtype(torch.float64)


def pattern(shape, salt, scale):
    """((k * 7919 + salt * 131) % 211 - 105) / scale over the flat index k."""
    n = 1
    for extent in shape:
        n *= extent
    k = torch.arange(n, dtype=torch.float64)
    return (((k * 7919 + salt * 131) % 211 - 105) / scale).reshape(shape)


def leaf(shape, salt, scale):
    return pattern(shape, salt, scale).clone().requires_grad_()


def emit(name, values):
    if isinstance(values, torch.Tensor):
        values = values.detach().reshape(-1).tolist()
    values = [float(v) for v in values]
    print(f"inline constexpr std::array<double, {len(values)}> {name} = {{")
    lines = [", ".join(f"{v:.17g}" for v in values[i:i + 4]) for i in range(0, len(values), 4)]
    print("    " + ",\n    ".join(lines) + "};")


def emit_int(name, values):
    print(f"inline constexpr std::array<int64_t, {len(values)}> {name} = {{"
          + ", ".join(str(v) for v in values) + "};")


def embedding():
    table = leaf([7, 3], 0, 100.0)
    indices = [3, 0, 3, 6, 1, 3, 0, 5]
    out = F.embedding(torch.tensor(indices).reshape(2, 4), table)
    (out * pattern([2, 4, 3], 1, 50.0)).sum().backward()
    emit_int("kEmbeddingIndices", indices)
    emit("kEmbeddingOutput", out)
    emit("kEmbeddingTableGrad", table.grad)


def blocks(t, order, units):
    """The gate blocks of the last axis of t, reordered."""
    return torch.cat([t[..., g * units:(g + 1) * units] for g in order], dim=-1)


def set_direction(module, suffix, kernel, recurrent, bias_ih, bias_hh):
    with torch.no_grad():
        getattr(module, "weight_ih_l0" + suffix).copy_(kernel.t())
        getattr(module, "weight_hh_l0" + suffix).copy_(recurrent.t())
        getattr(module, "bias_ih_l0" + suffix).copy_(bias_ih)
        getattr(module, "bias_hh_l0" + suffix).copy_(bias_hh)


def direction_grads(module, suffix):
    g = lambda name: getattr(module, name + "_l0" + suffix).grad
    return g("weight_ih").t(), g("weight_hh").t(), g("bias_ih"), g("bias_hh")


# Shapes of the recurrent cases: batch 2, 4 steps, 3 features.
B, T, FEATURES = 2, 4, 3


def simple_rnn():
    units = 5
    x = leaf([B, T, FEATURES], 10, 50.0)
    kernel, recurrent = pattern([FEATURES, units], 11, 200.0), pattern([units, units], 12, 200.0)
    bias = pattern([units], 13, 500.0)
    rnn = torch.nn.RNN(FEATURES, units, batch_first=True)
    set_direction(rnn, "", kernel, recurrent, bias, torch.zeros(units))
    seq, h = rnn(x)
    ((seq * pattern([B, T, units], 14, 100.0)).sum() + (h[0] * pattern([B, units], 15, 100.0)).sum()).backward()
    gk, gr, gb, _ = direction_grads(rnn, "")
    emit("kSimpleRnnSequence", seq)
    emit("kSimpleRnnState", h[0])
    emit("kSimpleRnnInputGrad", x.grad)
    emit("kSimpleRnnKernelGrad", gk)
    emit("kSimpleRnnRecurrentGrad", gr)
    emit("kSimpleRnnBiasGrad", gb)


def lstm():
    units = 4
    x = leaf([B, T, FEATURES], 20, 50.0)
    kernel, recurrent = pattern([FEATURES, 4 * units], 21, 200.0), pattern([units, 4 * units], 22, 200.0)
    bias = pattern([4 * units], 23, 500.0)
    rnn = torch.nn.LSTM(FEATURES, units, batch_first=True)
    set_direction(rnn, "", kernel, recurrent, bias, torch.zeros(4 * units))  # i,f,g,o = i,f,c,o
    seq, (h, c) = rnn(x)
    loss = (seq * pattern([B, T, units], 24, 100.0)).sum()
    loss = loss + (h[0] * pattern([B, units], 25, 100.0)).sum()
    loss = loss + (c[0] * pattern([B, units], 26, 100.0)).sum()
    loss.backward()
    gk, gr, gb, _ = direction_grads(rnn, "")
    emit("kLstmSequence", seq)
    emit("kLstmStateH", h[0])
    emit("kLstmStateC", c[0])
    emit("kLstmInputGrad", x.grad)
    emit("kLstmKernelGrad", gk)
    emit("kLstmRecurrentGrad", gr)
    emit("kLstmBiasGrad", gb)


def gru():
    units = 4
    x = leaf([B, T, FEATURES], 30, 50.0)
    kernel, recurrent = pattern([FEATURES, 3 * units], 31, 200.0), pattern([units, 3 * units], 32, 200.0)
    bias = pattern([2, 3 * units], 33, 500.0)
    to_torch = [1, 0, 2]  # Keras z, r, h -> torch r, z, n
    rnn = torch.nn.GRU(FEATURES, units, batch_first=True)
    set_direction(rnn, "", blocks(kernel, to_torch, units), blocks(recurrent, to_torch, units),
                  blocks(bias[0], to_torch, units), blocks(bias[1], to_torch, units))
    seq, h = rnn(x)
    ((seq * pattern([B, T, units], 34, 100.0)).sum() + (h[0] * pattern([B, units], 35, 100.0)).sum()).backward()
    gk, gr, gbi, gbh = direction_grads(rnn, "")
    to_keras = [1, 0, 2]  # the permutation is its own inverse
    emit("kGruSequence", seq)
    emit("kGruState", h[0])
    emit("kGruInputGrad", x.grad)
    emit("kGruKernelGrad", blocks(gk, to_keras, units))
    emit("kGruRecurrentGrad", blocks(gr, to_keras, units))
    emit("kGruBiasGrad", torch.stack([blocks(gbi, to_keras, units), blocks(gbh, to_keras, units)]))


def bidirectional_lstm():
    units = 3
    x = leaf([B, T, FEATURES], 40, 50.0)
    rnn = torch.nn.LSTM(FEATURES, units, batch_first=True, bidirectional=True)
    for suffix, salt in (("", 41), ("_reverse", 44)):
        set_direction(rnn, suffix, pattern([FEATURES, 4 * units], salt, 200.0),
                      pattern([units, 4 * units], salt + 1, 200.0),
                      pattern([4 * units], salt + 2, 500.0), torch.zeros(4 * units))
    seq, _ = rnn(x)  # [B, T, 2 * units]: forward then backward features (Keras's concat)
    (seq * pattern([B, T, 2 * units], 47, 100.0)).sum().backward()
    emit("kBidirectionalSequence", seq)
    emit("kBidirectionalInputGrad", x.grad)
    for suffix, name in (("", "Forward"), ("_reverse", "Backward")):
        gk, gr, gb, _ = direction_grads(rnn, suffix)
        emit(f"kBidirectional{name}KernelGrad", gk)
        emit(f"kBidirectional{name}RecurrentGrad", gr)
        emit(f"kBidirectional{name}BiasGrad", gb)


def layer_normalization():
    x = leaf([2, 3, 4], 50, 50.0)
    gamma, beta = leaf([4], 51, 100.0), leaf([4], 52, 100.0)
    y = F.layer_norm(x, [4], gamma + 1.0, beta, eps=1e-3)  # gamma + 1: near Keras's ones
    (y * pattern([2, 3, 4], 53, 100.0)).sum().backward()
    emit("kLayerNormOutput", y)
    emit("kLayerNormInputGrad", x.grad)
    emit("kLayerNormGammaGrad", gamma.grad)
    emit("kLayerNormBetaGrad", beta.grad)
    x2 = leaf([2, 3, 4], 54, 50.0)
    gamma2 = leaf([3, 4], 55, 100.0)
    y2 = F.layer_norm(x2, [3, 4], gamma2 + 1.0, None, eps=1e-3)
    (y2 * pattern([2, 3, 4], 56, 100.0)).sum().backward()
    emit("kLayerNormTwoAxesOutput", y2)
    emit("kLayerNormTwoAxesInputGrad", x2.grad)
    emit("kLayerNormTwoAxesGammaGrad", gamma2.grad)


def conv1d():
    for name, pad, stride, dilation, salt in (("Same", (1, 1), 2, 1, 60), ("Causal", (4, 0), 1, 2, 64)):
        x = leaf([2, 3, 7], salt, 50.0)
        kernel, bias = leaf([4, 3, 3], salt + 1, 100.0), leaf([4], salt + 2, 100.0)
        y = F.conv1d(F.pad(x, pad), kernel, bias, stride=stride, dilation=dilation)
        (y * pattern(list(y.shape), salt + 3, 100.0)).sum().backward()
        emit(f"kConv1D{name}Output", y)
        emit(f"kConv1D{name}InputGrad", x.grad)
        emit(f"kConv1D{name}KernelGrad", kernel.grad)
        emit(f"kConv1D{name}BiasGrad", bias.grad)


def conv2d_transpose():
    # "same", kernel 3, stride 2 on 4 x 5: Keras's output 8 x 10; TensorFlow's padding (0, 1).
    x = leaf([2, 3, 4, 5], 70, 50.0)
    kernel, bias = leaf([3, 2, 3, 3], 71, 100.0), leaf([2], 72, 100.0)
    y = F.conv_transpose2d(x, kernel, bias, stride=2)[:, :, 0:8, 0:10]
    (y * pattern([2, 2, 8, 10], 73, 100.0)).sum().backward()
    emit("kConv2DTransposeSameOutput", y)
    emit("kConv2DTransposeSameInputGrad", x.grad)
    emit("kConv2DTransposeSameKernelGrad", kernel.grad)
    emit("kConv2DTransposeSameBiasGrad", bias.grad)
    # "valid", kernel 2, stride 3 on 2 x 3: Keras's output 6 x 9.
    x = leaf([1, 2, 2, 3], 74, 50.0)
    kernel, bias = leaf([2, 3, 2, 2], 75, 100.0), leaf([3], 76, 100.0)
    y = F.conv_transpose2d(x, kernel, bias, stride=3, output_padding=1)
    (y * pattern([1, 3, 6, 9], 77, 100.0)).sum().backward()
    emit("kConv2DTransposeValidOutput", y)
    emit("kConv2DTransposeValidInputGrad", x.grad)
    emit("kConv2DTransposeValidKernelGrad", kernel.grad)
    emit("kConv2DTransposeValidBiasGrad", bias.grad)
    # "same", kernel 3, stride 2, output_padding (1, 0) on 3 x 3: Keras's output 6 x 5; TensorFlow
    # pads that conv2d (0, 1) rows and (1, 1) columns, so crop rows [0, 6) and columns [1, 6).
    x = leaf([1, 2, 3, 3], 78, 50.0)
    kernel = leaf([2, 2, 3, 3], 79, 100.0)
    y = F.conv_transpose2d(x, kernel, None, stride=2)[:, :, 0:6, 1:6]
    (y * pattern([1, 2, 6, 5], 88, 100.0)).sum().backward()
    emit("kConv2DTransposeOutputPaddingOutput", y)
    emit("kConv2DTransposeOutputPaddingInputGrad", x.grad)
    emit("kConv2DTransposeOutputPaddingKernelGrad", kernel.grad)


def reshaping():
    x = leaf([2, 3, 2, 3], 80, 50.0)
    y = F.interpolate(x, scale_factor=(2, 3), mode="nearest")  # UpSampling2D((2, 3))
    (y * pattern([2, 3, 4, 9], 81, 100.0)).sum().backward()
    emit("kUpSamplingOutput", y)
    emit("kUpSamplingInputGrad", x.grad)
    x = leaf([2, 3, 2, 3], 82, 50.0)
    y = F.pad(x, (0, 3, 1, 2))  # ZeroPadding2D(((1, 2), (0, 3)))
    (y * pattern([2, 3, 5, 6], 83, 100.0)).sum().backward()
    emit("kZeroPaddingOutput", y)
    emit("kZeroPaddingInputGrad", x.grad)
    x = leaf([2, 3, 4, 5], 84, 50.0)
    y = x.mean(dim=(2, 3))
    (y * pattern([2, 3], 85, 100.0)).sum().backward()
    emit("kGlobalAverageOutput", y)
    emit("kGlobalAverageInputGrad", x.grad)
    x = leaf([2, 3, 4, 5], 86, 50.0)
    y = x.amax(dim=(2, 3))
    (y * pattern([2, 3], 87, 100.0)).sum().backward()
    emit("kGlobalMaxOutput", y)
    emit("kGlobalMaxInputGrad", x.grad)


def losses_and_gelu():
    p = leaf([3, 4], 90, 50.0)
    t = pattern([3, 4], 91, 40.0)
    for name, delta in (("", 1.0), ("Half", 0.5)):
        p.grad = None
        loss = F.huber_loss(p, t, delta=delta)
        loss.backward()
        emit(f"kHuber{name}Loss", [loss.item()])
        emit(f"kHuber{name}Grad", p.grad)
    # Probabilities: softmax of patterns; y_true has an exact zero (clipped to eps like Keras).
    logits = leaf([3, 4], 92, 50.0)
    q = torch.softmax(logits, dim=-1)
    target = torch.softmax(pattern([3, 4], 93, 50.0), dim=-1)
    target[1, 2] = 0.0
    target[1] = target[1] / target[1].sum()
    eps = 1e-7
    kl = F.kl_div(q.clamp(eps, 1).log(), target.clamp(eps, 1), reduction="none").sum(-1).mean()
    kl.backward()
    emit("kKlTarget", target)
    emit("kKlLoss", [kl.item()])
    emit("kKlLogitsGrad", logits.grad)
    # Hinge with 0/1 labels (mapped to -1/1 as Keras does).
    h = leaf([3, 4], 94, 50.0)
    labels = (pattern([3, 4], 95, 1.0) > 0).double()
    signed = labels * 2 - 1
    hinge = F.relu(1 - signed * h).mean()
    squared = F.relu(1 - signed * h).square().mean()
    (hinge + 2 * squared).backward()
    emit("kHingeLabels", labels)
    emit("kHingeLoss", [hinge.item()])
    emit("kSquaredHingeLoss", [squared.item()])
    emit("kHingePlusTwoSquaredGrad", h.grad)
    x = leaf([2, 5], 96, 30.0)
    y = F.gelu(x, approximate="tanh")
    (y * pattern([2, 5], 97, 100.0)).sum().backward()
    emit("kGeluTanhOutput", y)
    emit("kGeluTanhGrad", x.grad)


print(f"""// Written by tests/nn/layer_goldens.py with PyTorch {torch.__version__}; do not edit.
// Regenerate: /usr/bin/python3 tests/nn/layer_goldens.py > tests/nn/layer_goldens.h
#pragma once

#include <array>
#include <cstdint>

namespace nabla::nn::goldens {{
// clang-format off""")
embedding()
simple_rnn()
lstm()
gru()
bidirectional_lstm()
layer_normalization()
conv1d()
conv2d_transpose()
reshaping()
losses_and_gelu()
print("""// clang-format on
}  // namespace nabla::nn::goldens""")
