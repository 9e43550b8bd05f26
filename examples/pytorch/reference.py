#!/usr/bin/env python3
"""The mlp and cnn examples' recipes in PyTorch, for comparing accuracies with nabla's.

Needs Debian's python3-torch and python3-numpy (nabla itself needs neither):
    python3 examples/pytorch/reference.py mlp --seeds 0 1 2 3 4
    python3 examples/pytorch/reference.py cnn --seeds 0 1 2

Same data (Fashion-MNIST from /usr/share/datasets/fashion-mnist, or --data DIR of MNIST IDX files,
gzipped or not, scaled to [0, 1]), model, initialization (Keras': glorot_uniform kernels, zero
biases; --init torch for PyTorch's defaults), optimizer and schedule as the C++ examples, with
nabla's (Keras') optimizer conventions: RMSprop with rho 0.9 and epsilon 1e-7 inside the square
root, Adam with epsilon 1e-7. The loss is cross-entropy on the logits (the mlp example applies
softmax, then Keras' clipped cross-entropy: the same values unless a probability falls below 1e-7).
Prints the test accuracy after every epoch, then the mean and range of the final ones.
"""
import argparse
import gzip
import os
import struct
import time

import numpy as np
import torch
import torch.nn.functional as F


def read_idx(directory, stem):
    for name in (stem, stem + ".gz"):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            opener = gzip.open if name.endswith(".gz") else open
            with opener(path, "rb") as f:
                data = f.read()
            magic, count = struct.unpack(">II", data[:8])
            if magic == 2051:
                rows, cols = struct.unpack(">II", data[8:16])
                return np.frombuffer(data, np.uint8, offset=16).reshape(count, rows * cols)
            return np.frombuffer(data, np.uint8, offset=8)
    raise FileNotFoundError(f"{stem}[.gz] not found in {directory}")


def load(directory, train):
    prefix = "train" if train else "t10k"
    images = torch.tensor(read_idx(directory, f"{prefix}-images-idx3-ubyte"), dtype=torch.float32)
    labels = torch.tensor(read_idx(directory, f"{prefix}-labels-idx1-ubyte").astype(np.int64))
    return images / 255, labels


def rmsprop_keras(params, lr=1e-3, rho=0.9, eps=1e-7):
    velocities = [torch.zeros_like(p) for p in params]

    def step():
        with torch.no_grad():
            for p, v in zip(params, velocities):
                v.mul_(rho).add_(p.grad * p.grad, alpha=1 - rho)
                p.sub_(lr * p.grad / torch.sqrt(v + eps))
    return step


def build(model, init):
    if model == "mlp":
        net = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(),
                                  torch.nn.Linear(512, 10))
    else:
        net = torch.nn.Sequential(
            torch.nn.Unflatten(1, (1, 28, 28)),
            torch.nn.Conv2d(1, 32, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(32, 64, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Flatten(), torch.nn.Linear(1600, 128), torch.nn.ReLU(),
            torch.nn.Linear(128, 10))
    if init == "keras":
        for layer in net:
            if isinstance(layer, (torch.nn.Linear, torch.nn.Conv2d)):
                torch.nn.init.xavier_uniform_(layer.weight)
                torch.nn.init.zeros_(layer.bias)
    return net


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=["mlp", "cnn"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--init", choices=["keras", "torch"], default="keras")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, help="default: 5 for mlp, 2 for cnn")
    parser.add_argument("--limit", type=int, default=0, help="train on the first N samples only")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    x_train, y_train = load(args.data, True)
    x_test, y_test = load(args.data, False)
    if args.limit > 0:
        x_train, y_train = x_train[:args.limit], y_train[:args.limit]
    epochs, batch = (5, 128) if args.model == "mlp" else (2, 64)
    if args.epochs is not None:
        epochs = args.epochs

    finals = []
    for seed in args.seeds:
        torch.manual_seed(seed)
        net = build(args.model, args.init)
        params = list(net.parameters())
        if args.model == "mlp":
            step = rmsprop_keras(params)
        else:
            step = torch.optim.Adam(params, lr=1e-3, eps=1e-7).step
        accuracies = []
        start = time.time()
        for _ in range(epochs):
            order = torch.randperm(len(x_train))
            for begin in range(0, len(order), batch):
                rows = order[begin:begin + batch]
                loss = F.cross_entropy(net(x_train[rows]), y_train[rows])
                for p in params:
                    p.grad = None
                loss.backward()
                step()
            with torch.no_grad():
                accuracies.append((net(x_test).argmax(1) == y_test).float().mean().item())
        finals.append(accuracies[-1])
        print(f"{args.model} seed {seed}: test accuracy per epoch "
              f"{' '.join(f'{a:.4f}' for a in accuracies)} ({time.time() - start:.0f} s)",
              flush=True)
    print(f"{args.model}: final test accuracy mean {np.mean(finals):.4f}, "
          f"min {min(finals):.4f}, max {max(finals):.4f} over {len(finals)} seeds")


if __name__ == "__main__":
    main()
