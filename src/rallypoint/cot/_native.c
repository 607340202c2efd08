/* Native twin of rallypoint.cot.xmlscan and of the stream splitter's end-of-message search.
 *
 * Why: the pure-Python scan spends about as long in its expat callbacks as expat spends
 * parsing. Here the same expat (the system libexpat, the same library pyexpat wraps) calls C,
 * and Python objects are made only for what routing reads: the attributes of <event> and
 * <point> and of the captured <detail> children and their children. Everything else about the
 * parse is identical by construction: the same parser settings (namespace separator " ", no
 * DTD, no parameter entities) and the same error messages as pyexpat's ExpatError.
 *
 * Safety: every length is checked against the input's own size before use, the only buffer
 * that grows (a captured element's text) is capped at the input's size, and every CPython and
 * expat call that can fail is checked. A document in an encoding expat does not know raises
 * UnsupportedEncoding, and the caller falls back to the Python twin (pyexpat maps such
 * encodings through Python codecs).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <expat.h>
#include <string.h>

/* Defined in _numbers.c: an event's times and point read natively. */
int numbers_init(void);
PyObject *native_event_numbers(PyObject *module, PyObject *const *args, Py_ssize_t nargs);

static PyObject *ScanError;           /* the message is the MalformedXml text */
static PyObject *UnsupportedEncoding; /* use the Python twin for this input */

typedef struct {
    XML_Parser parser;
    const char *data;
    Py_ssize_t size;
    long depth;
    long max_depth;
    long detail_depth;
    int in_detail;
    int failed;      /* parsing was stopped: a Python error is set, or depth_error */
    int depth_error;
    int unknown_encoding;
    PyObject *capture;   /* borrowed: set of captured tag names */
    PyObject *text_tags; /* borrowed: captured tags whose text is read */
    PyObject *root_tag;
    PyObject *root;
    PyObject *point;
    int detail_found;
    Py_ssize_t content_start;
    Py_ssize_t detail_end;
    PyObject *encoding;
    PyObject *nodes;
    /* the captured child being read */
    PyObject *cur_tag;
    PyObject *cur_attrs;
    PyObject *cur_children;
    int cur_wants_text;
    char *text;
    Py_ssize_t text_len;
    Py_ssize_t text_cap;
} Scan;

static void stop(Scan *s) {
    s->failed = 1;
    XML_StopParser(s->parser, XML_FALSE);
}

static PyObject *utf8(const XML_Char *text) {
    return PyUnicode_DecodeUTF8(text, (Py_ssize_t)strlen(text), "strict");
}

/* The attributes as a dict, in document order (as pyexpat builds it). */
static PyObject *attributes(const XML_Char **atts) {
    PyObject *dict = PyDict_New();
    if (dict == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; atts[i] != NULL && atts[i + 1] != NULL; i += 2) {
        PyObject *name = utf8(atts[i]);
        PyObject *value = name == NULL ? NULL : utf8(atts[i + 1]);
        int failed = value == NULL || PyDict_SetItem(dict, name, value) < 0;
        Py_XDECREF(name);
        Py_XDECREF(value);
        if (failed) {
            Py_DECREF(dict);
            return NULL;
        }
    }
    return dict;
}

static Py_ssize_t byte_index(Scan *s) {
    XML_Index index = XML_GetCurrentByteIndex(s->parser);
    return (index < 0 || index > s->size) ? -1 : (Py_ssize_t)index;
}

static void on_text(void *user, const XML_Char *text, int len);

static void clear_current(Scan *s) {
    Py_CLEAR(s->cur_tag);
    Py_CLEAR(s->cur_attrs);
    Py_CLEAR(s->cur_children);
    s->cur_wants_text = 0;
    s->text_len = 0;
}

