/* The SD-JWT verifier's per-disclosure hot loops in C (civiccert.credentials.sdjwt uses them when built).
 *
 * Both functions only ever take the happy path: on anything unusual they return None and the caller runs
 * the pure-Python code, which decides and names the reason. So the C side never has to produce an error
 * code, and its results equal the Python path's on every input it accepts (tests/credentials/
 * test_sdverify_c.py checks both on valid and hostile inputs).
 *
 *   split(sd_jwt) -> (jwt, header, payload, signature, signing_input, disclosures, kb) | None
 *       sdjwt.split and verify_compact's split of the issuer-signed JWT in one pass with memchr (str.split
 *       and str.count step through a credential's 10 KB one character at a time): an ASCII str whose JWT and
 *       non-empty KB-JWT have exactly two dots and no disclosure is empty. signing_input is header + "." +
 *       payload as ASCII bytes; kb is None when the SD-JWT ends in "~".
 *   jws(payload, signature, signing_input) -> (payload bytes, signature bytes, SHA-256 digest) | None
 *       what jose.verify_parts decodes and hashes of a split JWS: the two texts as strict canonical unpadded
 *       base64url (as jose.b64url_decode reads them; anything else declines, and Python names the reason)
 *       and hashlib.sha256(signing_input).digest().
 *   decode(disclosures) -> (digests, blob) | None
 *       base64url(SHA-256(disclosure)) of each, and "[" + ",".join(decoded) + "]" where each decoded item
 *       is canonical unpadded base64url and, read as JSON text, a balanced segment: no comma or closing
 *       bracket outside its own brackets, no open string. So the blob's top-level items are exactly the
 *       disclosures, and orjson.dumps(orjson.loads(blob)) == blob then proves each item canonical.
 *   table(digests, values) -> {digest: value} | None
 *       sdjwt._table: each value a [salt, (name,) value] list with str salt and name, no reserved name
 *       ("_sd", "..."), no digest twice.
 *   unfold(payload, by_digest) -> (claims, paths) | None
 *       RFC 9901 section 7.1 steps 3-5 over exact dict/list/str objects, as sdjwt._Unfolder does.
 *
 * Every read is bounded by the object's own length; there are no fixed-size buffers of input data.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#define OPENSSL_API_COMPAT 0x10101000L /* SHA256_Init & co.: one call per digest, no EVP provider lookups */
#include <openssl/sha.h>

#define MAX_JSON_DEPTH 64   /* strictjson.MAX_JSON_DEPTH: deeper items go the Python way */
#define MAX_UNFOLD_DEPTH 256 /* nesting across disclosures; deeper payloads go the Python way */
#define DIGEST_CHARS 43     /* base64url of 32 bytes, unpadded */

static PyObject *str_sd, *str_sd_alg, *str_dots, *str_empty, *str_dot;
static signed char b64_value[256]; /* base64url alphabet -> 0..63, anything else -> -1 */
static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Decoded size of n base64url characters (n % 4 != 1). */
static Py_ssize_t decoded_size(Py_ssize_t n) { return n / 4 * 3 + (n % 4 == 2 ? 1 : n % 4 == 3 ? 2 : 0); }

/* b64_shift[k][c]: the 6 bits of character c placed for position k of a 4-character group (18, 12, 6, 0 bits
 * up), or BAD_BITS for a character outside the alphabet: one OR of four lookups decodes and checks a group. */
#define BAD_BITS 0x1000000u
static uint32_t b64_shift[4][256];

/* Strict unpadded base64url of s[0..n) into out (decoded_size(n) bytes). 0 on success, -1 if not canonical:
 * a character outside the alphabet, 4k+1 characters, or unused bits set in the last character. */
