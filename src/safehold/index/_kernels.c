/* safehold.index._kernels: compiled hot loops of the exact binary-hash index.
 *
 * Why C: the inner loops (bucket probing, suffix filtering, XOR + popcount verification,
 * table construction) run hundreds of millions of times per second; NumPy cannot express
 * the data-dependent probing without Python-level loops, and numba would add a large
 * run-time dependency (decision record 0005). The module uses only the stable CPython API
 * and the buffer protocol (no NumPy headers) and releases the GIL in every hot function.
 * Files: _kernels_common.h (types, helpers), _kernels_impl.h (hot loops),
 * _kernels_flavours.h (one copy of the loops per instruction set), this file (Python glue).
 *
 * Rows are C-contiguous uint64 words, W per hash; bit p of a row lives in word p / 64 at
 * bit p % 64 (least significant first). Positions are row numbers within one segment
 * (uint32). Results come back as three bytes objects: CSR offsets (int64, nq + 1), positions
 * (uint32) and distances (int32), hits of each query sorted by position.
 *
 * Instruction sets: the loops are compiled four times (avx512, avx2, popcnt, base; only base
 * off x86-64) under target pragmas, never with -march=native, and the fastest flavour the CPU
 * supports is chosen at import (flavour(), flavours(), set_flavour()).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "_kernels_common.h"
#include "_kernels_flavours.h"

/* Group hits by query (stable), sort each query's hits by position, return three bytes. */
static PyObject *hits_to_csr(hits_t *h, int64_t nq)
{
    PyObject *offs = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)((nq + 1) * sizeof(int64_t)));
    PyObject *pos = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(h->n * sizeof(uint32_t)));
    PyObject *dist = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(h->n * sizeof(int32_t)));
    uint64_t *tmp = (uint64_t *)malloc((size_t)(h->n ? h->n : 1) * sizeof(uint64_t));
    if (!offs || !pos || !dist || !tmp) {
        Py_XDECREF(offs);
        Py_XDECREF(pos);
        Py_XDECREF(dist);
        free(tmp);
        return PyErr_NoMemory();
    }
    int64_t *o = (int64_t *)PyBytes_AS_STRING(offs);
    uint32_t *po = (uint32_t *)PyBytes_AS_STRING(pos);
    int32_t *dd = (int32_t *)PyBytes_AS_STRING(dist);
    Py_BEGIN_ALLOW_THREADS
    memset(o, 0, (size_t)(nq + 1) * sizeof(int64_t));
    for (int64_t i = 0; i < h->n; i++) o[h->q[i] + 1]++;
    for (int64_t i = 0; i < nq; i++) o[i + 1] += o[i];
    /* o[qi] is now each query's start; fill tmp stably, then restore the starts. */
    for (int64_t i = 0; i < h->n; i++)
        tmp[o[h->q[i]]++] = ((uint64_t)h->pos[i] << 32) | (uint32_t)h->d[i];
    for (int64_t i = nq; i > 0; i--) o[i] = o[i - 1];
    o[0] = 0;
    for (int64_t qi = 0; qi < nq; qi++) {
        int64_t a = o[qi], b = o[qi + 1];
        int sorted = 1;
        for (int64_t i = a + 1; i < b; i++) {
            if (tmp[i] < tmp[i - 1]) {
                sorted = 0;
                break;
            }
        }
        if (!sorted) qsort(tmp + a, (size_t)(b - a), sizeof(uint64_t), cmp_u64);
    }
    for (int64_t i = 0; i < h->n; i++) {
        po[i] = (uint32_t)(tmp[i] >> 32);
        dd[i] = (int32_t)(tmp[i] & 0xffffffffu);
    }
    Py_END_ALLOW_THREADS
    free(tmp);
    return Py_BuildValue("(NNN)", offs, pos, dist);
}