static void open_detail(Scan *s, const XML_Char **atts) {
    s->detail_found = 1;
    s->in_detail = 1;
    if (atts[0] == NULL) { /* no attribute values, so the first ">" ends the start tag */
        Py_ssize_t at = byte_index(s);
        const char *gt = at < 0 ? NULL : memchr(s->data + at, '>', (size_t)(s->size - at));
        if (gt == NULL) {
            PyErr_SetString(PyExc_ValueError, "start tag of <detail> has no end");
            stop(s);
            return;
        }
        s->content_start = (gt - s->data) + 1;
    }
}

static void open_child(Scan *s, const XML_Char *name, const XML_Char **atts) {
    if (s->content_start < 0) {
        s->content_start = byte_index(s);
    }
    clear_current(s);
    PyObject *tag = utf8(name);
    if (tag == NULL) {
        stop(s);
        return;
    }
    int captured = PySet_Contains(s->capture, tag);
    int wants_text = captured > 0 ? PySet_Contains(s->text_tags, tag) : 0;
    if (captured <= 0 || wants_text < 0) {
        Py_DECREF(tag);
        if (captured < 0 || wants_text < 0) {
            stop(s);
        }
        return;
    }
    s->cur_tag = tag;
    s->cur_attrs = attributes(atts);
    s->cur_children = PyList_New(0);
    if (s->cur_attrs == NULL || s->cur_children == NULL) {
        stop(s);
        return;
    }
    s->cur_wants_text = wants_text;
    if (wants_text) { /* text callbacks cost: only where text is read */
        XML_SetCharacterDataHandler(s->parser, on_text);
    }
}

static void add_grandchild(Scan *s, const XML_Char *name, const XML_Char **atts) {
    PyObject *tag = utf8(name);
    PyObject *attrs = tag == NULL ? NULL : attributes(atts);
    PyObject *pair = attrs == NULL ? NULL : PyTuple_Pack(2, tag, attrs);
    int failed = pair == NULL || PyList_Append(s->cur_children, pair) < 0;
    Py_XDECREF(tag);
    Py_XDECREF(attrs);
    Py_XDECREF(pair);
    if (failed) {
        stop(s);
    }
}

static void on_start(void *user, const XML_Char *name, const XML_Char **atts) {
    Scan *s = (Scan *)user;
    if (s->failed) {
        return;
    }
    long depth = ++s->depth;
    if (depth > s->max_depth) {
        s->depth_error = 1;
        stop(s);
        return;
    }
    if (depth == 1) {
        s->root_tag = utf8(name);
        s->root = s->root_tag == NULL ? NULL : attributes(atts);
        if (s->root == NULL) {
            stop(s);
        } else if (s->detail_depth == 1) {
            open_detail(s, atts);
        }
    } else if (depth == s->detail_depth + 1 && s->in_detail) {
        open_child(s, name, atts);
    } else if (depth == s->detail_depth + 2 && s->cur_tag != NULL) {
        add_grandchild(s, name, atts);
    } else if (depth == 2 && s->detail_depth == 2) {
        if (strcmp(name, "point") == 0 && s->point == NULL) {
            s->point = attributes(atts);
            if (s->point == NULL) {
                stop(s);
            }
        } else if (strcmp(name, "detail") == 0 && !s->detail_found) {
            open_detail(s, atts);
        }
    }
}

static void close_child(Scan *s) {
    if (s->cur_wants_text) {
        XML_SetCharacterDataHandler(s->parser, NULL);
    }
    PyObject *text = PyUnicode_DecodeUTF8(s->text == NULL ? "" : s->text, s->text_len, "strict");
    PyObject *node = text == NULL ? NULL : PyTuple_Pack(4, s->cur_tag, s->cur_attrs, s->cur_children, text);
    int failed = node == NULL || PyList_Append(s->nodes, node) < 0;
    Py_XDECREF(text);
    Py_XDECREF(node);
    clear_current(s);
    if (failed) {
        stop(s);
    }
}