static int b64url_decode(const unsigned char *s, Py_ssize_t n, unsigned char *out) {
    Py_ssize_t i = 0;
    if (n % 4 == 1) return -1;
    for (; i + 4 <= n; i += 4) {
        uint32_t v = b64_shift[0][s[i]] | b64_shift[1][s[i + 1]] | b64_shift[2][s[i + 2]] | b64_shift[3][s[i + 3]];
        if (v & BAD_BITS) return -1;
        *out++ = (unsigned char)(v >> 16);
        *out++ = (unsigned char)(v >> 8);
        *out++ = (unsigned char)v;
    }
    if (n - i == 2) {
        int a = b64_value[s[i]], b = b64_value[s[i + 1]];
        if ((a | b) < 0 || (b & 15)) return -1;
        *out = (unsigned char)(a << 2 | b >> 4);
    } else if (n - i == 3) {
        int a = b64_value[s[i]], b = b64_value[s[i + 1]], c = b64_value[s[i + 2]];
        if ((a | b | c) < 0 || (c & 3)) return -1;
        *out++ = (unsigned char)(a << 2 | b >> 4);
        *out = (unsigned char)((b & 15) << 4 | c >> 2);
    }
    return 0;
}

/* The deepest bracket nesting of JSON text t[0..n) if it is a balanced segment (see top), else -1. Strings
 * are skipped as JSON reads them: a backslash escapes the next byte, so a string ends at the first '"' after
 * an even run of backslashes (found with memchr: strings are most of a disclosure's bytes). */
static int segment_depth(const unsigned char *t, Py_ssize_t n) {
    int depth = 0, deepest = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        switch (t[i]) {
        case '"':
            for (;;) {
                const unsigned char *q = memchr(t + i + 1, '"', (size_t)(n - i - 1));
                if (q == NULL) return -1; /* an open string */
                i = q - t;
                Py_ssize_t run = 0;
                while (t[i - 1 - run] == '\\') run++; /* stops at the opening quote at the latest */
                if (run % 2 == 0) break;
            }
            break;
        case '[': case '{':
            if (++depth > deepest) deepest = depth;
            if (deepest > MAX_JSON_DEPTH) return -1;
            break;
        case ']': case '}':
            if (depth-- == 0) return -1;
            break;
        case ',':
            if (depth == 0) return -1;
            break;
        default: break;
        }
    }
    return depth != 0 ? -1 : deepest;
}

/* base64url(SHA-256(data)) as a new 43-character str, or NULL with an exception set. */
static PyObject *digest_text(const char *data, Py_ssize_t n) {
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256_CTX ctx; /* not the one-shot SHA256(): in OpenSSL 3 that fetches a provider on every call */
    if (!SHA256_Init(&ctx) || !SHA256_Update(&ctx, data, (size_t)n) || !SHA256_Final(md, &ctx)) {
        PyErr_SetString(PyExc_RuntimeError, "SHA-256 failed");
        return NULL;
    }
    PyObject *text = PyUnicode_New(DIGEST_CHARS, 127);
    if (text == NULL) return NULL;
    Py_UCS1 *o = PyUnicode_1BYTE_DATA(text);
    int k = 0;
    for (int i = 0; i < 30; i += 3) { /* 10 groups of 3 bytes, then 2 bytes -> 3 characters */
        unsigned v = (unsigned)md[i] << 16 | (unsigned)md[i + 1] << 8 | md[i + 2];
        o[k++] = (Py_UCS1)b64_alphabet[v >> 18];
        o[k++] = (Py_UCS1)b64_alphabet[v >> 12 & 63];
        o[k++] = (Py_UCS1)b64_alphabet[v >> 6 & 63];
        o[k++] = (Py_UCS1)b64_alphabet[v & 63];
    }
    unsigned v = (unsigned)md[30] << 8 | md[31];
    o[k++] = (Py_UCS1)b64_alphabet[v >> 10];
    o[k++] = (Py_UCS1)b64_alphabet[v >> 4 & 63];
    o[k] = (Py_UCS1)b64_alphabet[(v & 15) << 2];
    return text;
}

