/* The clock skew fault of tests/faults: steps the wall clock of every process that
 * preloads it (LD_PRELOAD). CLOCK_REALTIME, and gettimeofday and time which derive from
 * it, are shifted by an offset read from a file the harness rewrites while the host runs,
 * like an NTP step. The monotonic clocks, and every sleep and wait on them, are left
 * alone (libfaketime 0.9.10 breaks those under Python 3.11: see docs/faults.md).
 *
 * The file (path in FAULT_CLOCK_FILE) holds one signed 64-bit integer, the offset in
 * nanoseconds; it is mapped shared, so the harness's write is seen by the next call. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile int64_t *offset_ns;
static int (*real_clock_gettime)(clockid_t, struct timespec *);
static int (*real_clock_nanosleep)(clockid_t, int, const struct timespec *, struct timespec *);

__attribute__((constructor)) static void setup(void) {
    real_clock_gettime = dlsym(RTLD_NEXT, "clock_gettime");
    real_clock_nanosleep = dlsym(RTLD_NEXT, "clock_nanosleep");
    const char *path = getenv("FAULT_CLOCK_FILE");
    if (path == NULL) return;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    void *map = mmap(NULL, sizeof(int64_t), PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map != MAP_FAILED) offset_ns = map;
}

static int64_t skew(void) { return offset_ns ? *offset_ns : 0; }

static int is_wall(clockid_t clock) {
    return clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE;
}

static void shift(struct timespec *ts, int64_t ns) {
    int64_t total = (int64_t)ts->tv_nsec + ns % 1000000000LL;
    ts->tv_sec += ns / 1000000000LL + total / 1000000000LL;
    ts->tv_nsec = total % 1000000000LL;
    if (ts->tv_nsec < 0) { ts->tv_nsec += 1000000000LL; ts->tv_sec -= 1; }
}

int clock_gettime(clockid_t clock, struct timespec *ts) {
    if (real_clock_gettime == NULL) real_clock_gettime = dlsym(RTLD_NEXT, "clock_gettime");
    int rc = real_clock_gettime(clock, ts);
    if (rc == 0 && is_wall(clock)) shift(ts, skew());
    return rc;
}

int gettimeofday(struct timeval *tv, void *tz) {
    struct timespec ts;
    (void)tz;
    clock_gettime(CLOCK_REALTIME, &ts);
    tv->tv_sec = ts.tv_sec;
    tv->tv_usec = ts.tv_nsec / 1000;
    return 0;
}

time_t time(time_t *out) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (out != NULL) *out = ts.tv_sec;
    return ts.tv_sec;
}

/* An absolute sleep on the wall clock was computed from the shifted clock: undo it. */
int clock_nanosleep(clockid_t clock, int flags, const struct timespec *req, struct timespec *rem) {
    if (real_clock_nanosleep == NULL) real_clock_nanosleep = dlsym(RTLD_NEXT, "clock_nanosleep");
    if ((flags & TIMER_ABSTIME) && is_wall(clock)) {
        struct timespec real = *req;
        shift(&real, -skew());
        return real_clock_nanosleep(clock, flags, &real, rem);
    }
    return real_clock_nanosleep(clock, flags, req, rem);
}
