/* Compiled issuance: the SD-JWT payload JSON and every disclosure of one credential in one call, and the
 * canonical CBOR of the printed copy's claims.
 *
 * Mirrors civiccert.credentials.sdjwt._Issuance for the common case (exact dict / list / tuple / str / int /
 * bool / None, str claim names, ``Sd`` markers on keys and array elements): the same JSON text as
 * json.JSONEncoder(separators=(",", ":"), ensure_ascii=False), the same disclosure order (a value's own
 * disclosures before the claim's), the same decoy rules. Salts are 22 base64url characters (132 bits) from
 * OpenSSL's CSPRNG (RAND_bytes). Anything else (floats, Mapping or str/int subclasses, bad or reserved names,
 * lone surrogates, deep nesting) returns None, and the Python path issues the credential and raises what it
 * raises. Never produces a weaker credential than the Python path: it produces the same form or nothing.
 */
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

static int buf_reserve(Buf *b, Py_ssize_t extra) {
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

static int buf_put(Buf *b, const char *s, Py_ssize_t n) {
    if (buf_reserve(b, n) < 0) return -1;
    memcpy(b->data + b->len, s, (size_t)n);
    b->len += n;
    return 0;
}

static int buf_putc(Buf *b, char c) {
    if (b->len >= b->cap && buf_reserve(b, 1) < 0) return -1;
    b->data[b->len++] = c;
    return 0;
}

static void buf_free(Buf *b) {
    PyMem_Free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Two base64url characters per 12 bits, filled once at import. */
static char B64URL_PAIRS[4096][2];

static void b64url_init(void) {
    for (int i = 0; i < 4096; i++) {
        B64URL_PAIRS[i][0] = B64URL[i >> 6];
        B64URL_PAIRS[i][1] = B64URL[i & 63];
    }
}

/* Unpadded base64url of n bytes into out (4 * ceil(n / 3) bytes of room); returns the characters written. */
static Py_ssize_t b64url(const unsigned char *in, Py_ssize_t n, char *out) {
    char *start = out;
    Py_ssize_t i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
        memcpy(out, B64URL_PAIRS[v >> 12], 2);
        memcpy(out + 2, B64URL_PAIRS[v & 4095], 2);
        out += 4;
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        *out++ = B64URL[v >> 18];
        *out++ = B64URL[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8);
        *out++ = B64URL[v >> 18];
        *out++ = B64URL[(v >> 12) & 63];
        *out++ = B64URL[(v >> 6) & 63];
    }
    return out - start;
}

typedef struct {
    char text[DIGEST_CHARS];
} Digest;

typedef struct {
    Digest *items;
    Py_ssize_t len, cap;
} Digests;

static int digests_add(Digests *d, const unsigned char *data, size_t n) {
    if (d->len == d->cap) {
        Py_ssize_t cap = d->cap ? d->cap * 2 : 16;
        Digest *items = PyMem_Realloc(d->items, (size_t)cap * sizeof(Digest));
        if (!items) {
            PyErr_NoMemory();
            return -1;
        }
        d->items = items;
        d->cap = cap;
    }
    unsigned char hash[SHA256_DIGEST_LENGTH];
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, data, n);
    SHA256_Final(hash, &ctx);
    b64url(hash, SHA256_DIGEST_LENGTH, d->items[d->len++].text);
    return 0;
}

/* Insertion sort: an _sd array holds a few dozen digests at most, where qsort's calls cost more. */
static void sort_digests(Digests *d) {
    for (Py_ssize_t i = 1; i < d->len; i++) {
        Digest key = d->items[i];
        Py_ssize_t j = i;
        while (j > 0 && memcmp(d->items[j - 1].text, key.text, DIGEST_CHARS) > 0) {
            d->items[j] = d->items[j - 1];
            j--;
        }
        d->items[j] = key;
    }
}

typedef struct {
    PyTypeObject *sd_type;
    PyObject *never; /* set of names that must stay visible at the top level */
    PyObject *value_name;
    long low, high;
    Buf disclosures; /* "d1~d2~...~" */
    unsigned char random[2048];
    size_t random_left;
} State;

