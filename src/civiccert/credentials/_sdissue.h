/* Shared by the compiled issuance helpers (_sdissue_c.c, _sdissue_paper.c): a growable byte buffer and the
 * FALLBACK convention (0 done, -1 Python error set, FALLBACK: outside what we handle, the Python path decides). */
#ifndef CIVICCERT_SDISSUE_H
#define CIVICCERT_SDISSUE_H

#define PY_SSIZE_T_CLEAN
/* SHA256_Init/Update/Final: deprecated in OpenSSL 3 but kept; the one-shot SHA256() fetches the algorithm
 * on every call, which cost more than the hashing of a 100-byte disclosure. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <Python.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FALLBACK 1
#define MAX_DEPTH 64
#define SALT_CHARS 22
#define DIGEST_CHARS 43

typedef struct {
    char *data;
    Py_ssize_t len, cap;
} Buf;

static inline int buf_reserve(Buf *b, Py_ssize_t extra) {
    if (b->len + extra <= b->cap) return 0;
    Py_ssize_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra) cap *= 2;
    char *data = PyMem_Realloc(b->data, (size_t)cap);
    if (!data) {
        PyErr_NoMemory();
        return -1;
    }
    b->data = data;
    b->cap = cap;
    return 0;
}

static inline int buf_put(Buf *b, const char *s, Py_ssize_t n) {
    if (buf_reserve(b, n) < 0) return -1;
    memcpy(b->data + b->len, s, (size_t)n);
    b->len += n;
    return 0;
}

static inline int buf_putc(Buf *b, char c) {
    if (b->len >= b->cap && buf_reserve(b, 1) < 0) return -1;
    b->data[b->len++] = c;
    return 0;
}

static inline void buf_free(Buf *b) {
    PyMem_Free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* _sdissue_paper.c */
PyObject *sdissue_cbor_canonical(PyObject *self, PyObject *node);
PyObject *sdissue_pack_claims(PyObject *self, PyObject *args);

#endif
