/* LD_PRELOAD shim that counts a process's allocation calls, for the
 * "allocations per message in steady state" figure:
 *   MALLOC_COUNT_FILE=/tmp/counts LD_PRELOAD=build/bench/malloc_count.so server
 * The file holds four native uint64 counters (malloc, calloc, realloc,
 * memalign-family calls), kept in a shared mapping so that the load
 * generator can read them at any moment with plain file reads: it samples
 * them at the start and the end of its measured window. Every call is
 * forwarded to glibc's own entry points (__libc_malloc, ...), which avoids
 * the dlsym-calls-malloc bootstrap problem. glibc only. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

enum { MC_MALLOC, MC_CALLOC, MC_REALLOC, MC_ALIGNED };

/* Counts land here until the constructor maps the file. */
static uint64_t mc_early[4];
static uint64_t *mc_counts = mc_early;

__attribute__((constructor)) static void mc_init(void) {
    const char *path = getenv("MALLOC_COUNT_FILE");
    if (!path) return;
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return;
    if (ftruncate(fd, 4 * sizeof(uint64_t)) == 0) {
        void *p = mmap(NULL, 4 * sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p != MAP_FAILED) {
            uint64_t *m = p;
            for (int i = 0; i < 4; i++) m[i] = mc_early[i];
            mc_counts = m;
        }
    }
    close(fd);
}

static void mc_count(int which) { __atomic_fetch_add(&mc_counts[which], 1, __ATOMIC_RELAXED); }

void *malloc(size_t n) { mc_count(MC_MALLOC); return __libc_malloc(n); }
void *calloc(size_t n, size_t m) { mc_count(MC_CALLOC); return __libc_calloc(n, m); }
void *realloc(void *p, size_t n) { mc_count(MC_REALLOC); return __libc_realloc(p, n); }
void free(void *p) { __libc_free(p); }
void *memalign(size_t a, size_t n) { mc_count(MC_ALIGNED); return __libc_memalign(a, n); }
void *aligned_alloc(size_t a, size_t n) { mc_count(MC_ALIGNED); return __libc_memalign(a, n); }
int posix_memalign(void **out, size_t a, size_t n) {
    mc_count(MC_ALIGNED);
    void *p = __libc_memalign(a, n);
    if (!p) return 12; /* ENOMEM */
    *out = p;
    return 0;
}