static int random_bytes(State *st, unsigned char *out, size_t n) {
    while (n) {
        if (!st->random_left) {
            if (RAND_bytes(st->random, (int)sizeof(st->random)) != 1) {
                PyErr_SetString(PyExc_RuntimeError, "the CSPRNG failed");
                return -1;
            }
            st->random_left = sizeof(st->random);
        }
        size_t take = n < st->random_left ? n : st->random_left;
        memcpy(out, st->random + sizeof(st->random) - st->random_left, take);
        /* used bytes are wiped so that no salt stays in memory longer than needed */
        memset(st->random + sizeof(st->random) - st->random_left, 0, take);
        st->random_left -= take;
        out += take;
        n -= take;
    }
    return 0;
}

/* 22 base64url characters (132 bits) from 17 CSPRNG bytes. */
static int salt(State *st, char *out) {
    unsigned char raw[17];
    char text[24];
    if (random_bytes(st, raw, sizeof(raw)) < 0) return -1;
    b64url(raw, sizeof(raw), text);
    memcpy(out, text, SALT_CHARS);
    return 0;
}

/* A uniform integer in [0, n), by rejection sampling (no modulo bias). */
static int below(State *st, uint32_t n, uint32_t *out) {
    uint32_t limit = UINT32_MAX - (UINT32_MAX % n);
    for (;;) {
        unsigned char raw[4];
        if (random_bytes(st, raw, 4) < 0) return -1;
        uint32_t v = ((uint32_t)raw[0] << 24) | ((uint32_t)raw[1] << 16) | ((uint32_t)raw[2] << 8) | raw[3];
        if (v < limit) {
            *out = v % n;
            return 0;
        }
    }
}

static int decoy_count(State *st, long *count) {
    if (st->high <= st->low) {
        *count = st->low;
        return 0;
    }
    uint32_t extra;
    if (below(st, (uint32_t)(st->high - st->low + 1), &extra) < 0) return -1;
    *count = st->low + (long)extra;
    return 0;
}

static int add_decoys(State *st, Digests *d, long count) {
    for (long i = 0; i < count; i++) {
        char s[SALT_CHARS];
        if (salt(st, s) < 0 || digests_add(d, (const unsigned char *)s, SALT_CHARS) < 0) return -1;
    }
    return 0;
}

/* A JSON string as encode_basestring (ensure_ascii=False) writes it; FALLBACK for lone surrogates. */
static int put_str(Buf *b, PyObject *s) {
    Py_ssize_t n;
    const char *u = PyUnicode_AsUTF8AndSize(s, &n);
    if (!u) {
        PyErr_Clear();
        return FALLBACK;
    }
    if (buf_reserve(b, n + 2) < 0) return -1;
    b->data[b->len++] = '"';
    Py_ssize_t run = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)u[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        if (buf_put(b, u + run, i - run) < 0) return -1;
        run = i + 1;
        char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
        Py_ssize_t len = 2;
        switch (c) {
            case '"': esc[1] = '"'; break;
            case '\\': esc[1] = '\\'; break;
            case '\n': esc[1] = 'n'; break;
            case '\r': esc[1] = 'r'; break;
            case '\t': esc[1] = 't'; break;
            case '\b': esc[1] = 'b'; break;
            case '\f': esc[1] = 'f'; break;
            default:
                esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
                esc[4] = "0123456789abcdef"[c >> 4];
                esc[5] = "0123456789abcdef"[c & 15];
                len = 6;
        }
        if (buf_put(b, esc, len) < 0) return -1;
    }
    if (buf_put(b, u + run, n - run) < 0) return -1;
    return buf_putc(b, '"');
}

static int put_value(State *st, Buf *out, PyObject *node, int depth);

