#!/usr/bin/env python3
"""Test accuracy of nabla's examples and of their PyTorch twins over seeds, as one table.

    scripts/accuracy_table.py                      # mlp and cnn, seeds 0-19 (issue 10's bars)
    scripts/accuracy_table.py --recipes mlp mlp-plain mlp-logits --seeds 0-39
    scripts/accuracy_table.py --recipes mlp:0-39 cnn:0-9  # seeds per recipe
    scripts/accuracy_table.py --recipes mlp-mnist  # original MNIST, seeds 0-4
    scripts/accuracy_table.py --quick              # plumbing check: 3 seeds, 1 epoch, 6000 samples

For every recipe and seed it runs nabla's example (build/release/examples/..., built beforehand:
`cmake --build --preset release --target mlp cnn`) and examples/pytorch/reference.py, one
process at a time at one thread each (OMP_NUM_THREADS=1, torch --threads 1), and reads the final
test accuracy. Then it prints a Markdown table: recipe, seeds, nabla mean ± sd, PyTorch mean ± sd,
the difference of the means and the two-sided p-value of Welch's t-test (unequal variances; sd is
the sample standard deviation). Recipes with a nabla baseline (mlp-plain and mlp-logits against
mlp) get a second table: variant against baseline, both nabla. Needs Debian's python3-torch for
the PyTorch side; the script finds an interpreter that imports torch (--python to choose one).
--cache FILE keeps every result (JSON lines keyed by the command) so an interrupted sweep resumes
and tables can be re-printed without rerunning; delete it after changing the code under test.
Not part of ctest: the default sweep (mlp and cnn, 20 seeds each side) takes about 75 minutes
on an idle core.
"""
import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FASHION = "/usr/share/datasets/fashion-mnist"

# name: (nabla example, nabla flags, PyTorch model and flags, default seeds, what it is,
#        nabla baseline)
RECIPES = {
    "mlp": ("mlp", [], ["mlp"], "0-19", "mlp, 5 epochs, Model::fit", None),
    "mlp-plain": ("mlp", ["--loop", "plain"], ["mlp"], "0-19",
                  "mlp, 5 epochs, hand-written loop", "mlp"),
    "mlp-logits": ("mlp", ["--loss", "logits"], ["mlp"], "0-19",
                   "mlp, 5 epochs, fit, cross-entropy on logits", "mlp"),
    # PyTorch started from nabla's initial weights and fed nabla's batches (paired runs), or
    # only fed nabla's batches: separates arithmetic from the random streams.
    "mlp-paired": ("mlp", [], ["mlp", "--init", "nabla", "--order", "nabla"], "0-9",
                   "mlp; PyTorch from nabla's weights and batches", None),
    "mlp-order": ("mlp", [], ["mlp", "--order", "nabla"], "0-9",
                  "mlp; PyTorch fed nabla's batch order", None),
    "cnn": ("cnn", [], ["cnn"], "0-19", "cnn, 2 epochs", None),
    "mlp-mnist": ("mlp", [], ["mlp"], "0-4", "mlp, 5 epochs, original MNIST", None),
}


def parse_seeds(text):
    """'0-19', '0 1 5', '0-9,20-29' -> sorted unique ints."""
    seeds = set()
    for part in re.split(r"[,\s]+", text.strip()):
        if not part:
            continue
        if "-" in part:
            low, high = part.split("-")
            seeds.update(range(int(low), int(high) + 1))
        else:
            seeds.add(int(part))
    return sorted(seeds)


# --- statistics (standard library only) ---

def mean_sd(values):
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else float("nan")
    return mean, sd


def _betacf(a, b, x):
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def betainc(a, b, x):
    """Regularized incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x)
                 + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def welch(a, b):
    """Welch's two-sample t-test: (t, degrees of freedom, two-sided p)."""
    (ma, sa), (mb, sb) = mean_sd(a), mean_sd(b)
    va, vb = sa * sa / len(a), sb * sb / len(b)
    if va + vb == 0.0:
        return (0.0 if ma == mb else math.inf), math.nan, (1.0 if ma == mb else 0.0)
    t = (ma - mb) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va * va / (len(a) - 1) + vb * vb / (len(b) - 1))
    return t, df, betainc(df / 2.0, 0.5, df / (df + t * t))


