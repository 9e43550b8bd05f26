#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets: tiny valid and invalid files, plus inputs that
crashed or escaped as a foreign exception before their fix (crash-*). Deterministic: running it
again rewrites the same bytes. Usage: python3 tests/fuzz/make_corpus.py (from anywhere)."""
import gzip
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    folder = os.path.join(HERE, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def gz(data):
    return gzip.compress(data, mtime=0)


# ---- IDX: magic 00 00 TYPE NDIMS, NDIMS big-endian uint32 dims, big-endian data -------------

def idx(type_code, dims, payload):
    return bytes([0, 0, type_code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


IDX_VALID = {
    "uint8_3": idx(0x08, [3], bytes([0, 128, 255])),
    "int8_2x2": idx(0x09, [2, 2], struct.pack(">4b", -1, 2, -3, 4)),
    "int16_3": idx(0x0B, [3], struct.pack(">3h", -2, 0, 300)),
    "int32_1x2": idx(0x0C, [1, 2], struct.pack(">2i", -70000, 5)),
    "float32_2": idx(0x0D, [2], struct.pack(">2f", 1.5, -0.25)),
    "float64_1x1x1": idx(0x0E, [1, 1, 1], struct.pack(">d", 3.0)),
    "empty_0x5": idx(0x08, [0, 5], b""),
}
for name, data in IDX_VALID.items():
    write("idx_fuzzer", "valid_" + name, data)
write("idx_fuzzer", "valid_uint8_2x2.gz", gz(idx(0x08, [2, 2], bytes([1, 2, 3, 4]))))
write("idx_fuzzer", "valid_two_members.gz", gz(idx(0x08, [4], b"ab")) + gz(b"cd"))
write("idx_fuzzer", "invalid_truncated_header", bytes([0, 0, 0x08, 2, 0, 0]))
write("idx_fuzzer", "invalid_bad_magic", bytes([1, 0, 0x08, 1, 0, 0, 0, 1, 7]))
write("idx_fuzzer", "invalid_trailing", idx(0x08, [2], b"abc"))
write("idx_fuzzer", "invalid_short_data", idx(0x0E, [2], b"\0" * 12))
write("idx_fuzzer", "invalid_huge_dims", idx(0x0E, [0xFFFFFFFF] * 8, b""))
write("idx_fuzzer", "invalid_truncated.gz", gz(idx(0x08, [16], bytes(range(16))))[:-6])

# ---- MNIST pair: flags byte, big-endian labels length, labels IDX, images IDX -------------------

def mnist(flags, labels, images):
    return bytes([flags]) + struct.pack(">I", len(labels)) + labels + images


LABELS = idx(0x08, [3], bytes([0, 1, 9]))
IMAGES = idx(0x08, [3, 2, 2], bytes(range(0, 240, 20)))
write("mnist_fuzzer", "valid_pair", mnist(0, LABELS, IMAGES))
write("mnist_fuzzer", "valid_pair_scaled_f64_10_classes", mnist(7, LABELS, IMAGES))
write("mnist_fuzzer", "valid_pair.gz", mnist(1, gz(LABELS), gz(IMAGES)))
write("mnist_fuzzer", "valid_empty", mnist(0, idx(0x08, [0], b""), idx(0x08, [0, 28, 28], b"")))
write("mnist_fuzzer", "invalid_count_mismatch", mnist(0, idx(0x08, [2], b"\1\2"), IMAGES))
write("mnist_fuzzer", "invalid_label_10", mnist(4, idx(0x08, [3], bytes([0, 10, 1])), IMAGES))
write("mnist_fuzzer", "invalid_float_images",
      mnist(0, LABELS, idx(0x0D, [3, 1, 1], struct.pack(">3f", 0, 1, 2))))

# ---- safetensors: little-endian header length, JSON header, little-endian data -----------------

def safetensors(header, data=b"", pad=True):
    text = header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


TINY = {  # the fuzzer's module: weight F32 [2, 3], bias F32 [3], steps I64 [1]
    "__metadata__": {"format": "nabla"},
    "steps": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]},
    "bias": {"dtype": "F32", "shape": [3], "data_offsets": [8, 20]},
    "weight": {"dtype": "F32", "shape": [2, 3], "data_offsets": [20, 44]},
}
TINY_DATA = struct.pack("<q", 5) + struct.pack("<3f", 0.5, -1, 2) + struct.pack("<6f", *range(6))
write("safetensors_fuzzer", "valid_tiny_module", safetensors(TINY, TINY_DATA))
write("safetensors_fuzzer", "valid_empty", safetensors({}))
write("safetensors_fuzzer", "valid_scalar_f64_and_empty",
      safetensors({"s": {"dtype": "F64", "shape": [], "data_offsets": [0, 8]},
                   "e": {"dtype": "F32", "shape": [0, 4], "data_offsets": [8, 8]}},
                  struct.pack("<d", 2.5)))
write("safetensors_fuzzer", "valid_unpadded_python_style",
      safetensors(b'{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}',
                  struct.pack("<2f", 1, 2), pad=False))
write("safetensors_fuzzer", "invalid_overlap",
      safetensors({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                   "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8))
write("safetensors_fuzzer", "invalid_wrong_shape_for_module",
      safetensors({"weight": {"dtype": "F32", "shape": [3, 2], "data_offsets": [0, 24]}},
                  b"\0" * 24))
write("safetensors_fuzzer", "invalid_json", safetensors(b'{"a": [1,}'))
# Crashed before the fix: quoting a deeply nested value in the error message overflowed the stack.
deep = b"[" * 1000 + b"]" * 1000
write("safetensors_fuzzer", "crash-nested-shape",
      safetensors(b'{"w":{"dtype":"F32","shape":' + deep + b',"data_offsets":[0,8]}}', b"\0" * 8))
write("safetensors_fuzzer", "crash-nested-metadata", safetensors(b'{"__metadata__":{"k":' + deep + b"}}"))
# Escaped as nlohmann::json::out_of_range instead of nabla::Error before the fix.
write("safetensors_fuzzer", "crash-number-overflow",
      safetensors(b'{"w":{"dtype":"F32","shape":[1e400],"data_offsets":[0,8]}}', b"\0" * 8))
# Crashed under UBSan before the fix (signed overflow in Tensor::empty's strides): empty tensors
# whose other extents multiply beyond int64.
write("safetensors_fuzzer", "crash-empty-huge-shape",
      safetensors(b'{"w":{"dtype":"F32","shape":[0,4294967296,4294967296],"data_offsets":[0,0]}}'))
write("mnist_fuzzer", "crash-empty-images-huge-dims",
      mnist(0, idx(0x08, [0], b""), idx(0x08, [0, 0xFFFFFFFF, 0xFFFFFFFF], b"")))