/* Record the disclosure whose JSON text is d; its digest goes into digests. */
static int disclose(State *st, const Buf *d, Digests *digests) {
    Buf *all = &st->disclosures;
    if (buf_reserve(all, (d->len + 2) / 3 * 4 + 1) < 0) return -1;
    char *start = all->data + all->len;
    Py_ssize_t n = b64url((const unsigned char *)d->data, d->len, start);
    if (digests_add(digests, (const unsigned char *)start, (size_t)n) < 0) return -1;
    all->len += n;
    all->data[all->len++] = '~';
    return 0;
}

/* '["salt",' then, for a claim, the JSON name and ','; the caller appends the value and ']'. */
static int open_disclosure(State *st, Buf *d, PyObject *name) {
    char s[SALT_CHARS];
    int r;
    if (salt(st, s) < 0 || buf_put(d, "[\"", 2) < 0 || buf_put(d, s, SALT_CHARS) < 0 || buf_put(d, "\",", 2) < 0)
        return -1;
    if (name) {
        if ((r = put_str(d, name)) != 0) return r;
        if (buf_putc(d, ',') < 0) return -1;
    }
    return 0;
}

static int put_digest_list(Buf *out, Digests *d) {
    sort_digests(d);
    if (buf_put(out, "\"_sd\":[", 7) < 0) return -1;
    for (Py_ssize_t i = 0; i < d->len; i++) {
        if ((i && buf_putc(out, ',') < 0) || buf_putc(out, '"') < 0 || buf_put(out, d->items[i].text, DIGEST_CHARS) < 0 ||
            buf_putc(out, '"') < 0)
            return -1;
    }
    return buf_putc(out, ']');
}

static int is_reserved(PyObject *name) {
    return PyUnicode_CompareWithASCIIString(name, "_sd") == 0 || PyUnicode_CompareWithASCIIString(name, "...") == 0;
}

/* One object; ``extra`` (top level only) is appended as the last members. */
static int put_object(State *st, Buf *out, PyObject *node, int depth, const char *extra, Py_ssize_t extra_len) {
    Digests digests = {NULL, 0, 0};
    Buf d = {NULL, 0, 0};
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    int first = 1, r = 0;
    if (buf_putc(out, '{') < 0) return -1;
    while (PyDict_Next(node, &pos, &key, &value)) {
        if (Py_TYPE(key) == st->sd_type) {
            PyObject *name = PyObject_GetAttr(key, st->value_name);
            if (!name) { r = -1; break; }
            if (!PyUnicode_CheckExact(name) || is_reserved(name)) { Py_DECREF(name); r = FALLBACK; break; }
            int clash = PyDict_Contains(node, name);  /* the same name plain and marked */
            if (clash == 0 && extra) clash = PySet_Contains(st->never, name);
            if (clash != 0) { Py_DECREF(name); r = clash < 0 ? -1 : FALLBACK; break; }
            d.len = 0;
            r = open_disclosure(st, &d, name);
            Py_DECREF(name);
            if (r || (r = put_value(st, &d, value, depth + 1)) != 0) break;
            if (buf_putc(&d, ']') < 0 || disclose(st, &d, &digests) < 0) { r = -1; break; }
        } else {
            if (!PyUnicode_CheckExact(key) || is_reserved(key)) { r = FALLBACK; break; }
            if (!first && buf_putc(out, ',') < 0) { r = -1; break; }
            first = 0;
            if ((r = put_str(out, key)) != 0) break;
            if (buf_putc(out, ':') < 0) { r = -1; break; }
            if ((r = put_value(st, out, value, depth + 1)) != 0) break;
        }
    }
    if (!r && digests.len) {
        long count;
        if (decoy_count(st, &count) < 0 || add_decoys(st, &digests, count) < 0 || (!first && buf_putc(out, ',') < 0) ||
            put_digest_list(out, &digests) < 0)
            r = -1;
        first = 0;
    }
    if (!r && extra) {
        if ((!first && buf_putc(out, ',') < 0) || buf_put(out, extra, extra_len) < 0) r = -1;
    }
    if (!r && buf_putc(out, '}') < 0) r = -1;
    PyMem_Free(digests.items);
    buf_free(&d);
    return r;
}

