/*
 * Exercises the objdl C API from C, as a user of objdl.h would.
 *
 * Usage: test_capi basic.o provider.o provider2.o consumer.o local.o
 *                  needs_local.o uses_define.o ctor.o
 * (the plugins in plugins/, compiled with gcc -c by tests/c_api.rs).
 *
 * Prints "ok: WHAT" after each group of checks and "all ok" at the end;
 * the first failed check prints "FAIL ..." on stderr and exits 1. The Rust
 * side also reads the dumps and the constructor's output from stdout.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "objdl.h"

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            const char *e_ = objdl_dlerror();                                             \
            fflush(stdout);                                                               \
            fprintf(stderr, "FAIL %s:%d: %s (objdl_dlerror: %s)\n", __FILE__, __LINE__, #cond, \
                    e_ ? e_ : "none");                                                    \
            exit(1);                                                                      \
        }                                                                                 \
    } while (0)

enum { BASIC = 1, PROVIDER, PROVIDER2, CONSUMER, LOCAL, NEEDS_LOCAL, USES_DEFINE, CTOR, NPATHS };

static const char *const *paths;

typedef int (*int_int_fn)(int);
typedef int (*int_void_fn)(void);

/* A function pointer from a symbol address (POSIX guarantees the round trip). */
#define FN(type, p) ((type)(size_t)(p))

/* The current error, which must exist and contain `needle`; then it must be cleared. */
static void expect_error(const char *needle)
{
    const char *e = objdl_dlerror();
    if (e == NULL || strstr(e, needle) == NULL) {
        fflush(stdout);
        fprintf(stderr, "FAIL: expected an error containing \"%s\", got %s\n", needle,
                e ? e : "none");
        exit(1);
    }
    printf("error: %s\n", e);
    CHECK(objdl_dlerror() == NULL);
}

/* Host symbols given to units with objdl_define. */
static int host_square(int x) { return x * x; }
static int host_data = 1000;

