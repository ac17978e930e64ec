/* Error names: generated from the CWS_ERRORS list in cws.h. */
#include "internal.h"

const char *cws_strerror(int err) {
    switch (err) {
#define ERROR_TEXT(name, value, text) \
    case CWS_##name: return text;
        CWS_ERRORS(ERROR_TEXT)
#undef ERROR_TEXT
    default: return "unknown error";
    }
}