typedef struct {
    Py_ssize_t start, len; /* in the element buffer; len < 0: the digest with that index */
} Element;

static int put_array(State *st, Buf *out, PyObject *node, int depth) {
    Py_ssize_t n = PySequence_Fast_GET_SIZE(node);
    PyObject **items = PySequence_Fast_ITEMS(node);
    Digests digests = {NULL, 0, 0};
    Buf texts = {NULL, 0, 0}, d = {NULL, 0, 0};
    Element *elements = PyMem_Malloc(((size_t)n + 1) * sizeof(Element));
    Py_ssize_t count = 0;
    int r = 0;
    if (!elements) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = items[i];
        if (Py_TYPE(item) == st->sd_type) {
            PyObject *value = PyObject_GetAttr(item, st->value_name);
            if (!value) { r = -1; break; }
            d.len = 0;
            if ((r = open_disclosure(st, &d, NULL)) != 0 || (r = put_value(st, &d, value, depth + 1)) != 0) {
                Py_DECREF(value);
                break;
            }
            Py_DECREF(value);
            if (buf_putc(&d, ']') < 0 || disclose(st, &d, &digests) < 0) { r = -1; break; }
            elements[count].start = 0;
            elements[count++].len = -digests.len;  /* -1 - index of its digest */
        } else if (PyObject_TypeCheck(item, st->sd_type)) {
            r = FALLBACK;
            break;
        } else {
            Py_ssize_t start = texts.len;
            if ((r = put_value(st, &texts, item, depth + 1)) != 0) break;
            elements[count].start = start;
            elements[count++].len = texts.len - start;
        }
    }
    if (!r && digests.len) {
        /* decoys go in one by one at uniform positions, as the Python path inserts them */
        long decoys;
        Py_ssize_t real = digests.len;
        if (decoy_count(st, &decoys) < 0 || add_decoys(st, &digests, decoys) < 0) {
            r = -1;
        } else {
            Element *grown = PyMem_Realloc(elements, ((size_t)count + (size_t)decoys + 1) * sizeof(Element));
            if (!grown) { PyErr_NoMemory(); r = -1; }
            else elements = grown;
            for (long i = 0; !r && i < decoys; i++) {
                uint32_t at;
                if (below(st, (uint32_t)count + 1, &at) < 0) { r = -1; break; }
                memmove(elements + at + 1, elements + at, (size_t)(count - (Py_ssize_t)at) * sizeof(Element));
                elements[at].start = 0;
                elements[at].len = -1 - (real + i);
                count++;
            }
        }
    }
    if (!r && buf_putc(out, '[') < 0) r = -1;
    for (Py_ssize_t i = 0; !r && i < count; i++) {
        if (i && buf_putc(out, ',') < 0) { r = -1; break; }
        if (elements[i].len >= 0) {
            if (buf_put(out, texts.data + elements[i].start, elements[i].len) < 0) r = -1;
        } else if (buf_put(out, "{\"...\":\"", 8) < 0 ||
                   buf_put(out, digests.items[-1 - elements[i].len].text, DIGEST_CHARS) < 0 ||
                   buf_put(out, "\"}", 2) < 0) {
            r = -1;
        }
    }
    if (!r && buf_putc(out, ']') < 0) r = -1;
    PyMem_Free(elements);
    PyMem_Free(digests.items);
    buf_free(&texts);
    buf_free(&d);
    return r;
}