/* The ASCII str s[start..end) (a new reference, or NULL with an exception set). */
static PyObject *piece(PyObject *s, Py_ssize_t start, Py_ssize_t end) { return PyUnicode_Substring(s, start, end); }

/* Positions of the two dots of a compact JWS in t[start..end), or -1 when it has not exactly two. */
static int two_dots(const char *t, Py_ssize_t start, Py_ssize_t end, Py_ssize_t *first, Py_ssize_t *second) {
    const char *a = memchr(t + start, '.', (size_t)(end - start));
    if (a == NULL) return -1;
    const char *b = memchr(a + 1, '.', (size_t)(t + end - a - 1));
    if (b == NULL || memchr(b + 1, '.', (size_t)(t + end - b - 1)) != NULL) return -1;
    *first = a - t;
    *second = b - t;
    return 0;
}

static PyObject *split(PyObject *Py_UNUSED(module), PyObject *text) {
    if (!PyUnicode_CheckExact(text) || !PyUnicode_IS_ASCII(text)) Py_RETURN_NONE;
    const char *t = (const char *)PyUnicode_1BYTE_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text), dot1, dot2, kdot1, kdot2;
    const char *tilde = memchr(t, '~', (size_t)n);
    if (tilde == NULL) Py_RETURN_NONE;
    Py_ssize_t jwt_end = tilde - t, last = jwt_end; /* last: the position of the last "~" */
    if (two_dots(t, 0, jwt_end, &dot1, &dot2) < 0) Py_RETURN_NONE;
    Py_ssize_t count = 0; /* disclosures: the pieces between two "~", none empty */
    for (const char *p = tilde; (p = memchr(p + 1, '~', (size_t)(t + n - p - 1))) != NULL; last = p - t) {
        if (p - t == last + 1) Py_RETURN_NONE;
        count++;
    }
    if (last + 1 < n && two_dots(t, last + 1, n, &kdot1, &kdot2) < 0) Py_RETURN_NONE;
    PyObject *disclosures = PyList_New(count);
    if (disclosures == NULL) return NULL;
    Py_ssize_t start = jwt_end + 1;
    for (Py_ssize_t i = 0; i < count; i++) {
        const char *p = memchr(t + start, '~', (size_t)(n - start));
        PyObject *item = piece(text, start, p - t);
        if (item == NULL) {
            Py_DECREF(disclosures);
            return NULL;
        }
        PyList_SET_ITEM(disclosures, i, item);
        start = p - t + 1;
    }
    PyObject *kb = last + 1 < n ? piece(text, last + 1, n) : Py_NewRef(Py_None);
    PyObject *signing_input = PyBytes_FromStringAndSize(t, dot2);
    PyObject *jwt = piece(text, 0, jwt_end), *header = piece(text, 0, dot1);
    PyObject *payload = piece(text, dot1 + 1, dot2), *signature = piece(text, dot2 + 1, jwt_end);
    if (kb == NULL || signing_input == NULL || jwt == NULL || header == NULL || payload == NULL || signature == NULL) {
        Py_XDECREF(kb);
        Py_XDECREF(signing_input);
        Py_XDECREF(jwt);
        Py_XDECREF(header);
        Py_XDECREF(payload);
        Py_XDECREF(signature);
        Py_DECREF(disclosures);
        return NULL;
    }
    return Py_BuildValue("(NNNNNNN)", jwt, header, payload, signature, signing_input, disclosures, kb);
}

