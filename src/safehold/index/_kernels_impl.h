/* Hot loops of safehold.index._kernels, compiled once per instruction-set flavour.
 *
 * _kernels.c includes this file four times, each under its own target pragma, with
 * FLAVOUR(name) naming the copy and BUCKET_SIMD picking the bucket scanner: avx512
 * (AVX-512F + VPOPCNTDQ, 16 entries per step), avx2 (8 per step), popcnt and base
 * (scalar). It picks one at import time with __builtin_cpu_supports. Nothing here touches
 * Python objects, so every function may run with the GIL released.
 *
 * Algorithm: multi-index hashing (Norouzi, Punjani and Fleet, "Fast Search in Hamming Space
 * with Multi-Index Hashing", CVPR 2012) with the general pigeonhole principle (Qin et al.,
 * "GPH: Similarity Search in Hamming Space", ICDE 2018): the hash is cut into m disjoint
 * chunks; if the distance is at most r then some chunk j is within r_j of the query whenever
 * sum_j (r_j + 1) >= r + 1 (r_j = -1 skips a chunk). Each chunk's table buckets entries by the
 * chunk's first k bits and stores the next s bits inline beside the entry's position, so most
 * false candidates are dropped without touching the 32-byte row.
 */

static inline int FLAVOUR(pc64)(uint64_t x) { return __builtin_popcountll(x); }

static inline int FLAVOUR(dist)(const uint64_t *a, const uint64_t *b, int W)
{
    if (W == 4) {
        return FLAVOUR(pc64)(a[0] ^ b[0]) + FLAVOUR(pc64)(a[1] ^ b[1]) +
               FLAVOUR(pc64)(a[2] ^ b[2]) + FLAVOUR(pc64)(a[3] ^ b[3]);
    }
    int d = 0;
    for (int w = 0; w < W; w++) d += FLAVOUR(pc64)(a[w] ^ b[w]);
    return d;
}

/* Distance restricted to chunk t's bits (used to report each hit from one table only). */
static inline int FLAVOUR(chunk_dist)(const table_t *t, const uint64_t *a, const uint64_t *b)
{
    int d = FLAVOUR(pc64)((a[t->w0] ^ b[t->w0]) & t->cmask0);
    if (t->cmask1) d += FLAVOUR(pc64)((a[t->w0 + 1] ^ b[t->w0 + 1]) & t->cmask1);
    return d;
}

/* Linear scan of rows [lo, hi) against one query; appends hits (query index qi). */
static int FLAVOUR(scan_rows)(const uint64_t *rows, int64_t lo, int64_t hi, int W,
                              const uint8_t *skip, const uint64_t *q, int radius, hits_t *out,
                              int32_t qi)
{
    for (int64_t i = lo; i < hi; i++) {
        int d = FLAVOUR(dist)(rows + i * W, q, W);
        if (d <= radius && !(skip && ((skip[i >> 3] >> (i & 7)) & 1))) {
            if (hits_push(out, qi, (uint32_t)i, d)) return -1;
        }
    }
    return 0;
}

/* Batch linear scan: tiles of rows stay in cache while every query passes over them. */
static int FLAVOUR(scan_batch)(const uint64_t *rows, int64_t n, int W, const uint8_t *skip,
                               const uint64_t *queries, int64_t nq, int radius, hits_t *out)
{
    const int64_t tile = 8192;
    for (int64_t lo = 0; lo < n; lo += tile) {
        int64_t hi = lo + tile < n ? lo + tile : n;
        for (int64_t qi = 0; qi < nq; qi++) {
            if (FLAVOUR(scan_rows)(rows, lo, hi, W, skip, queries + qi * W, radius, out,
                                   (int32_t)qi))
                return -1;
        }
    }
    return 0;
}

/* Counting sort of one table: offsets[key] .. offsets[key + 1] hold the entries of bucket
 * `key`, each (position << s) | suffix, positions ascending within a bucket. */
