/* Native reading of an event's numbers: time, start, stale and the five point attributes.
 *
 * Why: after the scan, the Python codec spent about as long turning these eight attribute
 * strings into integers and floats (datetime.fromisoformat, float, the checks) as expat spent
 * parsing the whole event. Nearly every sender writes them in one canonical form, which C
 * reads in a few dozen nanoseconds.
 *
 * Identical results by construction: only the canonical forms are read here, and for those
 * the Python path is exactly known (a timestamp "YYYY-MM-DDTHH:MM:SS[.digits]Z" is UTC,
 * fraction truncated to the millisecond; a plain decimal goes through the same
 * PyOS_string_to_double that float() calls). Anything else, and anything the Python path
 * would refuse (a missing time, a date before 1970, February 30th, a latitude of 91), gives
 * None, and the caller runs the Python path, which then raises its own error or reads the
 * non-canonical form.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define MAX_TIMESTAMP_TEXT 64 /* rallypoint.cot.timefmt.MAX_TIMESTAMP_TEXT */
#define MAX_NUMBER_TEXT 40    /* no plain decimal this long overflows a double */
#define UNKNOWN_DISTANCE 9999999.0 /* rallypoint.cot.event.UNKNOWN_DISTANCE */

static PyObject *key_time, *key_start, *key_stale;
static PyObject *key_point[5]; /* lat, lon, hae, ce, le */
static const char *const POINT_NAMES[5] = {"lat", "lon", "hae", "ce", "le"};
static const double POINT_DEFAULTS[5] = {0.0, 0.0, UNKNOWN_DISTANCE, UNKNOWN_DISTANCE, UNKNOWN_DISTANCE};

int numbers_init(void) {
    key_time = PyUnicode_InternFromString("time");
    key_start = PyUnicode_InternFromString("start");
    key_stale = PyUnicode_InternFromString("stale");
    if (key_time == NULL || key_start == NULL || key_stale == NULL) {
        return -1;
    }
    for (int i = 0; i < 5; i++) {
        key_point[i] = PyUnicode_InternFromString(POINT_NAMES[i]);
        if (key_point[i] == NULL) {
            return -1;
        }
    }
    return 0;
}

/* The UTF-8 text of an attribute value, or NULL when absent (an error, if any, is set). */
static const char *value_text(PyObject *dict, PyObject *key, Py_ssize_t *size) {
    PyObject *value = PyDict_GetItemWithError(dict, key);
    if (value == NULL || !PyUnicode_Check(value)) {
        return NULL;
    }
    const char *text = PyUnicode_AsUTF8AndSize(value, size); /* no copy for ASCII text */
    if (text == NULL) {
        PyErr_Clear(); /* lone surrogates: not canonical, the Python path decides */
    }
    return text;
}

static int read_digits(const char *text, int count, int *out) {
    int value = 0;
    for (int i = 0; i < count; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return 0;
        }
        value = value * 10 + (text[i] - '0');
    }
    *out = value;
    return 1;
}

static int is_leap(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

static int days_in_month(int year, int month) {
    static const int DAYS[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && is_leap(year) ? 29 : DAYS[month - 1];
}

/* Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static long long days_from_civil(int year, int month, int day) {
    long long y = month <= 2 ? year - 1 : year;
    long long era = y / 400; /* years here are at least 1970: no negative division */
    long long year_of_era = y - era * 400;
    long long day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    long long day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;
}

/* Milliseconds since the epoch of "YYYY-MM-DDTHH:MM:SS[.digits]Z", or -1 for any other text. */
static long long canonical_millis(const char *text, Py_ssize_t size) {
    if (size < 20 || size > MAX_TIMESTAMP_TEXT || text[4] != '-' || text[7] != '-' || text[10] != 'T' ||
        text[13] != ':' || text[16] != ':' || text[size - 1] != 'Z') {
        return -1;
    }
    int year, month, day, hour, minute, second;
    if (!read_digits(text, 4, &year) || !read_digits(text + 5, 2, &month) ||
        !read_digits(text + 8, 2, &day) || !read_digits(text + 11, 2, &hour) ||
        !read_digits(text + 14, 2, &minute) || !read_digits(text + 17, 2, &second)) {
        return -1;
    }
    int millis = 0;
    if (size > 20) { /* a fraction: "." and at least one digit, truncated to milliseconds */
        if (text[19] != '.' || size < 22) {
            return -1;
        }
        for (Py_ssize_t i = 20; i < size - 1; i++) {
            if (text[i] < '0' || text[i] > '9') {
                return -1;
            }
            if (i < 23) {
                millis = millis * 10 + (text[i] - '0');
            }
        }
        for (Py_ssize_t digits = size - 21; digits < 3; digits++) {
            millis *= 10;
        }
    }
    if (year < 1970 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) ||
        hour > 23 || minute > 59 || second > 59) {
        return -1;
    }
    long long seconds = ((days_from_civil(year, month, day) * 24 + hour) * 60 + minute) * 60 + second;
    return seconds * 1000 + millis;
}

