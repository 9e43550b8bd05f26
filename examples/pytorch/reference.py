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

--init nabla and --order nabla start from the very weights nabla's example draws with the same
--seed and feed the batches in the order of nabla's Model::fit (a port of nabla's generator), so a
PyTorch run can be paired with a nabla run; scripts/accuracy_table.py runs both over seeds.
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


# --- nabla's generator (tensor/random.cpp, data/loader.cpp), for --init nabla and --order nabla ---
MASK = (1 << 64) - 1


def _mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


class NablaGenerator:
    """xoshiro256** seeded by splitmix64, as nabla::Generator."""

    def __init__(self, seed):
        x, self.s = seed & MASK, []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & MASK
            self.s.append(_mix64(x))

    def next_u64(self):
        s = self.s
        r = ((((s[1] * 5) & MASK) << 7 | ((s[1] * 5) & MASK) >> 57) & MASK) * 9 & MASK
        t = (s[1] << 17) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = ((s[3] << 45) | (s[3] >> 19)) & MASK
        return r

    def below(self, bound):  # Lemire's multiply-shift with rejection
        product = self.next_u64() * bound
        if (product & MASK) < bound:
            threshold = ((1 << 64) - bound) % bound
            while (product & MASK) < threshold:
                product = self.next_u64() * bound
        return product >> 64

    def uniform(self, shape, low, high):  # float32, as nabla::uniform
        count = int(np.prod(shape))
        u = np.array([self.next_u64() >> 40 for _ in range(count)], dtype=np.float32)
        u *= np.float32(2.0 ** -24)
        return (np.float32(low) + np.float32(high - low) * u).reshape(shape)

    def randperm(self, n):
        data = list(range(n))
        for i in range(n - 1, 0, -1):
            j = self.below(i + 1)
            data[i], data[j] = data[j], data[i]
        return torch.tensor(data)


def nabla_epoch_order(seed, epoch, n):
    """DataLoader::order(epoch) of a loader seeded with `seed` (Model::fit passes its seed)."""
    return NablaGenerator(_mix64(seed ^ _mix64(epoch + 0x9E3779B97F4A7C15))).randperm(n)


def nabla_init(net, seed):
    """The initial weights nabla's example draws after manual_seed(seed): glorot_uniform kernels
    in layer order from the default generator (Dense kernels are [in, units]), zero biases."""
    generator = NablaGenerator(seed)
    with torch.no_grad():
        for layer in net:
            if isinstance(layer, (torch.nn.Linear, torch.nn.Conv2d)):
                weight = layer.weight
                fan_out, fan_in = weight.shape[0], weight.shape[1]
                receptive = int(np.prod(weight.shape[2:])) if weight.dim() > 2 else 1
                limit = float(np.sqrt(6.0 / ((fan_in + fan_out) * receptive)))
                if isinstance(layer, torch.nn.Linear):
                    values = generator.uniform((fan_in, fan_out), -limit, limit).T
                else:
                    values = generator.uniform(tuple(weight.shape), -limit, limit)
                weight.copy_(torch.from_numpy(np.ascontiguousarray(values)))
                layer.bias.zero_()


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
    if init in ("keras", "nabla"):
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
    parser.add_argument("--init", choices=["keras", "torch", "nabla"], default="keras",
                        help="nabla: the very weights nabla's example starts from with --seed")
    parser.add_argument("--order", choices=["torch", "nabla"], default="torch",
                        help="nabla: the batches of nabla's fit with the same seed")
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
        if args.init == "nabla":
            nabla_init(net, seed)
        params = list(net.parameters())
        if args.model == "mlp":
            step = rmsprop_keras(params)
        else:
            step = torch.optim.Adam(params, lr=1e-3, eps=1e-7).step
        accuracies = []
        start = time.time()
        for epoch in range(epochs):
            if args.order == "nabla":
                order = nabla_epoch_order(seed, epoch, len(x_train))
            else:
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