/* The decoded bytes of the ASCII str text (canonical unpadded base64url), or NULL: *declined when not. */
static PyObject *decoded_bytes(PyObject *text, int *declined) {
    if (!PyUnicode_CheckExact(text) || !PyUnicode_IS_ASCII(text) || PyUnicode_GET_LENGTH(text) % 4 == 1) {
        *declined = 1;
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    PyObject *out = PyBytes_FromStringAndSize(NULL, decoded_size(n));
    if (out == NULL) return NULL;
    if (b64url_decode(PyUnicode_1BYTE_DATA(text), n, (unsigned char *)PyBytes_AS_STRING(out)) < 0) {
        Py_DECREF(out);
        *declined = 1;
        return NULL;
    }
    return out;
}

static PyObject *jws(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "jws(payload, signature, signing_input)");
        return NULL;
    }
    if (!PyBytes_CheckExact(args[2])) Py_RETURN_NONE;
    int declined = 0;
    PyObject *payload = decoded_bytes(args[0], &declined);
    PyObject *signature = payload != NULL ? decoded_bytes(args[1], &declined) : NULL;
    PyObject *digest = signature != NULL ? PyBytes_FromStringAndSize(NULL, SHA256_DIGEST_LENGTH) : NULL;
    if (digest != NULL) {
        SHA256_CTX ctx;
        if (!SHA256_Init(&ctx) || !SHA256_Update(&ctx, PyBytes_AS_STRING(args[2]), (size_t)PyBytes_GET_SIZE(args[2])) ||
            !SHA256_Final((unsigned char *)PyBytes_AS_STRING(digest), &ctx)) {
            PyErr_SetString(PyExc_RuntimeError, "SHA-256 failed");
            Py_CLEAR(digest);
        } else {
            return Py_BuildValue("(NNN)", payload, signature, digest);
        }
    }
    Py_XDECREF(payload);
    Py_XDECREF(signature);
    if (declined && !PyErr_Occurred()) Py_RETURN_NONE;
    return NULL;
}

static PyObject *decode(PyObject *Py_UNUSED(module), PyObject *items) {
    if (!PyList_CheckExact(items)) Py_RETURN_NONE;
    Py_ssize_t n = PyList_GET_SIZE(items), total = 2;
    for (Py_ssize_t i = 0; i < n; i++) { /* first pass: types, lengths, the blob's exact size */
        PyObject *item = PyList_GET_ITEM(items, i);
        if (!PyUnicode_CheckExact(item) || !PyUnicode_IS_ASCII(item)) Py_RETURN_NONE;
        Py_ssize_t len = PyUnicode_GET_LENGTH(item);
        if (len == 0 || len % 4 == 1 || len > PY_SSIZE_T_MAX / 4 - total) Py_RETURN_NONE;
        total += decoded_size(len) + (i > 0);
    }
    PyObject *digests = PyList_New(n);
    PyObject *blob = digests ? PyBytes_FromStringAndSize(NULL, total) : NULL;
    if (blob == NULL) goto error;
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(blob);
    *out++ = '[';
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(items, i);
        const char *text = (const char *)PyUnicode_1BYTE_DATA(item);
        Py_ssize_t len = PyUnicode_GET_LENGTH(item), size = decoded_size(len);
        if (i > 0) *out++ = ',';
        if (b64url_decode((const unsigned char *)text, len, out) < 0 || segment_depth(out, size) < 0) {
            Py_DECREF(digests);
            Py_DECREF(blob);
            Py_RETURN_NONE;
        }
        out += size;
        PyObject *digest = digest_text(text, len);
        if (digest == NULL) goto error;
        PyList_SET_ITEM(digests, i, digest);
    }
    *out = ']';
    return Py_BuildValue("(NN)", digests, blob);
error:
    Py_XDECREF(digests);
    Py_XDECREF(blob);
    return NULL;
}