static void on_end(void *user, const XML_Char *name) {
    (void)name;
    Scan *s = (Scan *)user;
    if (s->failed) {
        return;
    }
    long depth = s->depth;
    if (depth == s->detail_depth && s->in_detail) {
        s->in_detail = 0;
        s->detail_end = byte_index(s);
    } else if (depth == s->detail_depth + 1 && s->cur_tag != NULL) {
        close_child(s);
    }
    s->depth = depth - 1;
}

static void on_text(void *user, const XML_Char *text, int len) {
    Scan *s = (Scan *)user;
    if (s->failed || s->cur_tag == NULL || !s->cur_wants_text || s->depth != s->detail_depth + 1 ||
        len <= 0) {
        return;
    }
    /* Text is never longer than the input it came from: that is the cap. */
    if ((Py_ssize_t)len > s->size - s->text_len) {
        PyErr_SetString(PyExc_ValueError, "element text exceeds the input size");
        stop(s);
        return;
    }
    Py_ssize_t need = s->text_len + len;
    if (need > s->text_cap) {
        Py_ssize_t cap = s->text_cap < 64 ? 64 : s->text_cap;
        while (cap < need) {
            cap = cap > s->size / 2 ? s->size : cap * 2;
        }
        char *grown = PyMem_Realloc(s->text, (size_t)cap);
        if (grown == NULL) {
            PyErr_NoMemory();
            stop(s);
            return;
        }
        s->text = grown;
        s->text_cap = cap;
    }
    memcpy(s->text + s->text_len, text, (size_t)len);
    s->text_len = need;
}

static void on_declaration(void *user, const XML_Char *version, const XML_Char *encoding, int standalone) {
    (void)version;
    (void)standalone;
    Scan *s = (Scan *)user;
    if (s->failed) {
        return;
    }
    Py_CLEAR(s->encoding);
    if (encoding != NULL) {
        s->encoding = utf8(encoding);
        if (s->encoding == NULL) {
            stop(s);
        }
    }
}

static int XMLCALL on_unknown_encoding(void *data, const XML_Char *name, XML_Encoding *info) {
    (void)name;
    (void)info;
    *(int *)data = 1;
    return XML_STATUS_ERROR;
}

/* Parse `size` bytes with `user` callbacks; return 0, or -1 with a Python exception set. */
static int run_parser(XML_Parser parser, const char *data, Py_ssize_t size, Scan *s, int *unknown) {
    if (size > INT_MAX) {
        PyErr_SetString(PyExc_OverflowError, "input too large for one parse");
        return -1;
    }
    XML_SetUnknownEncodingHandler(parser, on_unknown_encoding, unknown);
    enum XML_Status status = XML_Parse(parser, data, (int)size, 1);
    if (s != NULL && s->failed) {
        if (s->depth_error) {
            PyErr_Format(ScanError, "XML nests deeper than %ld levels", s->max_depth);
        } else if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_SystemError, "scan stopped without an error");
        }
        return -1;
    }
    if (status != XML_STATUS_OK) {
        enum XML_Error code = XML_GetErrorCode(parser);
        if (*unknown && code == XML_ERROR_UNKNOWN_ENCODING) {
            PyErr_SetString(UnsupportedEncoding, "encoding not built into expat");
        } else {
            PyErr_Format(ScanError, "not well-formed XML: %s: line %i, column %i", XML_ErrorString(code),
                         (int)XML_GetErrorLineNumber(parser), (int)XML_GetErrorColumnNumber(parser));
        }
        return -1;
    }
    return 0;
}

/* One parser is kept and reset between documents: creating one costs about as much as
 * parsing a position report. The GIL is held from reset to the end of the parse and no Python
 * code runs in between, so it is never in use twice; `idle` guards that all the same. */
static XML_Parser kept_parser;
static int kept_idle = 1;
static unsigned long hash_salt; /* per process, as pyexpat: no entropy read per document */

