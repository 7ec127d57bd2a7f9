// Run-time ISA dispatch for the hand-written row loops of the model's CPU kernels.
// The build targets baseline x86-64 (4 floats per vector); a loop marked GST_VECTOR_CLONES is
// compiled once per vector width and the widest the CPU runs is picked at load time. Helpers it
// calls must be GST_INLINE: a call would run baseline code.
#pragma once

// GST_AVX2_CLONES: the same without AVX-512, for memory-bound loops that 256-bit vectors keep up
// with (the aggregation, which training runs as well).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define GST_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#define GST_AVX2_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define GST_VECTOR_CLONES
#define GST_AVX2_CLONES
#endif

#define GST_INLINE inline __attribute__((always_inline))