static int put_value(State *st, Buf *out, PyObject *node, int depth) {
    PyTypeObject *type = Py_TYPE(node);
    if (type == &PyUnicode_Type) return put_str(out, node);
    if (node == Py_None) return buf_put(out, "null", 4);
    if (node == Py_True) return buf_put(out, "true", 4);
    if (node == Py_False) return buf_put(out, "false", 5);
    if (type == &PyLong_Type) {
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(node, &overflow);
        if (overflow) {
            PyObject *text = PyObject_Str(node);
            if (!text) return -1;
            Py_ssize_t n;
            const char *u = PyUnicode_AsUTF8AndSize(text, &n);
            int r = u ? buf_put(out, u, n) : -1;
            Py_DECREF(text);
            return r;
        }
        if (v == -1 && PyErr_Occurred()) return -1;
        char text[24];
        int n = snprintf(text, sizeof(text), "%lld", v);
        return buf_put(out, text, n);
    }
    if (depth > MAX_DEPTH) return FALLBACK;
    if (type == &PyDict_Type) return put_object(st, out, node, depth, NULL, 0);
    if (type == &PyList_Type || type == &PyTuple_Type) return put_array(st, out, node, depth);
    return FALLBACK;
}

static PyObject *build(PyObject *self, PyObject *args) {
    PyObject *claims, *sd_type, *never;
    long low, high;
    const char *extra;
    Py_ssize_t extra_len;
    if (!PyArg_ParseTuple(args, "O!O!O!lly#:build", &PyDict_Type, &claims, &PyType_Type, &sd_type, &PyFrozenSet_Type,
                          &never, &low, &high, &extra, &extra_len))
        return NULL;
    if (low < 0 || high < low || high - low >= (long)UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "decoys must be (min, max) with 0 <= min <= max");
        return NULL;
    }
    State st;
    memset(&st, 0, sizeof(st));
    st.sd_type = (PyTypeObject *)sd_type;
    st.never = never;
    st.low = low;
    st.high = high;
    st.value_name = PyUnicode_InternFromString("value");
    if (!st.value_name) return NULL;
    Buf payload = {NULL, 0, 0};
    int r = put_object(&st, &payload, claims, 0, extra, extra_len);
    PyObject *result = NULL;
    if (r == FALLBACK) {
        result = Py_NewRef(Py_None);
    } else if (r == 0) {
        PyObject *text = PyBytes_FromStringAndSize(payload.data, payload.len);
        PyObject *disclosures = text ? PyUnicode_DecodeASCII(st.disclosures.data, st.disclosures.len, "strict") : NULL;
        if (text && disclosures) result = PyTuple_Pack(2, text, disclosures);
        Py_XDECREF(text);
        Py_XDECREF(disclosures);
    }
    memset(st.random, 0, sizeof(st.random));
    if (st.disclosures.data) memset(st.disclosures.data, 0, (size_t)st.disclosures.cap);
    buf_free(&st.disclosures);
    buf_free(&payload);
    Py_DECREF(st.value_name);
    return result;
}

/* --- canonical CBOR (the printed copy's CWT payload) ------------------------------------------------------ */

static int cbor_head(Buf *b, unsigned major, uint64_t n) {
    unsigned char h[9];
    Py_ssize_t len;
    major <<= 5;
    if (n < 24) {
        h[0] = (unsigned char)(major | n);
        len = 1;
    } else if (n <= 0xff) {
        h[0] = (unsigned char)(major | 24);
        h[1] = (unsigned char)n;
        len = 2;
    } else if (n <= 0xffff) {
        h[0] = (unsigned char)(major | 25);
        h[1] = (unsigned char)(n >> 8);
        h[2] = (unsigned char)n;
        len = 3;
    } else if (n <= 0xffffffffULL) {
        h[0] = (unsigned char)(major | 26);
        for (int i = 0; i < 4; i++) h[1 + i] = (unsigned char)(n >> (24 - 8 * i));
        len = 5;
    } else {
        h[0] = (unsigned char)(major | 27);
        for (int i = 0; i < 8; i++) h[1 + i] = (unsigned char)(n >> (56 - 8 * i));
        len = 9;
    }
    return buf_put(b, (const char *)h, len);
}

typedef struct {
    Py_ssize_t start, len; /* the encoded key in the key buffer */
    PyObject *value;
    const char *base;
} MapItem;

static int map_item_cmp(const void *a, const void *b) {
    const MapItem *x = a, *y = b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return memcmp(x->base + x->start, y->base + y->start, (size_t)x->len);
}

static int cbor_value(Buf *out, PyObject *node, int depth);