static XML_Parser new_parser(void) {
    XML_Parser parser = NULL;
    if (kept_parser != NULL && kept_idle && XML_ParserReset(kept_parser, NULL)) {
        parser = kept_parser;
        kept_idle = 0;
    } else {
        parser = XML_ParserCreateNS(NULL, ' ');
        if (parser == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        if (kept_parser == NULL) {
            kept_parser = parser;
            kept_idle = 0;
        }
    }
    XML_SetHashSalt(parser, hash_salt);
    return parser;
}

static void free_parser(XML_Parser parser) {
    if (parser == kept_parser) {
        kept_idle = 1;
    } else {
        XML_ParserFree(parser);
    }
}

static PyObject *native_check_well_formed(PyObject *module, PyObject *data) {
    (void)module;
    if (!PyBytes_Check(data)) {
        PyErr_SetString(PyExc_TypeError, "data must be bytes");
        return NULL;
    }
    XML_Parser parser = new_parser();
    if (parser == NULL) {
        return NULL;
    }
    int unknown = 0;
    int result = run_parser(parser, PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), NULL, &unknown);
    free_parser(parser);
    if (result < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static void release(Scan *s) {
    clear_current(s);
    Py_CLEAR(s->root_tag);
    Py_CLEAR(s->root);
    Py_CLEAR(s->point);
    Py_CLEAR(s->encoding);
    Py_CLEAR(s->nodes);
    PyMem_Free(s->text);
    s->text = NULL;
}

/* scan(data, detail_root, max_depth, capture, text_tags) ->
 *   (root_tag, root, point, detail_found, detail_content_start, detail_end, encoding,
 *    [(tag, attributes, [(tag, attributes)], text)]) */
static PyObject *native_scan(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "scan takes 5 arguments");
        return NULL;
    }
    PyObject *data = args[0];
    if (!PyBytes_Check(data) || !PyAnySet_Check(args[3]) || !PyAnySet_Check(args[4])) {
        PyErr_SetString(PyExc_TypeError, "scan(bytes, bool, int, set, set)");
        return NULL;
    }
    int detail_root = PyObject_IsTrue(args[1]);
    long max_depth = PyLong_AsLong(args[2]);
    if (detail_root < 0 || (max_depth == -1 && PyErr_Occurred())) {
        return NULL;
    }
    Scan s;
    memset(&s, 0, sizeof s);
    s.data = PyBytes_AS_STRING(data);
    s.size = PyBytes_GET_SIZE(data);
    s.max_depth = max_depth;
    s.detail_depth = detail_root ? 1 : 2;
    s.capture = args[3];
    s.text_tags = args[4];
    s.content_start = -1;
    s.detail_end = -1;
    s.nodes = PyList_New(0);
    if (s.nodes == NULL) {
        return NULL;
    }
    s.parser = new_parser();
    if (s.parser == NULL) {
        release(&s);
        return NULL;
    }
    XML_SetUserData(s.parser, &s);
    XML_SetElementHandler(s.parser, on_start, on_end);
    XML_SetXmlDeclHandler(s.parser, on_declaration);
    int result = run_parser(s.parser, s.data, s.size, &s, &s.unknown_encoding);
    free_parser(s.parser);
    s.parser = NULL;
    PyObject *out = NULL;
    if (result == 0) {
        out = Py_BuildValue("(OOOOnnOO)", s.root_tag ? s.root_tag : Py_None, s.root ? s.root : Py_None,
                            s.point ? s.point : Py_None, s.detail_found ? Py_True : Py_False,
                            s.content_start, s.detail_end, s.encoding ? s.encoding : Py_None, s.nodes);
    }
    release(&s);
    return out;
}

/* xml_end(buffer, position, closer) -> (end, closer, resume)
 *
 * The search loop of StreamDecoder._xml_end from `position`: `closer` is the bytes that end
 * the text markup the search is inside (b"" when outside). `end` is the offset just after the
 * first markup `</NAME[ \t\r\n]{0,space}>` outside CDATA, comments and processing
 * instructions, or -1 when the buffer ends first; then `closer` and `resume` say where the
 * next search continues. */
