/* Native versions of the per-document primitives the hot path spends most of its time in.
 *
 * Each function does exactly what its pure-Python reference does (named in its docstring),
 * which stays the fallback when this extension is not built; tests/test_hot_path_differential.py
 * holds the two to the same results. Built by setuptools at install (setup.py).
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>

/* The documents these build are left untracked by the cycle collector, as CPython leaves a dict
 * of atomic values: a chunk's thousand fresh documents would otherwise be traversed by every
 * young-generation collection while the chunk is in flight, for no cycle can run through them.
 * Their values existed before them and never refer back to them (stages never change a value
 * nested in their input: the pipeline's own documents share those values), and a container
 * stored into one later tracks it again (dict insertion does). */
static void
leave_untracked(PyObject *doc)
{
    if (PyObject_GC_IsTracked(doc)) {
        PyObject_GC_UnTrack(doc);
    }
}

/* stamped_copies(docs, ts_field, ts, meta_field, meta) -> list */
static PyObject *
stamped_copies(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "stamped_copies takes 5 arguments");
        return NULL;
    }
    PyObject *docs = args[0], *ts_field = args[1], *ts = args[2], *meta_field = args[3], *meta = args[4];
    if (!PyList_CheckExact(docs)) {
        PyErr_SetString(PyExc_TypeError, "stamped_copies expects a list of documents");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(docs);
    PyObject *out = PyList_New(n);
    if (out == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *doc = PyList_GET_ITEM(docs, i);
        /* dict(doc): a subclass (an OrderedDict, say) is copied in its own iteration order */
        PyObject *copy = PyDict_CheckExact(doc) ? PyDict_Copy(doc) : PyObject_CallOneArg((PyObject *)&PyDict_Type, doc);
        if (copy == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, copy);
        if (PyDict_SetItem(copy, ts_field, ts) < 0 || PyDict_SetItem(copy, meta_field, meta) < 0) {
            Py_DECREF(out);
            return NULL;
        }
        leave_untracked(copy);
    }
    return out;
}

/* Inclusion(keys, room): called with a document, a new document of its fields named in keys,
 * in the document's order, sized for `room` fields. The keys' hashes are kept, so a field is
 * matched by comparing hashes (then identity or equality), as a set lookup would, without one. */
typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    Py_ssize_t room;
    PyObject *keys; /* tuple */
    Py_hash_t hashes[1];
} Inclusion;

static PyObject *
inclusion_call(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Inclusion *inclusion = (Inclusion *)self;
    if (PyVectorcall_NARGS(nargsf) != 1 || kwnames != NULL || !PyDict_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "an Inclusion takes one dict");
        return NULL;
    }
    if (!PyDict_CheckExact(args[0])) { /* a subclass's own order: project dict(doc) */
        PyObject *plain = PyObject_CallOneArg((PyObject *)&PyDict_Type, args[0]);
        if (plain == NULL) {
            return NULL;
        }
        PyObject *projected = inclusion_call(self, &plain, 1, NULL);
        Py_DECREF(plain);
        return projected;
    }
    PyObject *doc = args[0];
    PyObject *out = _PyDict_NewPresized(inclusion->room);
    if (out == NULL) {
        return NULL;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(inclusion->keys), position = 0;
    PyObject *key, *value;
    while (PyDict_Next(doc, &position, &key, &value)) {
        Py_hash_t hash = PyUnicode_CheckExact(key) ? ((PyASCIIObject *)key)->hash : -1;
        if (hash == -1 && (hash = PyObject_Hash(key)) == -1) {
            goto error;
        }
        for (Py_ssize_t i = 0; i < count; i++) {
            if (inclusion->hashes[i] != hash) {
                continue;
            }
            PyObject *wanted = PyTuple_GET_ITEM(inclusion->keys, i);
            int same = wanted == key ? 1 : PyObject_RichCompareBool(wanted, key, Py_EQ);
            if (same < 0 || (same && PyDict_SetItem(out, key, value) < 0)) {
                goto error;
            }
            if (same) {
                break;
            }
        }
    }
    leave_untracked(out);
    return out;
error:
    Py_DECREF(out);
    return NULL;
}

static PyObject *
inclusion_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *keys;
    Py_ssize_t room;
    if (!PyArg_ParseTuple(args, "O!n:Inclusion", &PyTuple_Type, &keys, &room)) {
        return NULL;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(keys);
    Inclusion *self = (Inclusion *)type->tp_alloc(type, count);
    if (self == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        if ((self->hashes[i] = PyObject_Hash(PyTuple_GET_ITEM(keys, i))) == -1) {
            Py_DECREF(self);
            return NULL;
        }
    }
    Py_INCREF(keys);
    self->keys = keys;
    self->room = room;
    self->vectorcall = inclusion_call;
    return (PyObject *)self;
}

static void
inclusion_dealloc(Inclusion *self)
{
    Py_XDECREF(self->keys);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject InclusionType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "runtime._native.Inclusion",
    .tp_doc = "Inclusion(keys, room): a callable projecting a document onto keys, in its own order "
              "(translator.segment's in-place inclusion is the reference).",
    .tp_basicsize = sizeof(Inclusion) - sizeof(Py_hash_t),
    .tp_itemsize = sizeof(Py_hash_t),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_new = inclusion_new,
    .tp_dealloc = (destructor)inclusion_dealloc,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(Inclusion, vectorcall),
};

