#!/usr/bin/env python3
"""Writes the PyTorch reference values of tests/train/pytorch_parity_test.cpp.

Run with Debian's python3-torch (1.13) and paste the output into the test:
    python3 tests/train/pytorch_parity_goldens.py

Both sides build the same data and weights from integer formulas (exact in float32) and train
without shuffling, so every step sees the same batch. The models follow nabla's (Keras')
conventions: Dense kernels are [in, out], the probability cross-entropy renormalizes and clips
like Keras, RMSprop adds epsilon inside the square root, Adam uses epsilon 1e-7.
"""
import pathlib
import sys

import torch
import torch.nn.functional as F

# The Keras-convention RMSprop of the examples' PyTorch reference.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "examples" / "pytorch"))
from reference import rmsprop_keras  # noqa: E402

torch.set_num_threads(1)


def pattern(shape, salt, scale=1000.0):
    """((k * 7919 + salt * 131) % 211 - 105) / scale over the flat index k, as float32.

    A model's parameters get salts 0, 1, 2, ... in registration order: kernels (even salts) scale
    1000, biases (odd salts) 10000."""
    n = 1
    for extent in shape:
        n *= extent
    k = torch.arange(n, dtype=torch.float64)
    values = ((k * 7919 + salt * 131) % 211 - 105) / scale
    return values.to(torch.float32).reshape(shape).requires_grad_()


def inputs(samples, features):
    """x[i, j] = ((i * 131 + j * 71) % 256) / 255."""
    i = torch.arange(samples, dtype=torch.float64).unsqueeze(1)
    j = torch.arange(features, dtype=torch.float64).unsqueeze(0)
    return (((i * 131 + j * 71) % 256) / 255).to(torch.float32)


def labels(samples, classes):
    """y[i] = ((i * 131) % 256 * classes) // 256: the class follows x[i, 0], so it can be learnt."""
    i = torch.arange(samples)
    return (i * 131) % 256 * classes // 256


def train(params, loss_of, samples, batch, epochs, step):
    losses = []
    for _ in range(epochs):
        for begin in range(0, samples, batch):
            loss = loss_of(slice(begin, min(samples, begin + batch)))
            for p in params:
                p.grad = None
            loss.backward()
            step()
            losses.append(loss.item())
    return losses


def emit(name, values):
    print(f"constexpr std::array<double, {len(values)}> {name} = {{")
    print(",\n".join(f"    {v:.9g}" for v in values) + "};")


def mlp():
    samples, features, hidden, classes = 250, 20, 16, 10
    x, y = inputs(samples, features), F.one_hot(labels(samples, classes), classes).float()
    w1, b1 = pattern([features, hidden], 0), pattern([hidden], 1, 10000.0)
    w2, b2 = pattern([hidden, classes], 2), pattern([classes], 3, 10000.0)
    params = [w1, b1, w2, b2]

    def loss_of(rows):
        p = torch.softmax(torch.relu(x[rows] @ w1 + b1) @ w2 + b2, dim=1)
        p = (p / p.sum(dim=1, keepdim=True)).clamp(1e-7, 1 - 1e-7)
        return (-(y[rows] * torch.log(p)).sum(dim=1)).mean()

    losses = train(params, loss_of, samples, 32, 4, rmsprop_keras(params))
    emit("kMlpRmspropLosses", losses)
    emit("kMlpRmspropParameterNorms", [p.square().sum().item() for p in params])


def cnn():
    samples, classes = 40, 3
    x = inputs(samples, 64).reshape(samples, 1, 8, 8)
    y = labels(samples, classes)
    k1, c1 = pattern([4, 1, 3, 3], 0), pattern([4], 1, 10000.0)
    k2, c2 = pattern([6, 4, 2, 2], 2), pattern([6], 3, 10000.0)
    w3, b3 = pattern([6, 8], 4), pattern([8], 5, 10000.0)
    w4, b4 = pattern([8, classes], 6), pattern([classes], 7, 10000.0)
    params = [k1, c1, k2, c2, w3, b3, w4, b4]

    def loss_of(rows):
        h = F.max_pool2d(torch.relu(F.conv2d(x[rows], k1, c1)), 2)  # [n, 4, 3, 3]
        h = F.pad(h, (0, 1, 0, 1))  # Keras "same" for a 2x2 kernel: the odd padding last
        h = F.max_pool2d(torch.relu(F.conv2d(h, k2, c2)), 2)  # [n, 6, 1, 1], a row uncovered
        logits = torch.relu(h.flatten(1) @ w3 + b3) @ w4 + b4
        return F.cross_entropy(logits, y[rows])

    optimizer = torch.optim.Adam(params, lr=1e-2, eps=1e-7)
    losses = train(params, loss_of, samples, 16, 3, optimizer.step)
    emit("kCnnAdamLosses", losses)
    emit("kCnnAdamParameterNorms", [p.square().sum().item() for p in params])


print(f"// Written by tests/train/pytorch_parity_goldens.py with PyTorch {torch.__version__}.")
mlp()
cnn()
