/* Proof that orjson read a JSON text exactly as the strict stdlib parser would (credentials.strictjson.json_parse).
 *
 *   exact(raw, value, max_depth) -> bool
 *       raw is a text orjson accepted and value what it returned. True when, outside strings, raw has no
 *       float literal ('.', or 'e'/'E' after a digit), nests at most max_depth arrays/objects, and has
 *       exactly as many ':' (one per member written) as value's exact dicts hold keys, and value holds no
 *       float. Then no member name was repeated (orjson keeps the last one silently), no integer outside
 *       64 bits became a float, and every other value orjson reads (strings, ints, true/false/null) is what
 *       the stdlib reads: the caller may return value. False means "not proven": the stdlib path decides.
 *
 *   plain(value, max_depth) -> bool
 *       records.loader._plain_json: value holds only exact dict, list, str, int, float, bool and None, nested
 *       at most max_depth deep (what jsonschema_rs reads as jsonschema does).
 *
 * Every read is bounded by the object's own length; nothing here allocates.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

/* ':' outside strings, or -1 on a float literal or nesting deeper than max_depth. */
static Py_ssize_t scan(const unsigned char *p, Py_ssize_t n, long max_depth) {
    Py_ssize_t colons = 0;
    long depth = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        switch (p[i]) {
        case '"': /* to the closing quote: the next '"' after an even run of backslashes (memchr: strings are most
                   * of a record's bytes) */
            for (;;) {
                const unsigned char *q = memchr(p + i + 1, '"', (size_t)(n - i - 1));
                if (q == NULL) return -1; /* unterminated: orjson would not have read it */
                i = q - p;
                Py_ssize_t run = 0;
                while (p[i - 1 - run] == '\\') run++; /* stops at the opening quote at the latest */
                if (run % 2 == 0) break;
            }
            break;
        case ':': colons++; break;
        case '[': case '{':
            if (++depth > max_depth) return -1;
            break;
        case ']': case '}': depth--; break;
        case '.': return -1;
        case 'e': case 'E':
            if (i > 0 && p[i - 1] >= '0' && p[i - 1] <= '9') return -1;
            break;
        default: break;
        }
    }
    return colons;
}

/* Keys of the exact dicts in value, or -1 on a float or past max_depth (orjson builds only dict, list, str,
 * int, float, bool and None; anything else counts as a leaf). */
static Py_ssize_t keys(PyObject *value, long depth) {
    Py_ssize_t total = 0, pos = 0, i, sub;
    PyObject *key, *item;
    if (depth < 0) return -1;
    if (PyDict_CheckExact(value)) {
        total = PyDict_GET_SIZE(value);
        while (PyDict_Next(value, &pos, &key, &item)) {
            if ((sub = keys(item, depth - 1)) < 0) return -1;
            total += sub;
        }
        return total;
    }
    if (PyList_CheckExact(value)) {
        for (i = 0; i < PyList_GET_SIZE(value); i++) {
            if ((sub = keys(PyList_GET_ITEM(value, i), depth - 1)) < 0) return -1;
            total += sub;
        }
        return total;
    }
    return PyFloat_Check(value) ? -1 : 0;
}

static PyObject *exact(PyObject *self, PyObject *args) {
    Py_buffer raw;
    PyObject *value;
    long max_depth;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*Ol:exact", &raw, &value, &max_depth)) return NULL;
    Py_ssize_t colons = scan((const unsigned char *)raw.buf, raw.len, max_depth);
    PyBuffer_Release(&raw);
    if (colons < 0) Py_RETURN_FALSE;
    /* depth + 1: the scan already bounded the nesting; a leaf sits one level below its container */
    return PyBool_FromLong(keys(value, max_depth + 1) == colons);
}

static int plain_value(PyObject *value, long depth) {
    Py_ssize_t pos = 0, i;
    PyObject *key, *item;
    if (PyDict_CheckExact(value)) {
        if (depth <= 0) return 0;
        while (PyDict_Next(value, &pos, &key, &item))
            if (!plain_value(item, depth - 1)) return 0;
        return 1;
    }
    if (PyList_CheckExact(value)) {
        if (depth <= 0) return 0;
        for (i = 0; i < PyList_GET_SIZE(value); i++)
            if (!plain_value(PyList_GET_ITEM(value, i), depth - 1)) return 0;
        return 1;
    }
    return PyUnicode_CheckExact(value) || PyLong_CheckExact(value) || PyFloat_CheckExact(value) ||
           PyBool_Check(value) || value == Py_None;
}

static PyObject *plain(PyObject *self, PyObject *args) {
    PyObject *value;
    long max_depth;
    (void)self;
    if (!PyArg_ParseTuple(args, "Ol:plain", &value, &max_depth)) return NULL;
    return PyBool_FromLong(plain_value(value, max_depth));
}

static PyMethodDef methods[] = {
    {"plain", plain, METH_VARARGS,
     "plain(value, max_depth) -> whether value holds only exact JSON types, at most max_depth deep"},
    {"exact", exact, METH_VARARGS,
     "exact(raw, value, max_depth) -> whether orjson's value of raw is provably the strict parser's"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_jsonscan_c", NULL, -1, methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__jsonscan_c(void) { return PyModule_Create(&module); }