static PyObject *table(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "table(digests, values)");
        return NULL;
    }
    PyObject *digests = args[0], *values = args[1];
    if (!PyList_CheckExact(digests) || !PyList_CheckExact(values) || PyList_GET_SIZE(digests) != PyList_GET_SIZE(values))
        Py_RETURN_NONE;
    PyObject *out = PyDict_New();
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(values); i++) {
        PyObject *value = PyList_GET_ITEM(values, i), *digest = PyList_GET_ITEM(digests, i);
        Py_ssize_t size = PyList_CheckExact(value) ? PyList_GET_SIZE(value) : 0;
        if ((size != 2 && size != 3) || !PyUnicode_CheckExact(PyList_GET_ITEM(value, 0)) ||
            !PyUnicode_CheckExact(digest))
            goto decline;
        if (size == 3) {
            PyObject *name = PyList_GET_ITEM(value, 1);
            if (!PyUnicode_CheckExact(name) || PyUnicode_Compare(name, str_sd) == 0 ||
                PyUnicode_Compare(name, str_dots) == 0)
                goto decline;
        }
        if (PyDict_SetItem(out, digest, value) < 0) {
            Py_DECREF(out);
            return NULL;
        }
    }
    if (PyDict_GET_SIZE(out) == PyList_GET_SIZE(values)) return out; /* else a digest repeats */
decline:
    Py_DECREF(out);
    Py_RETURN_NONE;
}

/* --- unfold ------------------------------------------------------------------------------------------ */

typedef struct {
    PyObject *by_digest; /* digest -> [salt, (name,) value] */
    PyObject *seen;      /* every digest met so far */
    PyObject *paths;     /* disclosed claim paths, in walk order */
    Py_ssize_t used;     /* disclosures applied */
} Unfold;

enum { FAIL = -2 }; /* "not the happy path": the caller returns None (an exception is set only on -1) */

static PyObject *unfold_value(Unfold *u, PyObject *value, PyObject *path, int depth, int *status);

/* _child(path, name) as prefix + name, with prefix "a.b." for path "a.b" and "" for the top level. */
static PyObject *child_path(PyObject *prefix, PyObject *name) {
    if (PyUnicode_GET_LENGTH(prefix) == 0) return Py_NewRef(name);
    return PyUnicode_Concat(prefix, name);
}

/* path + "[position]" (PyUnicode_FromFormat parses its format on every call: this is the hot path). */
static PyObject *element_path_of(PyObject *path, Py_ssize_t position) {
    char buf[32];
    int n = snprintf(buf, sizeof buf, "[%zd]", position);
    PyObject *index = PyUnicode_FromStringAndSize(buf, n);
    if (index == NULL) return NULL;
    PyObject *joined = PyUnicode_Concat(path, index);
    Py_DECREF(index);
    return joined;
}

/* Marks ``digest`` seen. 1: new, 0: not a str or seen before (FAIL), -1: error. One set probe: the set grows
 * exactly when the digest is new (its hash, computed here once, stays cached for the by_digest lookup). */
static int mark(Unfold *u, PyObject *digest) {
    if (!PyUnicode_CheckExact(digest)) return 0;
    Py_ssize_t before = PySet_GET_SIZE(u->seen);
    if (PySet_Add(u->seen, digest) < 0) return -1;
    return PySet_GET_SIZE(u->seen) != before;
}