/* 1 and *out for plain decimal text ("-12.5", "7"), 0 for any other text. */
static int canonical_number(const char *text, Py_ssize_t size, double *out) {
    if (size > MAX_NUMBER_TEXT) {
        return 0;
    }
    Py_ssize_t i = size > 0 && text[0] == '-';
    Py_ssize_t integer_start = i;
    while (i < size && text[i] >= '0' && text[i] <= '9') {
        i++;
    }
    if (i == integer_start) {
        return 0;
    }
    if (i < size) {
        if (text[i] != '.') {
            return 0;
        }
        Py_ssize_t fraction_start = ++i;
        while (i < size && text[i] >= '0' && text[i] <= '9') {
            i++;
        }
        if (i == fraction_start || i != size) {
            return 0;
        }
    }
    char *end = NULL;
    double value = PyOS_string_to_double(text, &end, NULL); /* what float() calls */
    if (value == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    if (end != text + size) {
        return 0;
    }
    *out = value;
    return 1;
}

/* A required timestamp: -1 when absent, empty or not canonical. */
static long long time_value(PyObject *root, PyObject *key) {
    Py_ssize_t size = 0;
    const char *text = value_text(root, key, &size);
    return text == NULL ? -1 : canonical_millis(text, size);
}

PyObject *native_event_numbers(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 2 || !PyDict_Check(args[0]) || !PyDict_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "event_numbers(root: dict, point: dict)");
        return NULL;
    }
    PyObject *root = args[0], *point = args[1];
    long long times[3];
    times[0] = time_value(root, key_time);
    Py_ssize_t start_size = 0;
    const char *start_text = value_text(root, key_start, &start_size);
    times[1] = start_text == NULL || start_size == 0 ? times[0] : canonical_millis(start_text, start_size);
    times[2] = time_value(root, key_stale);
    double values[5];
    int canonical = !PyErr_Occurred() && times[0] >= 0 && times[1] >= 0 && times[2] >= 0;
    for (int i = 0; canonical && i < 5; i++) {
        Py_ssize_t size = 0;
        const char *text = value_text(point, key_point[i], &size);
        if (PyErr_Occurred()) {
            return NULL;
        }
        values[i] = POINT_DEFAULTS[i];
        canonical = text == NULL || size == 0 || canonical_number(text, size, &values[i]);
    }
    if (PyErr_Occurred()) {
        return NULL;
    }
    if (!canonical || !(values[0] >= -90.0 && values[0] <= 90.0 && values[1] >= -180.0 && values[1] <= 180.0)) {
        Py_RETURN_NONE;
    }
    PyObject *result = PyTuple_New(8);
    if (result == NULL) {
        return NULL;
    }
    for (int i = 0; i < 8; i++) {
        PyObject *item = i < 3 ? PyLong_FromLongLong(times[i]) : PyFloat_FromDouble(values[i - 3]);
        if (item == NULL) {
            Py_DECREF(result);
            return NULL;
        }
        PyTuple_SET_ITEM(result, i, item);
    }
    return result;
}
