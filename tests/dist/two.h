/* What the two files of tests/dist/two_*.c share besides cws.h. */
#ifndef TWO_H
#define TWO_H
#ifdef __cplusplus
extern "C" {
#endif
void two_accept_key(char out[29]);
#ifdef __cplusplus
}
#endif
#endif