static void *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    CHECK(fseek(f, 0, SEEK_END) == 0);
    long n = ftell(f);
    CHECK(n > 0);
    rewind(f);
    void *buf = malloc((size_t)n);
    CHECK(buf != NULL);
    CHECK(fread(buf, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void test_basic(void)
{
    void *h = objdl_dlopen(paths[BASIC], OBJDL_RTLD_LOCAL);
    CHECK(h != NULL);
    int (*add)(int, int) = FN(int (*)(int, int), objdl_dlsym(h, "basic_add"));
    CHECK(add != NULL);
    CHECK(add(40, 2) == 42);
    int *counter = objdl_dlsym(h, "basic_counter");
    CHECK(counter != NULL && *counter == 1);
    CHECK(FN(int_int_fn, objdl_dlsym(h, "basic_triple"))(5) == 15);
    size_t (*len)(const char *) = FN(size_t (*)(const char *), objdl_dlsym(h, "basic_len"));
    CHECK(len("objdl") == 5);

    /* A static function is not exported; a missing symbol names the unit. */
    CHECK(objdl_dlsym(h, "helper") == NULL);
    expect_error("helper");
    CHECK(objdl_dlsym(h, "no_such_symbol") == NULL);
    expect_error("basic.o");
    CHECK(objdl_dlsym(h, NULL) == NULL);
    expect_error("NULL");

    /* Opening the same path again: another handle on the same unit. */
    void *again = objdl_dlopen(paths[BASIC], OBJDL_RTLD_LOCAL);
    CHECK(again != NULL && again != h);
    CHECK(objdl_dlsym(again, "basic_add") == (void *)(size_t)add);
    CHECK(objdl_dlclose(again) == 0);
    CHECK(add(1, 1) == 2); /* still loaded: h is open */

    /* The dump: sorted by name, static functions absent. */
    printf("dump-exports: begin\n");
    int n = objdl_dump_exports(h);
    printf("dump-exports: end\n");
    CHECK(n == 4);

    CHECK(objdl_dlclose(h) == 0);
    /* A closed handle is no longer valid. */
    CHECK(objdl_dlclose(h) == -1);
    expect_error("not a live objdl handle");
    CHECK(objdl_dlsym(h, "basic_add") == NULL);
    expect_error("not a live objdl handle");
    CHECK(objdl_dump_exports(h) == -1);
    expect_error("not a live objdl handle");
    printf("ok: dlopen, dlsym, call, dlclose\n");
}

static void test_mem(void)
{
    size_t len;
    void *bytes = read_file(paths[BASIC], &len);
    void *h = objdl_dlopen_mem("basic-mem", bytes, len, OBJDL_RTLD_LOCAL);
    free(bytes); /* copied */
    CHECK(h != NULL);
    int (*add)(int, int) = FN(int (*)(int, int), objdl_dlsym(h, "basic_add"));
    CHECK(add != NULL && add(2, 3) == 5);
    CHECK(objdl_dlsym(h, "nope") == NULL);
    expect_error("basic-mem");
    CHECK(objdl_dlclose(h) == 0);

    static const char junk[] = "this is not an ELF object";
    CHECK(objdl_dlopen_mem("bad-mem", junk, sizeof junk, OBJDL_RTLD_LOCAL) == NULL);
    expect_error("bad-mem");
    CHECK(objdl_dlopen_mem("null-mem", NULL, 16, OBJDL_RTLD_LOCAL) == NULL);
    expect_error("null-mem");
    printf("ok: dlopen_mem\n");
}

static void test_global_and_local(void)
{
    void *g = objdl_dlopen(NULL, OBJDL_RTLD_LOCAL);
    CHECK(g != NULL);
    CHECK(objdl_dlopen(NULL, OBJDL_RTLD_GLOBAL) == g);

    /* The process, through the global handle. */
    size_t (*my_strlen)(const char *) = FN(size_t (*)(const char *), objdl_dlsym(g, "strlen"));
    CHECK(my_strlen != NULL && my_strlen("hello") == 5);
    CHECK(objdl_dlsym(g, "objdl_surely_undefined_symbol") == NULL);
    expect_error("objdl_surely_undefined_symbol");

    /* A Global unit resolves a later unit's references. */
    void *provider = objdl_dlopen(paths[PROVIDER], OBJDL_RTLD_GLOBAL);
    CHECK(provider != NULL);
    void *consumer = objdl_dlopen(paths[CONSUMER], OBJDL_RTLD_LOCAL);
    CHECK(consumer != NULL);
    CHECK(FN(int_int_fn, objdl_dlsym(consumer, "consume"))(1) == 42);
    CHECK(FN(int_int_fn, objdl_dlsym(g, "provided_twice"))(21) == 42);
    CHECK(*(int *)objdl_dlsym(g, "provided_value") == 40);
    /* consumer.o is Local: not in the global scope. */
    CHECK(objdl_dlsym(g, "consume") == NULL);
    expect_error("consume");

    /* Two Global units define which_provider: the first opened wins... */
    void *provider2 = objdl_dlopen(paths[PROVIDER2], OBJDL_RTLD_GLOBAL);
    CHECK(provider2 != NULL);
    CHECK(FN(int_void_fn, objdl_dlsym(g, "which_provider"))() == 1);
    CHECK(FN(int_void_fn, objdl_dlsym(provider2, "which_provider"))() == 2);
    /* ...until it is closed (consumer.o keeps its memory, not its place). */
    CHECK(objdl_dlclose(provider) == 0);
    CHECK(FN(int_void_fn, objdl_dlsym(g, "which_provider"))() == 2);
    CHECK(objdl_dlsym(g, "provided_twice") == NULL);
    expect_error("provided_twice");
    CHECK(FN(int_int_fn, objdl_dlsym(consumer, "consume"))(2) == 44);
    CHECK(objdl_dlclose(consumer) == 0);
    CHECK(objdl_dlclose(provider2) == 0);

    /* A Local unit is invisible to the global handle and to later units. */
    void *local = objdl_dlopen(paths[LOCAL], OBJDL_RTLD_LOCAL);
    CHECK(local != NULL);
    CHECK(FN(int_void_fn, objdl_dlsym(local, "local_secret"))() == 7);
    CHECK(objdl_dlsym(g, "local_secret") == NULL);
    expect_error("local_secret");
    CHECK(objdl_dlopen(paths[NEEDS_LOCAL], OBJDL_RTLD_LOCAL) == NULL);
    expect_error("local_secret");
    /* Opening it again with OBJDL_RTLD_GLOBAL makes it Global. */
    void *local_global = objdl_dlopen(paths[LOCAL], OBJDL_RTLD_GLOBAL);
    CHECK(local_global != NULL);
    CHECK(objdl_dlsym(g, "local_secret") == objdl_dlsym(local, "local_secret"));
    void *needs = objdl_dlopen(paths[NEEDS_LOCAL], OBJDL_RTLD_LOCAL);
    CHECK(needs != NULL);
    CHECK(FN(int_void_fn, objdl_dlsym(needs, "needs_local"))() == 42);
    CHECK(objdl_dlclose(needs) == 0);
    CHECK(objdl_dlclose(local_global) == 0);
    CHECK(objdl_dlclose(local) == 0);

    /* Closing the global handle does nothing; it stays usable. */
    CHECK(objdl_dlclose(g) == 0);
    CHECK(objdl_dlclose(g) == 0);
    CHECK(objdl_dlsym(g, "strlen") != NULL);
    /* It is not a unit. */
    CHECK(objdl_dump_exports(g) == -1);
    expect_error("global handle");
    printf("ok: global and local scopes\n");
}

static void test_errors(void)
{
    CHECK(objdl_dlerror() == NULL);
    CHECK(objdl_dlopen("/nonexistent/dir/missing_plugin.o", OBJDL_RTLD_LOCAL) == NULL);
    const char *e = objdl_dlerror();
    CHECK(e != NULL && strstr(e, "missing_plugin.o") != NULL);
    printf("error: %s\n", e);
    CHECK(objdl_dlerror() == NULL); /* cleared when read */

    /* Not an object: the message names the file. */
    CHECK(objdl_dlopen(paths[0], OBJDL_RTLD_LOCAL) == NULL);
    expect_error(paths[0]);

    CHECK(objdl_dlopen(paths[BASIC], 0x100) == NULL);
    expect_error("invalid mode");
    CHECK(objdl_dlclose(NULL) == -1);
    expect_error("NULL");
    int not_a_handle = 0;
    CHECK(objdl_dlsym(&not_a_handle, "x") == NULL);
    expect_error("not a live objdl handle");
    CHECK(objdl_dump_relocations(&not_a_handle) == -1);
    expect_error("not a live objdl handle");
    CHECK(objdl_define(NULL, (void *)&not_a_handle) == -1);
    expect_error("NULL");
    CHECK(objdl_define("x", NULL) == -1);
    expect_error("NULL address");
    printf("ok: errors\n");
}

/* Per-thread dlerror: thread A fails; thread B, running meanwhile, sees no error. */
static pthread_barrier_t barrier;

static void *thread_a(void *arg)
{
    (void)arg;
    if (objdl_dlopen("/nonexistent/thread_a.o", OBJDL_RTLD_LOCAL) != NULL)
        return (void *)"dlopen succeeded";
    pthread_barrier_wait(&barrier); /* 1: A has its error */
    pthread_barrier_wait(&barrier); /* 2: B has looked */
    const char *e = objdl_dlerror();
    if (e == NULL || strstr(e, "thread_a.o") == NULL)
        return (void *)"thread A lost its error";
    if (objdl_dlerror() != NULL)
        return (void *)"thread A's error not cleared";
    return NULL;
}

static void *thread_b(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&barrier); /* 1 */
    const char *e = objdl_dlerror();
    pthread_barrier_wait(&barrier); /* 2 */
    return e == NULL ? NULL : (void *)"thread B saw thread A's error";
}

static void test_threads(void)
{
    pthread_t a, b;
    void *ra, *rb;
    CHECK(pthread_barrier_init(&barrier, NULL, 2) == 0);
    CHECK(pthread_create(&a, NULL, thread_a, NULL) == 0);
    CHECK(pthread_create(&b, NULL, thread_b, NULL) == 0);
    CHECK(pthread_join(a, &ra) == 0);
    CHECK(pthread_join(b, &rb) == 0);
    pthread_barrier_destroy(&barrier);
    if (ra || rb) {
        fprintf(stderr, "FAIL: %s\n", ra ? (const char *)ra : (const char *)rb);
        exit(1);
    }
    CHECK(objdl_dlerror() == NULL); /* nor did the main thread */
    printf("ok: per-thread dlerror\n");
}

/* Several threads opening, calling and closing at once. */
static void *churn(void *arg)
{
    const char *path = arg;
    for (int i = 0; i < 20; i++) {
        void *h = objdl_dlopen(path, OBJDL_RTLD_LOCAL);
        if (h == NULL)
            return (void *)"dlopen failed";
        int (*add)(int, int) = FN(int (*)(int, int), objdl_dlsym(h, "basic_add"));
        if (add == NULL || add(i, 1) != i + 1)
            return (void *)"basic_add failed";
        if (objdl_dlclose(h) != 0)
            return (void *)"dlclose failed";
    }
    return NULL;
}

static void test_concurrency(void)
{
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        CHECK(pthread_create(&t[i], NULL, churn, (void *)paths[BASIC]) == 0);
    for (int i = 0; i < 4; i++) {
        void *r;
        CHECK(pthread_join(t[i], &r) == 0);
        if (r) {
            fprintf(stderr, "FAIL: churn: %s\n", (const char *)r);
            exit(1);
        }
    }
    printf("ok: concurrent open and close\n");
}

static void test_define(void)
{
    /* Undefined host symbols: the open fails and names them. */
    CHECK(objdl_dlopen(paths[USES_DEFINE], OBJDL_RTLD_LOCAL) == NULL);
    expect_error("host_square");

    CHECK(objdl_define("host_square", (void *)(size_t)host_square) == 0);
    CHECK(objdl_define("host_data", &host_data) == 0);
    void *h = objdl_dlopen(paths[USES_DEFINE], OBJDL_RTLD_LOCAL);
    CHECK(h != NULL);
    CHECK(FN(int_int_fn, objdl_dlsym(h, "call_host"))(5) == 1025);
    host_data = 2000;
    CHECK(FN(int_int_fn, objdl_dlsym(h, "call_host"))(3) == 2009);
    int (*shout)(const char *) = FN(int (*)(const char *), objdl_dlsym(h, "shout"));
    CHECK(shout != NULL && shout("shout: from the plugin") >= 0);
    /* The global handle finds defined symbols too. */
    void *g = objdl_dlopen(NULL, OBJDL_RTLD_LOCAL);
    CHECK(objdl_dlsym(g, "host_square") == (void *)(size_t)host_square);
    CHECK(objdl_dlsym(g, "host_data") == &host_data);

    printf("dump-relocations: begin\n");
    CHECK(objdl_dump_relocations(h) == 0);
    printf("dump-relocations: end\n");
    CHECK(objdl_dlclose(h) == 0);
    printf("ok: objdl_define\n");
}

static void test_noexec(void)
{
    printf("noexec: begin\n");
    void *h = objdl_dlopen(paths[CTOR], OBJDL_RTLD_LOCAL | OBJDL_RTLD_NOEXEC);
    CHECK(h != NULL);
    int *ran = objdl_dlsym(h, "ctor_ran");
    CHECK(ran != NULL && *ran == 0);
    CHECK(objdl_dlclose(h) == 0);
    /* NOEXEC combines with GLOBAL too. */
    h = objdl_dlopen(paths[CTOR], OBJDL_RTLD_GLOBAL | OBJDL_RTLD_NOEXEC);
    CHECK(h != NULL);
    CHECK(*(int *)objdl_dlsym(objdl_dlopen(NULL, 0), "ctor_ran") == 0);
    CHECK(objdl_dlclose(h) == 0);
    printf("noexec: end\n");

    printf("exec: begin\n");
    h = objdl_dlopen(paths[CTOR], OBJDL_RTLD_LOCAL);
    CHECK(h != NULL);
    ran = objdl_dlsym(h, "ctor_ran");
    CHECK(ran != NULL && *ran == 1);
    CHECK(FN(int_void_fn, objdl_dlsym(h, "ctor_value"))() == 5);
    CHECK(objdl_dlclose(h) == 0);
    printf("exec: end\n");
    printf("ok: noexec\n");
}

/* The distance between two addresses. */
static unsigned long long distance(const void *a, const void *b)
{
    size_t x = (size_t)a, y = (size_t)b;
    return x > y ? x - y : y - x;
}

/* Several objects as one unit, with a placement and NOEXEC. */
static void test_unit(void)
{
    const char *pair[] = {paths[CONSUMER], paths[PROVIDER]};
    void *h = objdl_dlopen_unit(pair, 2, OBJDL_RTLD_LOCAL, OBJDL_PLACE_AUTO);
    CHECK(h != NULL);
    /* consumer.o's references to provider.o are resolved inside the unit. */
    int_int_fn consume = FN(int_int_fn, objdl_dlsym(h, "consume"));
    CHECK(consume != NULL && consume(1) == 42);
    CHECK(objdl_dlsym(h, "provided_value") != NULL);
    /* A Local unit: the global scope does not see it. */
    CHECK(objdl_dlsym(objdl_dlopen(NULL, 0), "provided_twice") == NULL);
    expect_error("provided_twice");
    CHECK(objdl_dlclose(h) == 0);

    /* Far: more than 4 GiB from the host's code. */
    h = objdl_dlopen_unit(pair, 2, OBJDL_RTLD_LOCAL, OBJDL_PLACE_FAR);
    CHECK(h != NULL);
    consume = FN(int_int_fn, objdl_dlsym(h, "consume"));
    CHECK(consume(2) == 44);
    CHECK(distance((const void *)(size_t)consume, (const void *)(size_t)host_square) > (4ULL << 30));
    CHECK(objdl_dlclose(h) == 0);

    /* Low: in the low 2 GiB. */
    h = objdl_dlopen_unit(pair, 2, OBJDL_RTLD_LOCAL, OBJDL_PLACE_LOW);
    CHECK(h != NULL);
    CHECK((size_t)objdl_dlsym(h, "consume") < (2ULL << 30));
    CHECK(objdl_dlclose(h) == 0);

    /* At an address: the unit's first section is there. */
    const uint64_t at = 0x300000000000ULL;
    h = objdl_dlopen_unit(pair, 2, OBJDL_RTLD_LOCAL, at);
    CHECK(h != NULL);
    size_t c = (size_t)objdl_dlsym(h, "consume");
    CHECK(c >= at && c < at + (1ULL << 20));
    CHECK(FN(int_int_fn, objdl_dlsym(h, "consume"))(3) == 46);
    CHECK(objdl_dlclose(h) == 0);

    /* NOEXEC: the constructor of an object of the unit does not run. */
    const char *with_ctor[] = {paths[CTOR], paths[BASIC]};
    printf("unit-noexec: begin\n");
    h = objdl_dlopen_unit(with_ctor, 2, OBJDL_RTLD_GLOBAL | OBJDL_RTLD_NOEXEC, OBJDL_PLACE_AUTO);
    CHECK(h != NULL);
    CHECK(*(int *)objdl_dlsym(h, "ctor_ran") == 0);
    CHECK(objdl_dlsym(objdl_dlopen(NULL, 0), "basic_add") == objdl_dlsym(h, "basic_add"));
    CHECK(objdl_dlclose(h) == 0);
    printf("unit-noexec: end\n");

    /* Errors. */
    CHECK(objdl_dlopen_unit(pair, 0, OBJDL_RTLD_LOCAL, OBJDL_PLACE_AUTO) == NULL);
    expect_error("count is 0");
    CHECK(objdl_dlopen_unit(NULL, 2, OBJDL_RTLD_LOCAL, OBJDL_PLACE_AUTO) == NULL);
    expect_error("NULL");
    const char *holed[] = {paths[CONSUMER], NULL};
    CHECK(objdl_dlopen_unit(holed, 2, OBJDL_RTLD_LOCAL, OBJDL_PLACE_AUTO) == NULL);
    expect_error("paths[1] is NULL");
    CHECK(objdl_dlopen_unit(pair, 2, OBJDL_RTLD_LOCAL, 0x1234) == NULL);
    expect_error("invalid placement 0x1234");
    /* consumer.o alone cannot resolve provider.o's symbols. */
    CHECK(objdl_dlopen_unit(pair, 1, OBJDL_RTLD_LOCAL, OBJDL_PLACE_AUTO) == NULL);
    expect_error("provided_twice");
    printf("ok: objdl_dlopen_unit\n");
}

/* The header's version macros and the library's version agree. */
static void test_version(void)
{
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", OBJDL_VERSION_MAJOR, OBJDL_VERSION_MINOR,
             OBJDL_VERSION_PATCH);
    CHECK(strcmp(want, OBJDL_VERSION) == 0);
    CHECK(strcmp(objdl_version(), OBJDL_VERSION) == 0);
    CHECK(OBJDL_VERSION_NUMBER ==
          OBJDL_VERSION_MAJOR * 1000000 + OBJDL_VERSION_MINOR * 1000 + OBJDL_VERSION_PATCH);
    printf("version: %s\n", objdl_version());
    printf("ok: version\n");
}

int main(int argc, char **argv)
{
    if (argc != NPATHS) {
        fprintf(stderr, "usage: %s basic.o provider.o provider2.o consumer.o local.o needs_local.o "
                        "uses_define.o ctor.o\n",
                argv[0]);
        return 2;
    }
    paths = (const char *const *)argv;
    test_errors();
    test_basic();
    test_mem();
    test_global_and_local();
    test_threads();
    test_concurrency();
    test_define();
    test_noexec();
    test_unit();
    test_version();
    printf("all ok\n");
    return 0;
}