static int cbor_map(Buf *out, PyObject *node, int depth) {
    Py_ssize_t n = PyDict_GET_SIZE(node), pos = 0, i = 0;
    PyObject *key, *value;
    Buf keys = {NULL, 0, 0};
    MapItem *items = PyMem_Malloc(((size_t)n + 1) * sizeof(MapItem));
    int r = 0;
    if (!items) {
        PyErr_NoMemory();
        return -1;
    }
    while (PyDict_Next(node, &pos, &key, &value)) {
        items[i].start = keys.len;
        if ((r = cbor_value(&keys, key, depth + 1)) != 0) break;
        items[i].len = keys.len - items[i].start;
        items[i++].value = value;
    }
    if (!r) {
        for (Py_ssize_t j = 0; j < i; j++) items[j].base = keys.data;
        qsort(items, (size_t)i, sizeof(MapItem), map_item_cmp);
        for (Py_ssize_t j = 1; j < i; j++)
            if (map_item_cmp(&items[j - 1], &items[j]) == 0) r = FALLBACK;  /* equal keys: cbor2 decides */
    }
    if (!r && cbor_head(out, 5, (uint64_t)i) < 0) r = -1;
    for (Py_ssize_t j = 0; !r && j < i; j++) {
        if (buf_put(out, keys.data + items[j].start, items[j].len) < 0) r = -1;
        else r = cbor_value(out, items[j].value, depth + 1);
    }
    PyMem_Free(items);
    buf_free(&keys);
    return r;
}

static int cbor_value(Buf *out, PyObject *node, int depth) {
    PyTypeObject *type = Py_TYPE(node);
    if (type == &PyUnicode_Type) {
        Py_ssize_t n;
        const char *u = PyUnicode_AsUTF8AndSize(node, &n);
        if (!u) {
            PyErr_Clear();
            return FALLBACK;
        }
        if (cbor_head(out, 3, (uint64_t)n) < 0) return -1;
        return buf_put(out, u, n);
    }
    if (type == &PyLong_Type) {
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(node, &overflow);
        if (overflow > 0) {
            unsigned long long u = PyLong_AsUnsignedLongLong(node);
            if (u == (unsigned long long)-1 && PyErr_Occurred()) {
                PyErr_Clear();
                return FALLBACK;  /* beyond 64 bits: cbor2's bignum tags */
            }
            return cbor_head(out, 0, (uint64_t)u);
        }
        if (overflow) return FALLBACK;
        if (v == -1 && PyErr_Occurred()) return -1;
        return v >= 0 ? cbor_head(out, 0, (uint64_t)v) : cbor_head(out, 1, (uint64_t)(-(v + 1)));
    }
    if (type == &PyBytes_Type) {
        if (cbor_head(out, 2, (uint64_t)PyBytes_GET_SIZE(node)) < 0) return -1;
        return buf_put(out, PyBytes_AS_STRING(node), PyBytes_GET_SIZE(node));
    }
    if (node == Py_None) return buf_putc(out, (char)0xf6);
    if (node == Py_True) return buf_putc(out, (char)0xf5);
    if (node == Py_False) return buf_putc(out, (char)0xf4);
    if (depth > MAX_DEPTH) return FALLBACK;
    if (type == &PyList_Type || type == &PyTuple_Type) {
        Py_ssize_t n = PySequence_Fast_GET_SIZE(node);
        PyObject **items = PySequence_Fast_ITEMS(node);
        if (cbor_head(out, 4, (uint64_t)n) < 0) return -1;
        for (Py_ssize_t i = 0; i < n; i++) {
            int r = cbor_value(out, items[i], depth + 1);
            if (r) return r;
        }
        return 0;
    }
    if (type == &PyDict_Type) return cbor_map(out, node, depth);
    return FALLBACK;  /* floats, tags, sets, subclasses...: cbor2 */
}

