/* Compiled issuance: the SD-JWT payload JSON and every disclosure of one credential in one call (the printed
 * copy's canonical CBOR and claim table are in _sdissue_paper.c, the same module).
 *
 * Mirrors civiccert.credentials._sdbuild._Issuance for the common case (exact dict / list / tuple / str / int /
 * bool / None, str claim names, ``Sd`` markers on keys and array elements): the same JSON text as
 * json.JSONEncoder(separators=(",", ":"), ensure_ascii=False), the same disclosure order (a value's own
 * disclosures before the claim's), the same decoy rules. Salts are 22 base64url characters (132 bits) from
 * OpenSSL's CSPRNG (RAND_bytes). Anything else (floats, Mapping or str/int subclasses, bad or reserved names,
 * lone surrogates, deep nesting) returns None, and the Python path issues the credential and raises what it
 * raises. Never produces a weaker credential than the Python path: it produces the same form or nothing.
 */
#include "_sdissue.h"
#include <datetime.h>

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
#if defined(__GNUC__) || defined(__clang__)
    /* Six bytes (eight characters) a step from one 8-byte big-endian load; the last 2 bytes read are the
     * next step's, so it stops 8 bytes before the end and the 3-byte loop below finishes. */
    for (; i + 8 <= n; i += 6) {
        uint64_t v;
        memcpy(&v, in + i, 8);
        v = __builtin_bswap64(v);
        uint32_t a = (uint32_t)(v >> 40), b = (uint32_t)(v >> 16) & 0xFFFFFF;
        memcpy(out, B64URL_PAIRS[a >> 12], 2);
        memcpy(out + 2, B64URL_PAIRS[a & 4095], 2);
        memcpy(out + 4, B64URL_PAIRS[b >> 12], 2);
        memcpy(out + 6, B64URL_PAIRS[b & 4095], 2);
        out += 8;
    }
#endif
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

/* Lowercase unpadded base32 (RFC 4648 alphabet) of each 16-byte block of ``raw``: 26 characters per block,
 * what base64.b32encode(block).decode().rstrip("=").lower() gives (issuance.journal.new_credential_ids). */
static PyObject *b32_ids(PyObject *self, PyObject *arg) {
    (void)self;
    static const char B32[] = "abcdefghijklmnopqrstuvwxyz234567";
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    if (view.len % 16 != 0) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "raw must be a whole number of 16-byte blocks");
        return NULL;
    }
    Py_ssize_t count = view.len / 16;
    PyObject *ids = PyList_New(count);
    const unsigned char *in = view.buf;
    for (Py_ssize_t i = 0; ids && i < count; i++, in += 16) {
        char text[26];
        unsigned int acc = 0, bits = 0;
        int n = 0;
        for (int j = 0; j < 16; j++) {
            acc = (acc << 8) | in[j];
            bits += 8;
            while (bits >= 5) {
                bits -= 5;
                text[n++] = B32[(acc >> bits) & 31];
            }
        }
        text[n++] = B32[(acc << (5 - bits)) & 31]; /* 128 = 25 * 5 + 3: the last 3 bits, zero-filled */
        PyObject *id = PyUnicode_DecodeASCII(text, n, "strict");
        if (!id) {
            Py_CLEAR(ids);
            break;
        }
        PyList_SET_ITEM(ids, i, id);
    }
    PyBuffer_Release(&view);
    return ids;
}

static PyObject *s_value_, *s_isoformat; /* interned attribute names, made at import */

/* claims._member_claims' loop: body[marks[i]] = values[i] (None skipped; the ``sex`` enum by its value, a date
 * by its isoformat()), each key inserted with its hash computed once per request in Python (hashes[i]). */
static PyObject *fill_member(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *body, *marks, *hashes, *values, *sex_mark, *date_type;
    if (!PyArg_ParseTuple(args, "O!O!O!O!OO:fill_member", &PyDict_Type, &body, &PyTuple_Type, &marks, &PyTuple_Type,
                          &hashes, &PyTuple_Type, &values, &sex_mark, &date_type))
        return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(marks);
    if (PyTuple_GET_SIZE(hashes) != n || PyTuple_GET_SIZE(values) != n) {
        PyErr_SetString(PyExc_ValueError, "marks, hashes and values must be the same length");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *mark = PyTuple_GET_ITEM(marks, i), *raw = PyTuple_GET_ITEM(values, i), *value;
        if (raw == Py_None) continue;
        if (PyUnicode_CheckExact(raw)) {
            value = Py_NewRef(raw);
        } else if (mark == sex_mark) { /* an Enum member's value is its _value_: skips enum.property's Python __get__ */
            value = PyObject_GetAttr(raw, s_value_);
        } else if (Py_TYPE(raw) == (PyTypeObject *)date_type) { /* what date.isoformat() writes, without the call */
            /* "%04d-%02d-%02d" by hand (a date's year is 1..9999): snprintf cost more than the rest of the loop */
            int y = PyDateTime_GET_YEAR(raw), m = PyDateTime_GET_MONTH(raw), d = PyDateTime_GET_DAY(raw);
            char text[10] = {(char)('0' + y / 1000), (char)('0' + y / 100 % 10), (char)('0' + y / 10 % 10),
                             (char)('0' + y % 10), '-', (char)('0' + m / 10), (char)('0' + m % 10), '-',
                             (char)('0' + d / 10), (char)('0' + d % 10)};
            value = PyUnicode_FromStringAndSize(text, 10);
        } else {
            int is_date = PyObject_IsInstance(raw, date_type);
            if (is_date < 0) return NULL;
            value = is_date ? PyObject_CallMethodNoArgs(raw, s_isoformat) : Py_NewRef(raw);
        }
        if (!value) return NULL;
        Py_hash_t hash = PyLong_AsSsize_t(PyTuple_GET_ITEM(hashes, i));
        if (hash == -1 && PyErr_Occurred()) {
            Py_DECREF(value);
            return NULL;
        }
#if PY_VERSION_HEX < 0x030D0000
        int r = _PyDict_SetItem_KnownHash(body, mark, value, hash);
#else /* the private call is gone from 3.13's headers: the same insertion, hashing the marker again */
        (void)hash;
        int r = PyDict_SetItem(body, mark, value);
#endif
        Py_DECREF(value);
        if (r < 0) return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"build", build, METH_VARARGS,
     "build(claims, sd_type, never_disclosable, low, high, extra) -> (payload JSON, 'd1~d2~...~') or None"},
    {"cbor_canonical", sdissue_cbor_canonical, METH_O,
     "cbor_canonical(obj) -> what cbor2.dumps(obj, canonical=True) writes, or None outside str/int/bytes/bool/None/"
     "list/tuple/dict"},
    {"pack_claims", sdissue_pack_claims, METH_VARARGS,
     "pack_claims(table, marked_claims, sd_type, person_table, omit) -> the integer-keyed body, or None"},
    {"b32_ids", b32_ids, METH_O,
     "b32_ids(raw) -> the lowercase unpadded base32 text of each 16-byte block of raw (26 characters each)"},
    {"fill_member", fill_member, METH_VARARGS,
     "fill_member(body, marks, hashes, values, sex_mark, date_type) -> None: claims._member_claims' loop"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_sdissue_c", "Compiled SD-JWT issuance.", -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__sdissue_c(void) {
    b64url_init();
    s_value_ = PyUnicode_InternFromString("_value_");
    s_isoformat = PyUnicode_InternFromString("isoformat");
    if (!s_value_ || !s_isoformat) return NULL;
    return PyModule_Create(&module);
}
