/* The printed copy's side of the compiled issuance helpers (module _sdissue_c): canonical CBOR as
 * cbor2.dumps(canonical=True) writes it, and the claim table packed straight from the SD-JWT's marked claims. */
#include "_sdissue.h"

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

PyObject *sdissue_cbor_canonical(PyObject *self, PyObject *node) {
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

/* _claimtable._pack_date for an exact str "YYYY-MM-DD" (ASCII digits, a real date in years 1..9999): its day
 * number since 1970-01-01, as date.fromisoformat(v).toordinal() - 719163 gives it; such a string is always
 * the canonical isoformat() text. NULL without an error for anything else: the Python codec decides. */
static PyObject *native_date(PyObject *v) {
    static const int before[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!PyUnicode_CheckExact(v) || !PyUnicode_IS_ASCII(v) || PyUnicode_GET_LENGTH(v) != 10) return NULL;
    const unsigned char *c = PyUnicode_1BYTE_DATA(v);
    static const int digit_at[8] = {0, 1, 2, 3, 5, 6, 8, 9};
    for (int i = 0; i < 8; i++)
        if (c[digit_at[i]] < '0' || c[digit_at[i]] > '9') return NULL;
    if (c[4] != '-' || c[7] != '-') return NULL;
    long y = (c[0] - '0') * 1000 + (c[1] - '0') * 100 + (c[2] - '0') * 10 + (c[3] - '0');
    int m = (c[5] - '0') * 10 + (c[6] - '0'), d = (c[8] - '0') * 10 + (c[9] - '0');
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > days[m - 1] + (m == 2 && leap)) return NULL;
    long p = y - 1;
    long ordinal = p * 365 + p / 4 - p / 100 + p / 400 + before[m - 1] + (m > 2 && leap) + d;
    return PyLong_FromLong(ordinal - 719163);
}

/* A codec the packer runs itself: (kind, the Python codec). kind "date" is native_date; a dict is an enum
 * table, packed as table.get(v, v) for an exact str v (what _claimtable._enum's pack does). Whatever it
 * does not decide goes to the Python codec, so the result is always the Python one. */
static PyObject *native_codec(PyObject *codec, PyObject *plain) {
    PyObject *kind = PyTuple_GET_ITEM(codec, 0);
    if (Py_TYPE(kind) == &PyDict_Type) {
        if (PyUnicode_CheckExact(plain)) {
            PyObject *code = PyDict_GetItemWithError(kind, plain);
            if (code) return Py_NewRef(code);
            if (PyErr_Occurred()) return NULL;
            return Py_NewRef(plain);
        }
        if (PyLong_CheckExact(plain) || plain == Py_None) return Py_NewRef(plain);
    } else {
        PyObject *day = native_date(plain);
        if (day || PyErr_Occurred()) return day;
    }
    return PyObject_CallOneArg(PyTuple_GET_ITEM(codec, 1), plain);
}

/* One field's value under its codec: None (plain), a table (dict), [table] (a list of them), a (kind, codec)
 * pair (native_codec), or a callable. */
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
    *out = PyTuple_CheckExact(sub) ? native_codec(sub, plain) : PyObject_CallOneArg(sub, plain);
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

PyObject *sdissue_pack_claims(PyObject *self, PyObject *args) {
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
