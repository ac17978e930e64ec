/* The store (store.h) of one process: the history files (history.h) and
 * the ids of the kept posts (post_ids.h). Everything answers at once. */
#ifndef CHAT_STORE_FILE_H
#define CHAT_STORE_FILE_H

#include "history.h"
#include "store.h"

#include <cws.h>

/* The room's group-commit window for --fsync batch. */
#define STORE_FILE_SYNC_DELAY_MS 10

/* Takes h (closed by the store's close). NULL if out of memory (h is
 * left open then). */
store *store_file_new(cws_loop *loop, history *h);

#endif
