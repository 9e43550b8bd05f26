// The library is built for baseline x86-64 (SSE2) so that it runs on any x86-64 machine. Hot
// loops marked NABLA_WIDE_VECTOR_CLONES are also compiled for AVX2 and AVX-512, and the dynamic
// loader picks the widest one the CPU has.
#pragma once

#if defined(__x86_64__)
#define NABLA_WIDE_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NABLA_WIDE_VECTOR_CLONES
#endif

// Inlines every call in the function's body into it (recursively): a wide clone whose loops sit
// in helpers must get its own copy of them, compiled for its target (g++ otherwise calls one
// baseline copy of a large helper from every clone). clang refuses flatten on a multiversioned
// function; it is left to clang's inliner there.
#if defined(__GNUC__) && !defined(__clang__)
#define NABLA_FLATTEN __attribute__((flatten))
#else
#define NABLA_FLATTEN
#endif

// Before a loop: its iterations carry no dependence through memory (the pointers do not alias),
// so g++ vectorizes it without a runtime overlap check. clang has no such pragma and relies on
// __restrict.
#if defined(__GNUC__) && !defined(__clang__)
#define NABLA_IVDEP _Pragma("GCC ivdep")
#else
#define NABLA_IVDEP
#endif