static PyObject *cbor_canonical(PyObject *self, PyObject *node) {
    Buf out = {NULL, 0, 0};
    int r = cbor_value(&out, node, 0);
    PyObject *result = NULL;
    if (r == FALLBACK) result = Py_NewRef(Py_None);
    else if (r == 0) result = PyBytes_FromStringAndSize(out.data, out.len);
    buf_free(&out);
    return result;
}

/* --- the printed copy's claim table: strip_sd and _claimtable.pack_body in one pass ------------------------ */

typedef struct {
    PyTypeObject *sd_type;
    PyObject *value_name;
    PyObject *person; /* the members[*] / registrant table, whose ``omit`` names are left out */
    PyObject *omit;
} Packer;

/* sdjwt.strip_sd for exact JSON types; FALLBACK for anything else (the Python path decides). */
static int strip(Packer *pk, PyObject *v, PyObject **out, int depth) {
    PyTypeObject *type = Py_TYPE(v);
    if (type == &PyUnicode_Type || type == &PyLong_Type || v == Py_None || type == &PyBool_Type ||
        type == &PyFloat_Type) {
        *out = Py_NewRef(v);
        return 0;
    }
    if (depth > MAX_DEPTH) return FALLBACK;
    if (type == pk->sd_type) {
        PyObject *inner = PyObject_GetAttr(v, pk->value_name);
        if (!inner) return -1;
        int r = strip(pk, inner, out, depth + 1);
        Py_DECREF(inner);
        return r;
    }
    if (type == &PyDict_Type) {
        PyObject *result = PyDict_New(), *key, *value;
        Py_ssize_t pos = 0;
        if (!result) return -1;
        while (PyDict_Next(v, &pos, &key, &value)) {
            PyObject *name = Py_TYPE(key) == pk->sd_type ? PyObject_GetAttr(key, pk->value_name) : Py_NewRef(key);
            PyObject *item = NULL;
            int r = name ? strip(pk, value, &item, depth + 1) : -1;
            if (!r && PyDict_SetItem(result, name, item) < 0) r = -1;
            Py_XDECREF(name);
            Py_XDECREF(item);
            if (r) {
                Py_DECREF(result);
                return r;
            }
        }
        *out = result;
        return 0;
    }
    if (type == &PyList_Type || type == &PyTuple_Type) {
        Py_ssize_t n = PySequence_Fast_GET_SIZE(v);
        PyObject *result = PyList_New(n);
        if (!result) return -1;
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *item;
            int r = strip(pk, PySequence_Fast_ITEMS(v)[i], &item, depth + 1);
            if (r) {
                Py_DECREF(result);
                return r;
            }
            PyList_SET_ITEM(result, i, item);
        }
        *out = result;
        return 0;
    }
    return FALLBACK;
}

static int pack_map(Packer *pk, PyObject *spec, PyObject *v, PyObject **out, int depth);

/* One field's value under its codec: None (plain), a table (dict), [table] (a list of them), or a callable. */
static int pack_field(Packer *pk, PyObject *sub, PyObject *item, PyObject **out, int depth) {
    if (sub == Py_None) return strip(pk, item, out, depth);
    if (Py_TYPE(sub) == &PyDict_Type) return pack_map(pk, sub, item, out, depth);
    if (Py_TYPE(sub) == &PyList_Type) {
        if (Py_TYPE(item) != &PyList_Type && Py_TYPE(item) != &PyTuple_Type) return strip(pk, item, out, depth);
        PyObject *table = PyList_GET_ITEM(sub, 0);
        Py_ssize_t n = PySequence_Fast_GET_SIZE(item);
        PyObject *result = PyList_New(n);
        if (!result) return -1;
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *element = Py_NewRef(PySequence_Fast_ITEMS(item)[i]), *packed = NULL;
            int r = 0;
            while (!r && Py_TYPE(element) == pk->sd_type) {  /* a disclosable element: its value */
                PyObject *inner = PyObject_GetAttr(element, pk->value_name);
                Py_DECREF(element);
                element = inner;
                if (!inner) r = -1;
            }
            if (!r) r = pack_map(pk, table, element, &packed, depth + 1);
            Py_XDECREF(element);
            if (r) {
                Py_DECREF(result);
                return r;
            }
            PyList_SET_ITEM(result, i, packed);
        }
        *out = result;
        return 0;
    }
    PyObject *plain;
    int r = strip(pk, item, &plain, depth);
    if (r) return r;
    *out = PyObject_CallOneArg(sub, plain);
    Py_DECREF(plain);
    return *out ? 0 : -1;
}