static int FLAVOUR(build_table)(const uint64_t *rows, int64_t n, int W, const table_t *t,
                                uint32_t *offsets, uint32_t *entries)
{
    const int64_t nb = (int64_t)1 << t->k;
    const uint64_t kmask = ((uint64_t)1 << t->k) - 1;
    const uint64_t smask = t->s ? (((uint64_t)1 << t->s) - 1) : 0;
    uint32_t *cursor = (uint32_t *)malloc((size_t)nb * sizeof(uint32_t));
    if (!cursor) return -1;
    memset(offsets, 0, (size_t)(nb + 1) * sizeof(uint32_t));
    for (int64_t i = 0; i < n; i++) {
        uint64_t c = extract_bits(rows + i * W, t->start, t->k);
        offsets[(c & kmask) + 1]++;
    }
    for (int64_t b = 0; b < nb; b++) offsets[b + 1] += offsets[b];
    memcpy(cursor, offsets, (size_t)nb * sizeof(uint32_t));
    for (int64_t i = 0; i < n; i++) {
        uint64_t c = extract_bits(rows + i * W, t->start, t->k + t->s);
        uint32_t key = (uint32_t)(c & kmask);
        entries[cursor[key]++] = ((uint32_t)i << t->s) | (uint32_t)((c >> t->k) & smask);
    }
    free(cursor);
    return 0;
}


#if BUCKET_SIMD == 512
/* 16 entries per step: AVX-512 VPOPCNTDQ popcount, compress-store of the survivors. */
static inline int64_t FLAVOUR(scan_bucket)(const uint32_t *ent, uint32_t lo, uint32_t hi,
                                           uint32_t qsuf, uint32_t smask, int s, int rem,
                                           uint32_t *dst)
{
    const __m512i vq = _mm512_set1_epi32((int)qsuf), vm = _mm512_set1_epi32((int)smask);
    const __m512i vr = _mm512_set1_epi32(rem);
    const __m128i sh = _mm_cvtsi32_si128(s);
    int64_t m = 0;
    uint32_t e = lo;
    for (; e < hi; e += 16) {
        __mmask16 live = hi - e >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (hi - e)) - 1);
        __m512i v = _mm512_maskz_loadu_epi32(live, ent + e);
        __m512i x = _mm512_and_si512(_mm512_xor_si512(v, vq), vm);
        __mmask16 ok = _mm512_mask_cmple_epu32_mask(live, _mm512_popcnt_epi32(x), vr);
        _mm512_mask_compressstoreu_epi32(dst + m, ok, _mm512_srl_epi32(v, sh));
        m += __builtin_popcount((unsigned)ok);
    }
    return m;
}
#elif BUCKET_SIMD == 256
/* 8 entries per step: AVX2 nibble-table popcount (Mula, Kurz and Lemire, "Faster
 * Population Counts Using AVX2 Instructions", 2018), survivors picked from the mask. */
static inline int64_t FLAVOUR(scan_bucket)(const uint32_t *ent, uint32_t lo, uint32_t hi,
                                           uint32_t qsuf, uint32_t smask, int s, int rem,
                                           uint32_t *dst)
{
    const __m256i vq = _mm256_set1_epi32((int)qsuf), vm = _mm256_set1_epi32((int)smask);
    const __m256i vr = _mm256_set1_epi32(rem), low4 = _mm256_set1_epi8(0x0f);
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1,
                                         1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    const __m128i sh = _mm_cvtsi32_si128(s);
    int64_t m = 0;
    uint32_t e = lo;
    for (; e + 8 <= hi; e += 8) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(ent + e));
        __m256i x = _mm256_and_si256(_mm256_xor_si256(v, vq), vm);
        __m256i c8 = _mm256_add_epi8(
            _mm256_shuffle_epi8(lut, _mm256_and_si256(x, low4)),
            _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(x, 4), low4)));
        __m256i c32 = _mm256_madd_epi16(_mm256_maddubs_epi16(c8, ones8), ones16);
        __m256i over = _mm256_cmpgt_epi32(c32, vr);
        unsigned ok = ~(unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(over)) & 0xffu;
        if (ok) {
            uint32_t pos[8];
            _mm256_storeu_si256((__m256i *)pos, _mm256_srl_epi32(v, sh));
            while (ok) {
                dst[m++] = pos[__builtin_ctz(ok)];
                ok &= ok - 1;
            }
        }
    }
    for (; e < hi; e++) {
        uint32_t v = ent[e];
        dst[m] = v >> s;
        m += FLAVOUR(pc64)((v ^ qsuf) & smask) <= rem;
    }
    return m;
}
#else
static inline int64_t FLAVOUR(scan_bucket)(const uint32_t *ent, uint32_t lo, uint32_t hi,
                                           uint32_t qsuf, uint32_t smask, int s, int rem,
                                           uint32_t *dst)
{
    int64_t m = 0;
    for (uint32_t e = lo; e < hi; e++) {
        uint32_t v = ent[e];
        dst[m] = v >> s;
        m += FLAVOUR(pc64)((v ^ qsuf) & smask) <= rem;
    }
    return m;
}
#endif


/* Probe the buckets `keys[0..nk)` (prefix distance p) of table t; append positions whose
 * inline suffix is within `rem` bits of the query suffix `qsuf` to cands. */
