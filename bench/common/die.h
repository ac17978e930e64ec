/* Fatal errors of the bench clients: a run that does not verify is not
 * one, so any protocol, data or system error ends it with exit 2 and the
 * reason on stderr after the tool's name. Define BENCH_TOOL (a string)
 * before including this. */
#ifndef BENCH_DIE_H
#define BENCH_DIE_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef BENCH_TOOL
#error "define BENCH_TOOL (the tool's name) before including common/die.h"
#endif

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
_Noreturn static inline void bench_die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, BENCH_TOOL ": ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

#endif
