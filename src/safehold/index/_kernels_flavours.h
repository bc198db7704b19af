/* The four compiled copies of the hot loops and the choice among them (_kernels.c).
 * Define SAFEHOLD_PORTABLE_ONLY to build only the portable copy (tests of that build).
 *
 * _kernels_impl.h is included once per instruction set under a target pragma (clang and GCC
 * spell it differently); nothing is built with -march=native, so one binary runs on any
 * x86-64 CPU and picks the fastest copy the CPU supports at import. Off x86-64 only the
 * portable copy exists.
 */
#ifndef KEY_BLOCK
#define KEY_BLOCK 512 /* bucket keys generated per probing round */
#endif
#ifndef PF_OFFSETS
#define PF_OFFSETS 16 /* prefetch distances, in buckets / candidate rows */
#endif
#ifndef PF_ENTRIES
#define PF_ENTRIES 8
#endif
#ifndef PF_ROWS
#define PF_ROWS 8
#endif

/* One copy of the hot loops per instruction set; clang and GCC spell the pragma differently. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(SAFEHOLD_PORTABLE_ONLY)
#define X86_FLAVOURS 1
#include <immintrin.h>

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("popcnt,avx2,avx512f,avx512vpopcntdq"))), \
                             apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("popcnt,avx2,avx512f,avx512vpopcntdq")
#endif
#define FLAVOUR(name) name##_avx512
#define BUCKET_SIMD 512
#include "_kernels_impl.h"
#undef FLAVOUR
#undef BUCKET_SIMD
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("popcnt,avx2"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("popcnt,avx2")
#endif
#define FLAVOUR(name) name##_avx2
#define BUCKET_SIMD 256
#include "_kernels_impl.h"
#undef FLAVOUR
#undef BUCKET_SIMD
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("popcnt"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("popcnt")
#endif
#define FLAVOUR(name) name##_popcnt
#define BUCKET_SIMD 0
#include "_kernels_impl.h"
#undef FLAVOUR
#undef BUCKET_SIMD
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif /* x86-64 */

#define FLAVOUR(name) name##_base
#define BUCKET_SIMD 0
#include "_kernels_impl.h"
#undef FLAVOUR
#undef BUCKET_SIMD

typedef int (*scan_batch_fn)(const uint64_t *, int64_t, int, const uint8_t *, const uint64_t *,
                             int64_t, int, hits_t *);
typedef int (*build_table_fn)(const uint64_t *, int64_t, int, const table_t *, uint32_t *,
                              uint32_t *);
typedef int (*mih_query_fn)(const seg_t *, const uint8_t *, const uint64_t *, int, const int *,
                            hits_t *, int32_t, ubuf_t *);

typedef struct {
    const char *name;
    scan_batch_fn scan_batch;
    build_table_fn build_table;
    mih_query_fn mih_query;
    int supported;
} flavour_t;

#define FLAVOUR_ENTRY(n) {#n, scan_batch_##n, build_table_##n, mih_query_##n, 0}
static flavour_t flavours[] = {
#ifdef X86_FLAVOURS
    FLAVOUR_ENTRY(avx512),
    FLAVOUR_ENTRY(avx2),
    FLAVOUR_ENTRY(popcnt),
#endif
    FLAVOUR_ENTRY(base),
};
#define N_FLAVOURS ((int)(sizeof(flavours) / sizeof(flavours[0])))
static const flavour_t *active = &flavours[N_FLAVOURS - 1];

/* Mark what this CPU (and OS) supports; the first supported flavour is the fastest. */
static void detect_flavours(void)
{
#ifdef X86_FLAVOURS
    __builtin_cpu_init();
#endif
    for (int i = 0; i < N_FLAVOURS; i++) {
        int ok = 1;
#ifdef X86_FLAVOURS
        const char *n = flavours[i].name;
        if (!strcmp(n, "avx512"))
            ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vpopcntdq") &&
                 __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
        else if (!strcmp(n, "avx2"))
            ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
        else if (!strcmp(n, "popcnt"))
            ok = __builtin_cpu_supports("popcnt");
#endif
        flavours[i].supported = ok;
    }
    for (int i = N_FLAVOURS - 1; i >= 0; i--)
        if (flavours[i].supported) active = &flavours[i];
}

