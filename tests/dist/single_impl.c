/* The whole library from the single-file header, as one object: the unit
 * tests link against this instead of libcws.a (see tools/tools.mk), which
 * proves the generated header behaves exactly like the library. The cws__
 * internals the tests call keep external linkage in the header. */
#define CWS_IMPLEMENTATION
#include "../../single/cws.h"
