/* cws-chat built without Redis (no REDIS=1): --redis is refused with a
 * message (main.c), and this stands in for redis_store.c. */
#include "redis_store.h"

const int redis_store_built = 0;

store *redis_store_new(cws_loop *loop, const char *host, int port, const char *prefix, size_t keep, FILE *log) {
    (void)loop;
    (void)host;
    (void)port;
    (void)prefix;
    (void)keep;
    fprintf(log, "cws-chat: built without Redis support\n");
    return NULL;
}