static PyObject *unfold_object(Unfold *u, PyObject *obj, PyObject *path, int top, int depth, int *status) {
    PyObject *digests = PyDict_GetItemWithError(obj, str_sd); /* borrowed */
    if (digests == NULL && PyErr_Occurred()) return NULL;
    if (digests != NULL && !PyList_CheckExact(digests)) { *status = FAIL; return NULL; }
    PyObject *prefix = PyUnicode_GET_LENGTH(path) ? PyUnicode_Concat(path, str_dot) : Py_NewRef(str_empty);
    if (prefix == NULL) return NULL;
    PyObject *out = PyDict_New(), *sent = NULL;
    if (out == NULL) {
        Py_DECREF(prefix);
        return NULL;
    }
    PyObject *name, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(obj, &pos, &name, &value)) {
        if (!PyUnicode_CheckExact(name)) goto fail;
        if (name == str_sd || PyUnicode_Compare(name, str_sd) == 0 || (top && PyUnicode_Compare(name, str_sd_alg) == 0)) continue;
        PyObject *result;
        if (PyDict_CheckExact(value) || PyList_CheckExact(value)) {
            PyObject *sub = child_path(prefix, name);
            if (sub == NULL) goto error;
            result = unfold_value(u, value, sub, depth + 1, status);
            Py_DECREF(sub);
            if (result == NULL) goto error;
        } else {
            result = Py_NewRef(value);
        }
        int rc = PyDict_SetItem(out, name, result);
        Py_DECREF(result);
        if (rc < 0) goto error;
    }
    if (digests == NULL || PyList_GET_SIZE(digests) == 0) {
        Py_DECREF(prefix);
        return out;
    }
    /* every digest of this _sd is marked before any disclosed value is walked, as _Unfolder does */
    if ((sent = PyList_New(0)) == NULL) goto error;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(digests); i++) {
        PyObject *digest = PyList_GET_ITEM(digests, i);
        int rc = mark(u, digest);
        if (rc < 0) goto error;
        if (rc == 0) goto fail;
        PyObject *found = PyDict_GetItemWithError(u->by_digest, digest);
        if (found == NULL && PyErr_Occurred()) goto error;
        if (found != NULL && PyList_Append(sent, found) < 0) goto error;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(sent); i++) {
        PyObject *found = PyList_GET_ITEM(sent, i);
        u->used++;
        if (!PyList_CheckExact(found) || PyList_GET_SIZE(found) != 3) goto fail;
        PyObject *claim = PyList_GET_ITEM(found, 1), *claim_value = PyList_GET_ITEM(found, 2);
        if (!PyUnicode_CheckExact(claim)) goto fail;
        int exists = PyDict_Contains(out, claim);
        if (exists < 0) goto error;
        if (exists) goto fail; /* CLAIM_OVERWRITE */
        PyObject *claim_path = child_path(prefix, claim);
        if (claim_path == NULL) goto error;
        PyObject *result = NULL;
        if (PyList_Append(u->paths, claim_path) == 0)
            result = unfold_value(u, claim_value, claim_path, depth + 1, status);
        Py_DECREF(claim_path);
        if (result == NULL) goto error;
        int rc = PyDict_SetItem(out, claim, result);
        Py_DECREF(result);
        if (rc < 0) goto error;
    }
    Py_DECREF(sent);
    Py_DECREF(prefix);
    return out;
fail:
    *status = FAIL;
error:
    Py_XDECREF(sent);
    Py_DECREF(prefix);
    Py_DECREF(out);
    return NULL;
}

static PyObject *unfold_array(Unfold *u, PyObject *array, PyObject *path, int depth, int *status) {
    PyObject *out = PyList_New(0);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(array); i++) {
        PyObject *element = PyList_GET_ITEM(array, i), *result;
        Py_ssize_t position = PyList_GET_SIZE(out);
        PyObject *digest = NULL;
        if (PyDict_CheckExact(element) && PyDict_GET_SIZE(element) == 1) {
            digest = PyDict_GetItemWithError(element, str_dots);
            if (digest == NULL && PyErr_Occurred()) goto error;
        }
        if (digest != NULL) { /* {"...": digest}: an array element disclosure, or a decoy */
            int rc = mark(u, digest);
            if (rc < 0) goto error;
            if (rc == 0) goto fail;
            PyObject *found = PyDict_GetItemWithError(u->by_digest, digest);
            if (found == NULL) {
                if (PyErr_Occurred()) goto error;
                continue;
            }
            u->used++;
            if (!PyList_CheckExact(found) || PyList_GET_SIZE(found) != 2) goto fail;
            PyObject *element_path = element_path_of(path, position);
            if (element_path == NULL) goto error;
            result = NULL;
            if (PyList_Append(u->paths, element_path) == 0)
                result = unfold_value(u, PyList_GET_ITEM(found, 1), element_path, depth + 1, status);
            Py_DECREF(element_path);
            if (result == NULL) goto error;
        } else if (PyDict_CheckExact(element) || PyList_CheckExact(element)) {
            PyObject *element_path = element_path_of(path, position);
            if (element_path == NULL) goto error;
            result = unfold_value(u, element, element_path, depth + 1, status);
            Py_DECREF(element_path);
            if (result == NULL) goto error;
        } else {
            result = Py_NewRef(element);
        }
        int rc = PyList_Append(out, result);
        Py_DECREF(result);
        if (rc < 0) goto error;
    }
    return out;
