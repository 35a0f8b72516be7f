/*
 * A C host of objdl's installed C library, built by tests/install.rs with
 *
 *     cc host.c $(pkg-config --cflags --libs objdl)
 *
 * against the files scripts/install.sh put under a prefix.
 *
 * Usage: host caller.o callee.o
 * Opens the two objects as one unit far from everything, calls into it,
 * then again with OBJDL_RTLD_NOEXEC, and prints what it saw.
 */
#include <objdl.h>
#include <stdio.h>
#include <string.h>

#if !defined(OBJDL_VERSION_NUMBER) || OBJDL_VERSION_NUMBER < 1000
#error "objdl.h has no version macros"
#endif

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s caller.o callee.o\n", argv[0]);
        return 2;
    }
    printf("header %s, library %s\n", OBJDL_VERSION, objdl_version());
    if (strcmp(OBJDL_VERSION, objdl_version()) != 0)
        return 1;

    const char *objs[] = {argv[1], argv[2]};
    void *h = objdl_dlopen_unit(objs, 2, OBJDL_RTLD_LOCAL, OBJDL_PLACE_FAR);
    if (!h) {
        fprintf(stderr, "open: %s\n", objdl_dlerror());
        return 1;
    }
    int (*call)(int) = (int (*)(int))(size_t)objdl_dlsym(h, "caller");
    if (!call) {
        fprintf(stderr, "dlsym: %s\n", objdl_dlerror());
        return 1;
    }
    size_t at = (size_t)call, host = (size_t)&main;
    size_t distance = at > host ? at - host : host - at;
    printf("caller(20) = %d, %s from the host\n", call(20),
           distance > (4ULL << 30) ? "more than 4 GiB" : "within 4 GiB");
    objdl_dlclose(h);

    h = objdl_dlopen_unit(objs, 2, OBJDL_RTLD_LOCAL | OBJDL_RTLD_NOEXEC, OBJDL_PLACE_AUTO);
    if (!h) {
        fprintf(stderr, "open noexec: %s\n", objdl_dlerror());
        return 1;
    }
    printf("noexec: constructor ran %d times\n", *(int *)objdl_dlsym(h, "constructed"));
    objdl_dlclose(h);
    return 0;
}