static const char *const OPENERS[3] = {"<![CDATA[", "<!--", "<?"};
static const char *const CLOSERS[3] = {"]]>", "-->", "?>"};

static int is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static Py_ssize_t find_bytes(const char *hay, Py_ssize_t from, Py_ssize_t size, const char *needle,
                             Py_ssize_t length) {
    while (from <= size - length) {
        const char *hit = memchr(hay + from, needle[0], (size_t)(size - from));
        if (hit == NULL) {
            return -1;
        }
        Py_ssize_t at = hit - hay;
        if (at > size - length) {
            return -1;
        }
        if (memcmp(hit, needle, (size_t)length) == 0) {
            return at;
        }
        from = at + 1;
    }
    return -1;
}

static PyObject *native_xml_end(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "xml_end takes 5 arguments");
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    Py_ssize_t position = PyLong_AsSsize_t(args[1]);
    Py_ssize_t space = PyLong_AsSsize_t(args[4]);
    if (!PyBytes_Check(args[2]) || !PyBytes_Check(args[3]) || PyErr_Occurred()) {
        PyBuffer_Release(&view);
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_TypeError, "xml_end(buffer, int, bytes, bytes, int)");
        }
        return NULL;
    }
    const char *name = PyBytes_AS_STRING(args[3]); /* b"</event" or b"</auth" */
    Py_ssize_t name_len = PyBytes_GET_SIZE(args[3]);
    const char *closer = PyBytes_AS_STRING(args[2]);
    Py_ssize_t closer_len = PyBytes_GET_SIZE(args[2]);
    const char *buffer = (const char *)view.buf;
    Py_ssize_t size = view.len;
    Py_ssize_t end = -1;
    Py_ssize_t resume = position;
    Py_ssize_t lookbehind = name_len + space + 1;
    if (position < 0 || position > size || space < 0 || name_len < 2) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "xml_end: position or limits out of range");
        return NULL;
    }
    Py_ssize_t search_start = position; /* where this search began, after the last closer */
    while (end < 0) {
        if (closer_len > 0) {
            Py_ssize_t found = find_bytes(buffer, position, size, closer, closer_len);
            if (found < 0) {
                Py_ssize_t tail = size - closer_len + 1;
                resume = position > tail ? position : tail;
                break;
            }
            position = found + closer_len;
            search_start = position;
            closer = "";
            closer_len = 0;
            continue;
        }
        Py_ssize_t at = find_bytes(buffer, position, size, "<", 1);
        if (at < 0) {
            Py_ssize_t tail = size - lookbehind;
            resume = search_start > tail ? search_start : tail;
            break;
        }
        Py_ssize_t left = size - at;
        int opener = -1;
        for (int i = 0; i < 3; i++) {
            Py_ssize_t length = (Py_ssize_t)strlen(OPENERS[i]);
            if (left >= length && memcmp(buffer + at, OPENERS[i], (size_t)length) == 0) {
                opener = i;
                break;
            }
        }
        if (opener >= 0) {
            position = at + (Py_ssize_t)strlen(OPENERS[opener]);
            closer = CLOSERS[opener];
            closer_len = (Py_ssize_t)strlen(closer);
            continue;
        }
        if (left >= name_len && memcmp(buffer + at, name, (size_t)name_len) == 0) {
            Py_ssize_t i = at + name_len;
            while (i < size && i - (at + name_len) < space && is_space(buffer[i])) {
                i++;
            }
            if (i < size && buffer[i] == '>') {
                end = i + 1;
                break;
            }
            if (i >= size) { /* the tag may still complete: a token split across reads */
                Py_ssize_t tail = size - lookbehind;
                resume = search_start > tail ? search_start : tail;
                break;
            }
        }
        position = at + 1;
    }
    PyBuffer_Release(&view);
    if (end >= 0) {
        return Py_BuildValue("(ny#n)", end, "", (Py_ssize_t)0, (Py_ssize_t)0);
    }
    return Py_BuildValue("(ny#n)", (Py_ssize_t)-1, closer, closer_len, resume);
}