/* Fetch a C-contiguous buffer of at least `need` bytes. */
static int get_buffer(PyObject *obj, Py_buffer *view, int writable, Py_ssize_t need,
                      const char *what)
{
    int flags = PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) return -1;
    if (view->len < need) {
        PyErr_Format(PyExc_ValueError, "%s: buffer of %zd bytes, need %zd", what, view->len,
                     need);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static int fill_table(table_t *t, int start, int width, int k, int s, int W)
{
    if (width < 1 || width > 64 || k < 1 || k > 30 || s < 0 || s > 31 || k + s > width ||
        start < 0 || start + width > 64 * W) {
        PyErr_SetString(PyExc_ValueError, "invalid table geometry");
        return -1;
    }
    t->start = start;
    t->width = width;
    t->k = k;
    t->s = s;
    t->w0 = start >> 6;
    int off = start & 63;
    int first = 64 - off < width ? 64 - off : width;
    t->cmask0 = (first == 64 ? ~(uint64_t)0 : ((((uint64_t)1) << first) - 1)) << off;
    int rest = width - first;
    t->cmask1 = rest ? ((((uint64_t)1) << rest) - 1) : 0;
    return 0;
}

PyDoc_STRVAR(build_table_doc,
             "build_table(rows, n, words, start, width, k, s, offsets, entries)\n\n"
             "Bucket n rows by bits [start, start + k) into offsets (uint32, 2**k + 1) and\n"
             "entries (uint32, n): (position << s) | next s bits. GIL released.");

static PyObject *py_build_table(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *rows_o, *off_o, *ent_o;
    Py_ssize_t n;
    int W, start, width, k, s;
    if (!PyArg_ParseTuple(args, "OniiiiiOO", &rows_o, &n, &W, &start, &width, &k, &s, &off_o,
                          &ent_o))
        return NULL;
    if (W < 1 || W > MAX_WORDS || n < 0 || n > 0xffffffffLL || s < 0 || s > 31 ||
        (n > 0 && ((uint64_t)(n - 1) >> (32 - s)) != 0)) {
        PyErr_SetString(PyExc_ValueError, "invalid row count, width or suffix length");
        return NULL;
    }
    table_t t;
    if (fill_table(&t, start, width, k, s, W)) return NULL;
    Py_buffer rows, off, ent;
    if (get_buffer(rows_o, &rows, 0, n * W * 8, "rows")) return NULL;
    if (get_buffer(off_o, &off, 1, (((Py_ssize_t)1 << k) + 1) * 4, "offsets")) {
        PyBuffer_Release(&rows);
        return NULL;
    }
    if (get_buffer(ent_o, &ent, 1, n * 4, "entries")) {
        PyBuffer_Release(&rows);
        PyBuffer_Release(&off);
        return NULL;
    }
    int rc;
    build_table_fn build = active->build_table;
    Py_BEGIN_ALLOW_THREADS
    rc = build((const uint64_t *)rows.buf, n, W, &t, (uint32_t *)off.buf,
                          (uint32_t *)ent.buf);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&rows);
    PyBuffer_Release(&off);
    PyBuffer_Release(&ent);
    if (rc) return PyErr_NoMemory();
    Py_RETURN_NONE;
}

static void seg_free(PyObject *capsule)
{
    seg_t *g = (seg_t *)PyCapsule_GetPointer(capsule, "safehold.index.segment");
    if (!g) return;
    for (int i = 0; i < g->nviews; i++) PyBuffer_Release(&g->views[i]);
    free(g);
}

PyDoc_STRVAR(make_segment_doc,
             "make_segment(rows, n, words, tables) -> handle\n\n"
             "Bind rows and tables [(start, width, k, s, shift, hi, lo, entries), ...] into a\n"
             "handle for mih_search (bucket b starts at hi[b >> shift] + lo[b]); the handle\n"
             "keeps the buffers alive. Every table is checked: starts non-decreasing from 0 to\n"
             "n, entries pointing inside the rows.");

