#include "cws.h"

const char *cws_version(void) { return CWS_VERSION_STRING; }