/* sum_by_key(groups, docs, key_field, value_field, key_of, add, missing, fallback): for each document,
 * groups[k][1] += doc[value_field] where k is doc[key_field] (None when missing), or key_of(k)
 * unless k is exactly a str or an int; a new group starts as [k, 0]. Int plus int is added here,
 * anything else by add(total, value), with `missing` for a missing value; from the first
 * document that is not exactly a dict on, fallback(groups, docs) folds the rest
 * (translator.windows.group's Python loop, the reference). */
static PyObject *
sum_by_key(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 8) {
        PyErr_SetString(PyExc_TypeError, "sum_by_key takes 8 arguments");
        return NULL;
    }
    PyObject *groups = args[0], *docs = args[1], *key_field = args[2], *value_field = args[3];
    PyObject *key_of = args[4], *add = args[5], *missing = args[6], *fallback = args[7];
    if (!PyDict_CheckExact(groups) || !PyList_CheckExact(docs)) {
        PyErr_SetString(PyExc_TypeError, "sum_by_key expects a dict of groups and a list of documents");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(docs); i++) {
        PyObject *doc = PyList_GET_ITEM(docs, i), *key;
        if (!PyDict_CheckExact(doc)) { /* anything else through its own get, as the reference */
            PyObject *rest = PyList_GetSlice(docs, i, PyList_GET_SIZE(docs));
            PyObject *done = rest == NULL ? NULL : PyObject_CallFunctionObjArgs(fallback, groups, rest, NULL);
            Py_XDECREF(rest);
            return done;
        }
        key = PyDict_GetItemWithError(doc, key_field); /* borrowed */
        if (key == NULL && PyErr_Occurred()) {
            return NULL;
        }
        key = key == NULL ? Py_None : key;
        Py_INCREF(key);
        PyObject *hashed = PyUnicode_CheckExact(key) || PyLong_CheckExact(key) ? (Py_INCREF(key), key) : PyObject_CallOneArg(key_of, key);
        if (hashed == NULL) {
            Py_DECREF(key);
            return NULL;
        }
        PyObject *entry = PyDict_GetItemWithError(groups, hashed); /* borrowed */
        if (entry == NULL) {
            if (PyErr_Occurred() || (entry = PyList_New(2)) == NULL) {
                Py_DECREF(key);
                Py_DECREF(hashed);
                return NULL;
            }
            PyList_SET_ITEM(entry, 0, key); /* steals the reference taken above */
            PyList_SET_ITEM(entry, 1, PyLong_FromLong(0));
            int stored = PyList_GET_ITEM(entry, 1) == NULL ? -1 : PyDict_SetItem(groups, hashed, entry);
            Py_DECREF(entry); /* the groups hold it now */
            if (stored < 0) {
                Py_DECREF(hashed);
                return NULL;
            }
        } else {
            Py_DECREF(key);
        }
        Py_DECREF(hashed);
        if (!PyList_CheckExact(entry) || PyList_GET_SIZE(entry) < 2) {
            PyErr_SetString(PyExc_TypeError, "sum_by_key expects groups of [key, total, ...]");
            return NULL;
        }
        PyObject *value = PyDict_GetItemWithError(doc, value_field); /* borrowed */
        if (value == NULL && PyErr_Occurred()) {
            return NULL;
        }
        value = value == NULL ? missing : value;
        Py_INCREF(entry); /* held while `add` runs */
        PyObject *total = PyList_GET_ITEM(entry, 1);
        PyObject *sum = PyLong_CheckExact(value) && PyLong_CheckExact(total) ? PyNumber_Add(total, value)
                                                                               : PyObject_CallFunctionObjArgs(add, total, value, NULL);
        if (sum == NULL) {
            Py_DECREF(entry);
            return NULL;
        }
        PyList_SetItem(entry, 1, sum); /* steals sum, releases the old total */
        Py_DECREF(entry);
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"stamped_copies", (PyCFunction)(void (*)(void))stamped_copies, METH_FASTCALL,
     "stamped_copies(docs, ts_field, ts, meta_field, meta): a copy of each document with both fields set "
     "(runtime.stream_meta.stamped_copies_reference)."},
    {"sum_by_key", (PyCFunction)(void (*)(void))sum_by_key, METH_FASTCALL,
     "sum_by_key(groups, docs, key_field, value_field, key_of, add, missing, fallback): $sum of a field by a field "
     "(translator.windows.group's _add_plain_sums)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "runtime._native", "Native hot-path primitives; their pure-Python references run when this is not built.", -1, methods,
};

PyMODINIT_FUNC
PyInit__native(void)
{
    if (PyType_Ready(&InclusionType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL) {
        return NULL;
    }
    Py_INCREF(&InclusionType);
    if (PyModule_AddObject(module, "Inclusion", (PyObject *)&InclusionType) < 0) {
        Py_DECREF(&InclusionType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