static PyObject *py_make_segment(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *rows_o, *tables_o;
    Py_ssize_t n;
    int W;
    if (!PyArg_ParseTuple(args, "OniO", &rows_o, &n, &W, &tables_o)) return NULL;
    PyObject *seq = PySequence_Fast(tables_o, "tables must be a sequence");
    if (!seq) return NULL;
    Py_ssize_t m = PySequence_Fast_GET_SIZE(seq);
    if (W < 1 || W > MAX_WORDS || m < 1 || m > MAX_TABLES || n < 0 || n > 0xffffffffLL) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "invalid segment geometry");
        return NULL;
    }
    seg_t *g = (seg_t *)calloc(1, sizeof(seg_t));
    if (!g) {
        Py_DECREF(seq);
        return PyErr_NoMemory();
    }
    g->n = n;
    g->W = W;
    g->m = (int)m;
    if (get_buffer(rows_o, &g->views[g->nviews], 0, n * W * 8, "rows")) goto fail;
    g->rows = (const uint64_t *)g->views[g->nviews++].buf;
    for (Py_ssize_t j = 0; j < m; j++) {
        PyObject *hi_o, *lo_o, *ent_o;
        int start, width, k, s, shift;
        table_t *t = &g->t[j];
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, j), "iiiiiOOO", &start, &width, &k,
                              &s, &shift, &hi_o, &lo_o, &ent_o))
            goto fail;
        if (fill_table(t, start, width, k, s, W)) goto fail;
        if (shift < 0 || shift > k || shift > 16) {
            PyErr_SetString(PyExc_ValueError, "invalid table geometry (shift)");
            goto fail;
        }
        t->shift = shift;
        Py_ssize_t nb = (Py_ssize_t)1 << k;
        if (get_buffer(hi_o, &g->views[g->nviews], 0, ((nb >> shift) + 1) * 4, "hi")) goto fail;
        t->hi = (const uint32_t *)g->views[g->nviews++].buf;
        if (get_buffer(lo_o, &g->views[g->nviews], 0, (nb + 1) * 2, "lo")) goto fail;
        t->lo = (const uint16_t *)g->views[g->nviews++].buf;
        if (get_buffer(ent_o, &g->views[g->nviews], 0, n * 4, "entries")) goto fail;
        t->entries = (const uint32_t *)g->views[g->nviews++].buf;
        /* Bucket starts must run from 0 to n without going back, and entries must point
         * inside the rows, else a probe could read out of bounds (a snapshot is checksummed,
         * but the kernel does not trust its input blindly). */
        uint64_t prev = 0;
        for (Py_ssize_t b = 0; b <= nb; b++) {
            uint64_t cur = (uint64_t)t->hi[b >> shift] + t->lo[b];
            if (cur < prev || (b == 0 && cur != 0) || (b == nb && cur != (uint64_t)n) ||
                cur > (uint64_t)n) {
                PyErr_SetString(PyExc_ValueError, "table offsets do not cover the rows");
                goto fail;
            }
            prev = cur;
        }
        uint32_t top = 0;
        for (Py_ssize_t i = 0; i < n; i++) top = t->entries[i] > top ? t->entries[i] : top;
        if (n > 0 && (int64_t)(top >> s) >= (int64_t)n) {
            PyErr_SetString(PyExc_ValueError, "table entries point past the rows");
            goto fail;
        }
    }
    Py_DECREF(seq);
    PyObject *cap = PyCapsule_New(g, "safehold.index.segment", seg_free);
    if (!cap) {
        for (int i = 0; i < g->nviews; i++) PyBuffer_Release(&g->views[i]);
        free(g);
    }
    return cap;
fail:
    Py_DECREF(seq);
    for (int i = 0; i < g->nviews; i++) PyBuffer_Release(&g->views[i]);
    free(g);
    return NULL;
}

static int get_skip(PyObject *skip_o, Py_buffer *view, int64_t n)
{
    if (skip_o == Py_None) return 0;
    return get_buffer(skip_o, view, 0, (Py_ssize_t)((n + 7) / 8), "skip");
}

PyDoc_STRVAR(mih_search_doc,
             "mih_search(handle, skip, queries, nq, radius, radii) -> (offsets, pos, dist)\n\n"
             "Exact multi-index search of nq queries; radii[j] is table j's radius (-1 skips it)\n"
             "and must satisfy sum(radii[j] + 1) >= radius + 1. skip is None or a bitmap of rows\n"
             "never to report. GIL released.");

static PyObject *py_mih_search(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *cap, *skip_o, *q_o, *radii_o;
    Py_ssize_t nq;
    int radius;
    if (!PyArg_ParseTuple(args, "OOOniO", &cap, &skip_o, &q_o, &nq, &radius, &radii_o))
        return NULL;
    seg_t *g = (seg_t *)PyCapsule_GetPointer(cap, "safehold.index.segment");
    if (!g) return NULL;
    int radii[MAX_TABLES];
    PyObject *seq = PySequence_Fast(radii_o, "radii must be a sequence");
    if (!seq) return NULL;
    if (PySequence_Fast_GET_SIZE(seq) != g->m) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_ValueError, "one radius per table");
        return NULL;
    }
    long budget = 0;
    for (int j = 0; j < g->m; j++) {
        radii[j] = (int)PyLong_AsLong(PySequence_Fast_GET_ITEM(seq, j));
        if (radii[j] == -1 && PyErr_Occurred()) {
            Py_DECREF(seq);
            return NULL;
        }
        if (radii[j] < -1) radii[j] = -1;
        budget += radii[j] + 1;
    }
    Py_DECREF(seq);
    if (radius >= 0 && budget < (long)radius + 1) {
        PyErr_SetString(PyExc_ValueError, "table radii do not cover the search radius");
        return NULL;
    }
    Py_buffer qv, sv;
    if (get_buffer(q_o, &qv, 0, nq * g->W * 8, "queries")) return NULL;
    if (get_skip(skip_o, &sv, g->n)) {
        PyBuffer_Release(&qv);
        return NULL;
    }
    const uint8_t *skip = skip_o == Py_None ? NULL : (const uint8_t *)sv.buf;
    hits_t h = {0};
    ubuf_t cands = {0};
    int rc = 0;
    mih_query_fn query = active->mih_query;
    if (radius >= 0) {
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t i = 0; i < nq && !rc; i++)
            rc = query(g, skip, (const uint64_t *)qv.buf + i * g->W, radius, radii, &h,
                                (int32_t)i, &cands);
        Py_END_ALLOW_THREADS
    }
    free(cands.data);
    PyBuffer_Release(&qv);
    if (skip) PyBuffer_Release(&sv);
    if (rc) {
        hits_free(&h);
        return PyErr_NoMemory();
    }
    PyObject *res = hits_to_csr(&h, nq);
    hits_free(&h);
    return res;
}

