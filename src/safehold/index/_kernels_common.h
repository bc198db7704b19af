/* Types and helpers shared by every flavour of the kernels; included by _kernels.c after
 * Python.h (seg_t keeps the Py_buffer views that pin its arrays). */
#ifndef SAFEHOLD_KERNELS_COMMON_H
#define SAFEHOLD_KERNELS_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TABLES 64
#define MAX_WORDS 64

typedef struct {
    int start, width, k, s; /* chunk bits [start, start + width); key = first k; s inline */
    int w0;                 /* word holding the chunk's first bit */
    uint64_t cmask0, cmask1; /* chunk bits in words w0 and w0 + 1 */
    int shift;              /* bucket b starts at hi[b >> shift] + lo[b] */
    const uint32_t *hi;     /* (2^k >> shift) + 1 block starts */
    const uint16_t *lo;     /* 2^k + 1 starts relative to their block */
    const uint32_t *entries; /* n entries: (position << s) | suffix */
} table_t;

/* First entry of bucket b (b = 2^k gives n): two-level offsets, ~2 bytes per bucket. */
static inline uint32_t bucket_start(const table_t *t, uint32_t b)
{
    return t->hi[b >> t->shift] + t->lo[b];
}

typedef struct {
    const uint64_t *rows;
    int64_t n;
    int W, m;
    table_t t[MAX_TABLES];
    Py_buffer views[3 * MAX_TABLES + 1];
    int nviews;
} seg_t;

typedef struct {
    int64_t n, cap;
    int32_t *q;
    uint32_t *pos;
    int32_t *d;
} hits_t;

typedef struct {
    int64_t n, cap;
    uint32_t *data;
} ubuf_t;

static int hits_push(hits_t *h, int32_t qi, uint32_t pos, int d)
{
    if (h->n == h->cap) {
        int64_t cap = h->cap ? 2 * h->cap : 1024;
        int32_t *q = (int32_t *)realloc(h->q, (size_t)cap * sizeof(int32_t));
        if (!q) return -1;
        h->q = q;
        uint32_t *p = (uint32_t *)realloc(h->pos, (size_t)cap * sizeof(uint32_t));
        if (!p) return -1;
        h->pos = p;
        int32_t *dd = (int32_t *)realloc(h->d, (size_t)cap * sizeof(int32_t));
        if (!dd) return -1;
        h->d = dd;
        h->cap = cap;
    }
    h->q[h->n] = qi;
    h->pos[h->n] = pos;
    h->d[h->n] = d;
    h->n++;
    return 0;
}

static void hits_free(hits_t *h)
{
    free(h->q);
    free(h->pos);
    free(h->d);
}

static int ubuf_reserve(ubuf_t *b, int64_t extra)
{
    if (b->n + extra <= b->cap) return 0;
    int64_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + extra) cap *= 2;
    uint32_t *data = (uint32_t *)realloc(b->data, (size_t)cap * sizeof(uint32_t));
    if (!data) return -1;
    b->data = data;
    b->cap = cap;
    return 0;
}

/* n <= 64 bits starting at bit `start` (the caller guarantees they lie inside the row). */
static inline uint64_t extract_bits(const uint64_t *w, int start, int n)
{
    int wi = start >> 6, off = start & 63;
    uint64_t v = w[wi] >> off;
    if (off && off + n > 64) v |= w[wi + 1] << (64 - off);
    return n >= 64 ? v : (v & ((((uint64_t)1) << n) - 1));
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

#endif