static int FLAVOUR(probe_keys)(const table_t *t, const uint32_t *keys, int nk, uint32_t qsuf,
                               int rem, ubuf_t *cands)
{
    const uint32_t *ent = t->entries;
    const int s = t->s;
    const uint32_t smask = s ? (uint32_t)((((uint64_t)1) << s) - 1) : 0;
    const int check = rem < s;
    for (int i = 0; i < nk; i++) {
        if (i + PF_OFFSETS < nk) __builtin_prefetch(t->lo + keys[i + PF_OFFSETS]);
        if (i + PF_ENTRIES < nk) {
            uint32_t key = keys[i + PF_ENTRIES];
            uint32_t a = bucket_start(t, key), b = bucket_start(t, key + 1);
            if (b > a) {
                __builtin_prefetch(ent + a);
                __builtin_prefetch(ent + b - 1);
            }
        }
        uint32_t lo = bucket_start(t, keys[i]), hi = bucket_start(t, keys[i] + 1);
        if (hi == lo) continue;
        if (ubuf_reserve(cands, hi - lo + 16)) return -1;
        uint32_t *dst = cands->data + cands->n;
        int64_t m;
        if (check) {
            m = FLAVOUR(scan_bucket)(ent, lo, hi, qsuf, smask, s, rem, dst);
        } else {
            m = 0;
            for (uint32_t e = lo; e < hi; e++) dst[m++] = ent[e] >> s;
        }
        cands->n += m;
    }
    return 0;
}

/* Exact radius search of one query over a segment with tables; radii[j] = -1 skips table j.
 * Appends hits (position, distance) for query qi, each hit exactly once. */
static int FLAVOUR(mih_query)(const seg_t *g, const uint8_t *skip, const uint64_t *q,
                              int radius, const int *radii, hits_t *out, int32_t qi,
                              ubuf_t *cands)
{
    uint32_t keys[KEY_BLOCK];
    const int W = g->W;
    for (int j = 0; j < g->m; j++) {
        const table_t *t = &g->t[j];
        const int rj = radii[j];
        if (rj < 0) continue;
        uint64_t qc = extract_bits(q, t->start, t->k + t->s);
        uint32_t qkey = (uint32_t)(qc & ((((uint64_t)1) << t->k) - 1));
        uint32_t qsuf = (uint32_t)(qc >> t->k);
        cands->n = 0;
        int pmax = rj < t->k ? rj : t->k;
        for (int p = 0; p <= pmax; p++) {
            /* Gosper's hack: every k-bit mask with p bits set, in increasing order. */
            uint64_t limit = ((uint64_t)1) << t->k;
            uint64_t x = (((uint64_t)1) << p) - 1;
            int nk = 0;
            while (x < limit) {
                keys[nk++] = qkey ^ (uint32_t)x;
                if (nk == KEY_BLOCK) {
                    if (FLAVOUR(probe_keys)(t, keys, nk, qsuf, rj - p, cands)) return -1;
                    nk = 0;
                }
                if (x == 0) break;
                /* next mask with the same popcount (Gosper's hack, ctz form: no division) */
                uint64_t t = x | (x - 1);
                x = (t + 1) | (((~t & (t + 1)) - 1) >> (__builtin_ctzll(x) + 1));
            }
            if (nk && FLAVOUR(probe_keys)(t, keys, nk, qsuf, rj - p, cands)) return -1;
        }
        /* Verify candidates against the full rows; report x from the first table whose
         * chunk is within its radius, so each hit is reported once. */
        const uint32_t *cd = cands->data;
        const int64_t nc = cands->n;
        for (int64_t i = 0; i < nc; i++) {
            if (i + PF_ROWS < nc) __builtin_prefetch(g->rows + (int64_t)cd[i + PF_ROWS] * W);
            uint32_t pos = cd[i];
            const uint64_t *row = g->rows + (int64_t)pos * W;
            int d = FLAVOUR(dist)(row, q, W);
            if (d > radius) continue;
            if (FLAVOUR(chunk_dist)(t, row, q) > rj) continue;
            int first = 1;
            for (int i2 = 0; i2 < j; i2++) {
                if (radii[i2] >= 0 && FLAVOUR(chunk_dist)(&g->t[i2], row, q) <= radii[i2]) {
                    first = 0;
                    break;
                }
            }
            if (!first) continue;
            if (skip && ((skip[pos >> 3] >> (pos & 7)) & 1)) continue;
            if (hits_push(out, qi, pos, d)) return -1;
        }
    }
    return 0;
}