fail:
    *status = FAIL;
error:
    Py_DECREF(out);
    return NULL;
}

/* _Unfolder.unfold: a new reference, or NULL (with *status FAIL, or an exception set). */
static PyObject *unfold_value(Unfold *u, PyObject *value, PyObject *path, int depth, int *status) {
    if (depth > MAX_UNFOLD_DEPTH) { *status = FAIL; return NULL; }
    if (PyDict_CheckExact(value)) return unfold_object(u, value, path, 0, depth, status);
    if (PyList_CheckExact(value)) return unfold_array(u, value, path, depth, status);
    return Py_NewRef(value);
}

static PyObject *unfold(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "unfold(payload, by_digest)");
        return NULL;
    }
    if (!PyDict_CheckExact(args[0]) || !PyDict_CheckExact(args[1])) Py_RETURN_NONE;
    Unfold u = {args[1], PySet_New(NULL), PyList_New(0), 0};
    PyObject *claims = NULL, *result = NULL;
    int status = 0;
    if (u.seen != NULL && u.paths != NULL) {
        claims = unfold_object(&u, args[0], str_empty, 1, 0, &status);
        if (claims == NULL && status == FAIL && !PyErr_Occurred()) {
            result = Py_NewRef(Py_None);
        } else if (claims != NULL && u.used != PyDict_GET_SIZE(args[1])) {
            result = Py_NewRef(Py_None); /* a disclosure nothing references: Python names it */
        } else if (claims != NULL) {
            result = PyTuple_Pack(2, claims, u.paths);
        }
    }
    Py_XDECREF(claims);
    Py_XDECREF(u.seen);
    Py_XDECREF(u.paths);
    return result;
}

static PyMethodDef methods[] = {
    {"split", split, METH_O, "The pieces of an SD-JWT and its issuer-signed JWT, or None."},
    {"jws", (PyCFunction)(void (*)(void))jws, METH_FASTCALL,
     "(payload, signature, SHA-256 of the signing input) of a split JWS, or None."},
    {"decode", decode, METH_O, "(digests, blob) of SD-JWT disclosures, or None."},
    {"table", (PyCFunction)(void (*)(void))table, METH_FASTCALL, "{digest: disclosure} if well formed, or None."},
    {"unfold", (PyCFunction)(void (*)(void))unfold, METH_FASTCALL, "(claims, paths) of a payload, or None."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_sdverify_c", NULL, -1, methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__sdverify_c(void) {
    memset(b64_value, -1, sizeof b64_value);
    for (int i = 0; i < 64; i++) b64_value[(unsigned char)b64_alphabet[i]] = (signed char)i;
    for (int k = 0; k < 4; k++)
        for (int c = 0; c < 256; c++)
            b64_shift[k][c] = b64_value[c] < 0 ? BAD_BITS : (uint32_t)b64_value[c] << (18 - 6 * k);
    if ((str_sd = PyUnicode_InternFromString("_sd")) == NULL ||
        (str_sd_alg = PyUnicode_InternFromString("_sd_alg")) == NULL ||
        (str_dots = PyUnicode_InternFromString("...")) == NULL ||
        (str_empty = PyUnicode_InternFromString("")) == NULL ||
        (str_dot = PyUnicode_InternFromString(".")) == NULL)
        return NULL;
    return PyModule_Create(&module);
}