PyDoc_STRVAR(scan_search_doc,
             "scan_search(rows, n, words, skip, queries, nq, radius) -> (offsets, pos, dist)\n\n"
             "Exact linear scan (XOR + popcount) of n rows for nq queries. GIL released.");

static PyObject *py_scan_search(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *rows_o, *skip_o, *q_o;
    Py_ssize_t n, nq;
    int W, radius;
    if (!PyArg_ParseTuple(args, "OniOOni", &rows_o, &n, &W, &skip_o, &q_o, &nq, &radius))
        return NULL;
    if (W < 1 || W > MAX_WORDS || n < 0 || n > 0xffffffffLL || nq < 0) {
        PyErr_SetString(PyExc_ValueError, "invalid scan geometry");
        return NULL;
    }
    Py_buffer rv, qv, sv;
    if (get_buffer(rows_o, &rv, 0, n * W * 8, "rows")) return NULL;
    if (get_buffer(q_o, &qv, 0, nq * W * 8, "queries")) {
        PyBuffer_Release(&rv);
        return NULL;
    }
    if (get_skip(skip_o, &sv, n)) {
        PyBuffer_Release(&rv);
        PyBuffer_Release(&qv);
        return NULL;
    }
    const uint8_t *skip = skip_o == Py_None ? NULL : (const uint8_t *)sv.buf;
    hits_t h = {0};
    int rc = 0;
    scan_batch_fn scan = active->scan_batch;
    if (radius >= 0) {
        Py_BEGIN_ALLOW_THREADS
        rc = scan((const uint64_t *)rv.buf, n, W, skip, (const uint64_t *)qv.buf, nq,
                             radius, &h);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&rv);
    PyBuffer_Release(&qv);
    if (skip) PyBuffer_Release(&sv);
    if (rc) {
        hits_free(&h);
        return PyErr_NoMemory();
    }
    PyObject *res = hits_to_csr(&h, nq);
    hits_free(&h);
    return res;
}

static PyObject *py_flavour(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
    return PyUnicode_FromString(active->name);
}

static PyObject *py_flavours(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
    PyObject *out = PyList_New(0);
    for (int i = 0; out && i < N_FLAVOURS; i++) {
        if (!flavours[i].supported) continue;
        PyObject *name = PyUnicode_FromString(flavours[i].name);
        if (!name || PyList_Append(out, name) < 0) {
            Py_XDECREF(name);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(name);
    }
    return out;
}

static PyObject *py_set_flavour(PyObject *self, PyObject *args)
{
    (void)self;
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name)) return NULL;
    for (int i = 0; i < N_FLAVOURS; i++) {
        if (!strcmp(flavours[i].name, name)) {
            if (!flavours[i].supported) break;
            active = &flavours[i];
            Py_RETURN_NONE;
        }
    }
    PyErr_Format(PyExc_ValueError, "kernel flavour %s is not available on this CPU", name);
    return NULL;
}

static PyMethodDef methods[] = {
    {"build_table", py_build_table, METH_VARARGS, build_table_doc},
    {"make_segment", py_make_segment, METH_VARARGS, make_segment_doc},
    {"mih_search", py_mih_search, METH_VARARGS, mih_search_doc},
    {"scan_search", py_scan_search, METH_VARARGS, scan_search_doc},
    {"flavour", py_flavour, METH_NOARGS, "Instruction-set flavour in use (e.g. 'avx512')."},
    {"flavours", py_flavours, METH_NOARGS, "Flavours this CPU supports, fastest first."},
    {"set_flavour", py_set_flavour, METH_VARARGS, "Use the named flavour (tests, benchmarks)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_kernels",
    "Compiled kernels of safehold.index (see _kernels.c).", -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__kernels(void)
{
    detect_flavours();
    return PyModule_Create(&module);
}