# --- running ---

def torch_python(chosen):
    candidates = [chosen] if chosen else [sys.executable, "/usr/bin/python3",
                                          shutil.which("python3") or ""]
    for python in candidates:
        if python and subprocess.run([python, "-c", "import torch, numpy"],
                                     capture_output=True).returncode == 0:
            return python
    sys.exit("accuracy_table: no Python that imports torch and numpy "
             f"(tried {', '.join(c for c in candidates if c)}); install Debian's python3-torch "
             "or pass --python")


class Cache:
    def __init__(self, path):
        self.path, self.entries = path, {}
        if path and os.path.exists(path):
            with open(path) as f:
                for line in f:
                    entry = json.loads(line)
                    self.entries[entry["key"]] = entry

    def get(self, key):
        entry = self.entries.get(key)
        return entry["accuracy"] if entry else None

    def put(self, key, accuracy, seconds):
        entry = {"key": key, "accuracy": accuracy, "seconds": round(seconds, 1)}
        self.entries[key] = entry
        if self.path:
            with open(self.path, "a") as f:
                f.write(json.dumps(entry) + "\n")


def run(command, pattern, cache, env):
    key = " ".join(os.path.relpath(c, ROOT) if c.startswith(ROOT) else c for c in command)
    cached = cache.get(key)
    if cached is not None:
        return cached, key, True
    start = time.time()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    found = re.findall(pattern, done.stdout)
    if done.returncode != 0 or not found:
        sys.exit(f"accuracy_table: `{key}` failed (exit {done.returncode}):\n"
                 f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    accuracy = float(found[-1]) * 100.0
    cache.put(key, accuracy, time.time() - start)
    print(f"  {key}: {accuracy:.2f}% ({time.time() - start:.0f} s)", file=sys.stderr, flush=True)
    return accuracy, key, False


def find_mnist(chosen):
    if chosen:
        return chosen
    for candidate in ("../shared/data/mnist", "../../shared/data/mnist"):
        path = os.path.normpath(os.path.join(ROOT, candidate))
        if os.path.isdir(path):
            return path
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[1:]))
    parser.add_argument("--recipes", nargs="+", default=["mlp", "cnn"], metavar="RECIPE[:SEEDS]",
                        help=f"any of {', '.join(RECIPES)}, each optionally with its own seeds "
                        "(mlp:0-39)")
    parser.add_argument("--seeds", help="e.g. 0-39 or '0 1 2' (default: each recipe's own)")
    parser.add_argument("--quick", action="store_true",
                        help="3 seeds, 1 epoch on the first 6000 samples (mlp unless --recipes)")
    parser.add_argument("--build", default=os.path.join(ROOT, "build", "release"))
    parser.add_argument("--python", help="an interpreter that imports torch")
    parser.add_argument("--mnist", help="original MNIST directory for mlp-mnist "
                        "(default: ../shared/data/mnist from the repository)")
    parser.add_argument("--cache", help="JSON-lines file of results to reuse and extend")
    parser.add_argument("--no-pytorch", action="store_true", help="run nabla's side only")
    args = parser.parse_args()
    if args.quick and "--recipes" not in sys.argv:
        args.recipes = ["mlp"]

    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="passive")
    python = None if args.no_pytorch else torch_python(args.python)
    cache = Cache(args.cache)
    extra = ["--epochs", "1", "--limit", "6000"] if args.quick else []
    results = {}  # recipe -> {"nabla": {seed: acc}, "pytorch": {seed: acc}}
    jobs = []  # (seed, recipe, data, binary)
    for recipe in args.recipes:
        name, _, own_seeds = recipe.partition(":")
        if name not in RECIPES:
            sys.exit(f"accuracy_table: unknown recipe '{name}' (known: {', '.join(RECIPES)})")
        example, _, _, default_seeds, _, _ = RECIPES[name]
        seeds = parse_seeds(own_seeds or args.seeds or ("0-2" if args.quick else default_seeds))
        data = FASHION
        if name == "mlp-mnist":
            data = find_mnist(args.mnist)
            if not data:
                print("accuracy_table: no original MNIST directory (--mnist); skipping mlp-mnist",
                      file=sys.stderr)
                continue
        binary = os.path.join(args.build, "examples", example)
        if not os.path.exists(binary):
            sys.exit(f"accuracy_table: {binary} not built (cmake --build --preset release "
                     f"--target {example})")
        print(f"{name}: seeds {seeds[0]}..{seeds[-1]} ({len(seeds)})", file=sys.stderr)
        results[name] = {"nabla": {}, "pytorch": {}}
        jobs += [(seed, name, data, binary) for seed in seeds]
    # Seed by seed across the recipes, one process at a time: a sweep stopped early still has
    # the same seeds for every recipe (and --cache resumes it).
    for seed, name, data, binary in sorted(jobs, key=lambda job: job[0]):
        _, flags, torch_args, _, _, _ = RECIPES[name]
        sides = results[name]
        sides["nabla"][seed], _, _ = run(
            [binary, "--seed", str(seed), "--data", data] + flags + extra,
            r"Test accuracy: ([0-9.]+)", cache, env)
        if python:
            sides["pytorch"][seed], _, _ = run(
                [python, os.path.join(ROOT, "examples", "pytorch", "reference.py")] + torch_args
                + ["--seeds", str(seed), "--threads", "1", "--data", data] + extra,
                r"test accuracy per epoch (?:[0-9.]+ )*([0-9.]+) \(", cache, env)

    def seeds_text(seeds):
        seeds = sorted(seeds)
        if seeds == list(range(seeds[0], seeds[-1] + 1)):
            return f"{seeds[0]}-{seeds[-1]}" if len(seeds) > 1 else str(seeds[0])
        return ",".join(map(str, seeds))

    def cell(values):
        mean, sd = mean_sd(values)
        return f"{mean:.2f} ± {sd:.2f}"

    def p_text(a, b):
        if len(a) < 2 or len(b) < 2:
            return "-"
        p = welch(a, b)[2]
        return f"{p:.2g}" if p >= 1e-4 else "< 1e-4"

    title = " (quick: 1 epoch, 6000 train samples; not the bars)" if args.quick else ""
    print(f"\nFinal test accuracy (%), mean ± sd over seeds{title}; p: Welch's two-sided t-test\n")
    print("| recipe | seeds | nabla | PyTorch 1.13 | nabla - PyTorch | p |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, sides in results.items():
        nabla = [sides["nabla"][s] for s in sorted(sides["nabla"])]
        torch = [sides["pytorch"][s] for s in sorted(sides["pytorch"])]
        if torch:
            diff = f"{mean_sd(nabla)[0] - mean_sd(torch)[0]:+.2f}"
            row = [cell(torch), diff, p_text(nabla, torch)]
        else:
            row = ["-", "-", "-"]
        print(f"| {RECIPES[name][4]} (`{name}`) | {seeds_text(sides['nabla'])} | {cell(nabla)} | "
              + " | ".join(row) + " |")

    variants = [n for n in results if RECIPES[n][5] in results]
    if variants:
        print("\nnabla variants against their baseline, same seeds (both nabla)\n")
        print("| variant | baseline | seeds | variant | baseline | difference | p | "
              "identical runs |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for name in variants:
            base = results[RECIPES[name][5]]["nabla"]
            mine = results[name]["nabla"]
            common = sorted(set(base) & set(mine))
            a, b = [mine[s] for s in common], [base[s] for s in common]
            same = sum(1 for x, y in zip(a, b) if x == y)
            print(f"| `{name}` | `{RECIPES[name][5]}` | {seeds_text(common)} | {cell(a)} | "
                  f"{cell(b)} | {mean_sd(a)[0] - mean_sd(b)[0]:+.2f} | {p_text(a, b)} | "
                  f"{same}/{len(common)} |")


if __name__ == "__main__":
    main()