static int pack_map(Packer *pk, PyObject *spec, PyObject *v, PyObject **out, int depth) {
    if (depth > MAX_DEPTH) return FALLBACK;
    if (Py_TYPE(v) != &PyDict_Type) return strip(pk, v, out, depth);  /* FALLBACK for other mappings */
    PyObject *result = PyDict_New(), *key, *value;
    Py_ssize_t pos = 0;
    if (!result) return -1;
    while (PyDict_Next(v, &pos, &key, &value)) {
        PyObject *name = Py_TYPE(key) == pk->sd_type ? PyObject_GetAttr(key, pk->value_name) : Py_NewRef(key);
        PyObject *packed = NULL;
        int r = 0;
        if (!name) {
            r = -1;
        } else if (!PyUnicode_CheckExact(name)) {
            r = FALLBACK;
        } else {
            PyObject *field = PyDict_GetItemWithError(spec, name);
            if (!field) {
                if (PyErr_Occurred()) r = -1;
                else if (!(r = strip(pk, value, &packed, depth + 1))) r = PyDict_SetItem(result, name, packed);
            } else if (spec == pk->person && (r = PySet_Contains(pk->omit, name)) != 0) {
                r = r < 0 ? -1 : 0;  /* left out */
            } else if (!PyTuple_CheckExact(field) || PyTuple_GET_SIZE(field) != 2) {
                PyErr_SetString(PyExc_TypeError, "claim table entries are (key, codec)");
                r = -1;
            } else if (!(r = pack_field(pk, PyTuple_GET_ITEM(field, 1), value, &packed, depth + 1))) {
                r = PyDict_SetItem(result, PyTuple_GET_ITEM(field, 0), packed);
            }
        }
        Py_XDECREF(name);
        Py_XDECREF(packed);
        if (r) {
            Py_DECREF(result);
            return r;
        }
    }
    *out = result;
    return 0;
}

static PyObject *pack_claims(PyObject *self, PyObject *args) {
    Packer pk;
    PyObject *spec, *claims, *sd_type, *out = NULL;
    if (!PyArg_ParseTuple(args, "O!OO!O!O!:pack_claims", &PyDict_Type, &spec, &claims, &PyType_Type, &sd_type,
                          &PyDict_Type, &pk.person, &PyFrozenSet_Type, &pk.omit))
        return NULL;
    pk.sd_type = (PyTypeObject *)sd_type;
    pk.value_name = PyUnicode_InternFromString("value");
    if (!pk.value_name) return NULL;
    int r = pack_map(&pk, spec, claims, &out, 0);
    Py_DECREF(pk.value_name);
    if (r == FALLBACK) return Py_NewRef(Py_None);
    if (r) {
        /* the Python path raises what it raises, from the same codecs */
        PyErr_Clear();
        return Py_NewRef(Py_None);
    }
    return out;
}

static PyMethodDef methods[] = {
    {"build", build, METH_VARARGS,
     "build(claims, sd_type, never_disclosable, low, high, extra) -> (payload JSON, 'd1~d2~...~') or None"},
    {"cbor_canonical", cbor_canonical, METH_O,
     "cbor_canonical(obj) -> what cbor2.dumps(obj, canonical=True) writes, or None outside str/int/bytes/bool/None/"
     "list/tuple/dict"},
    {"pack_claims", pack_claims, METH_VARARGS,
     "pack_claims(table, marked_claims, sd_type, person_table, omit) -> the integer-keyed body, or None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_sdissue_c", "Compiled SD-JWT issuance.", -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__sdissue_c(void) {
    b64url_init();
    return PyModule_Create(&module);
}