/* event_tags(data) -> how many times "<event" or "</event" occurs, ASCII case ignored: the
 * frame-safety check of rallypoint.cot.xml.is_frame_safe, without a regex pass. */
static int is_event_at(const char *p, Py_ssize_t left) {
    static const char word[] = "event";
    if (left < 5) {
        return 0;
    }
    for (int i = 0; i < 5; i++) {
        char c = p[i];
        if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        if (c != word[i]) {
            return 0;
        }
    }
    return 1;
}

static PyObject *native_event_tags(PyObject *module, PyObject *data) {
    (void)module;
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    const char *bytes = (const char *)view.buf;
    Py_ssize_t size = view.len;
    Py_ssize_t count = 0;
    Py_ssize_t at = 0;
    while (at < size) {
        const char *hit = memchr(bytes + at, '<', (size_t)(size - at));
        if (hit == NULL) {
            break;
        }
        Py_ssize_t next = (hit - bytes) + 1;
        if (next < size && bytes[next] == '/') {
            next++;
        }
        if (is_event_at(bytes + next, size - next)) {
            count++;
            next += 5;
        }
        at = next;
    }
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(count);
}

static PyMethodDef methods[] = {
    {"scan", (PyCFunction)(void (*)(void))native_scan, METH_FASTCALL, "One pass over an event: see xmlscan."},
    {"check_well_formed", native_check_well_formed, METH_O, "Parse without collecting anything."},
    {"event_tags", native_event_tags, METH_O, "Occurrences of <event or </event, ASCII case ignored."},
    {"xml_end", (PyCFunction)(void (*)(void))native_xml_end, METH_FASTCALL,
     "End of the XML message being searched: see StreamDecoder._xml_end."},
    {"event_numbers", (PyCFunction)(void (*)(void))native_event_numbers, METH_FASTCALL,
     "time, start, stale and the point as numbers, or None when not canonical: see _numbers.c."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "rallypoint.cot._native", "Native twin of the XML scan and stream splitter.",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__native(void) {
    PyObject *os = PyImport_ImportModule("os");
    PyObject *salt = os == NULL ? NULL : PyObject_CallMethod(os, "urandom", "n", (Py_ssize_t)sizeof hash_salt);
    Py_XDECREF(os);
    if (salt == NULL || !PyBytes_Check(salt) || PyBytes_GET_SIZE(salt) != (Py_ssize_t)sizeof hash_salt) {
        Py_XDECREF(salt);
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_SystemError, "os.urandom gave no salt");
        }
        return NULL;
    }
    memcpy(&hash_salt, PyBytes_AS_STRING(salt), sizeof hash_salt);
    Py_DECREF(salt);
    PyObject *module = numbers_init() < 0 ? NULL : PyModule_Create(&module_def);
    if (module == NULL) {
        return NULL;
    }
    ScanError = PyErr_NewException("rallypoint.cot._native.ScanError", PyExc_ValueError, NULL);
    UnsupportedEncoding =
        PyErr_NewException("rallypoint.cot._native.UnsupportedEncoding", PyExc_ValueError, NULL);
    if (ScanError == NULL || UnsupportedEncoding == NULL ||
        PyModule_AddObjectRef(module, "ScanError", ScanError) < 0 ||
        PyModule_AddObjectRef(module, "UnsupportedEncoding", UnsupportedEncoding) < 0 ||
        PyModule_AddStringConstant(module, "EXPAT_VERSION", XML_ExpatVersion()) < 0) {
        Py_XDECREF(ScanError);
        Py_XDECREF(UnsupportedEncoding);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
