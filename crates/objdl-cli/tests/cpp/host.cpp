// A C++ host for host_unit.cpp. Built with -DUSE_OBJDL it opens the unit
// (argv[1]) with objdl_dlopen and gives it host_throw with objdl_define;
// without, it is linked with host_unit.cpp by g++ and calls it directly.
// Exceptions go both ways: thrown in the unit and caught here, through
// host frames too, and thrown here and caught in the unit.
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <typeinfo>

#include "host_api.h"

#ifdef USE_OBJDL
#include "objdl.h"
#endif

namespace {
struct Guard {
    const char *frame;
    ~Guard() { std::printf("  host: unwound %s\n", frame); }
};

struct Unit {
    int (*throw_)(int);
    int (*throw_shared)(int);
    int (*catch_callback)(void (*)(int), int);
    int (*catch_host)(int);
    int (*sandwich)(void (*)(int (*)(int)), int);
} unit;

__attribute__((noinline)) int host_frame_between(int depth) {
    Guard g{"host_frame_between"};
    return unit.throw_(depth) + 1;
}

void callback(int what) {
    Guard g{"callback"};
    if (what == 1)
        throw std::runtime_error("thrown by the host's callback");
    throw SharedError{what};
}

void host_frame_in_sandwich(int (*inner)(int)) {
    Guard g{"host_frame_in_sandwich"};
    if (inner)
        inner(1);
}
} // namespace

extern "C" void host_throw(int what) {
    Guard g{"host_throw"};
    switch (what) {
    case 0:
        throw std::out_of_range("host index out of range");
    case 1:
        throw SharedError{41};
    default:
        throw what;
    }
}

#ifdef USE_OBJDL
template <class F> static void find(void *handle, const char *name, F &f) {
    f = reinterpret_cast<F>(objdl_dlsym(handle, name));
    if (!f) {
        std::fprintf(stderr, "host: %s\n", objdl_dlerror());
        std::exit(2);
    }
}
#endif

int main(int argc, char **argv) {
#ifdef USE_OBJDL
    if (argc != 2) {
        std::fprintf(stderr, "usage: host UNIT.o\n");
        return 2;
    }
    if (objdl_define("host_throw", reinterpret_cast<void *>(&host_throw)) != 0) {
        std::fprintf(stderr, "host: %s\n", objdl_dlerror());
        return 2;
    }
    void *handle = objdl_dlopen(argv[1], OBJDL_RTLD_LOCAL);
    if (!handle) {
        std::fprintf(stderr, "host: %s\n", objdl_dlerror());
        return 2;
    }
    find(handle, "unit_throw", unit.throw_);
    find(handle, "unit_throw_shared", unit.throw_shared);
    find(handle, "unit_catch_callback", unit.catch_callback);
    find(handle, "unit_catch_host", unit.catch_host);
    find(handle, "unit_sandwich", unit.sandwich);
#else
    (void)argc;
    (void)argv;
    unit = {unit_throw, unit_throw_shared, unit_catch_callback, unit_catch_host, unit_sandwich};
#endif
    std::printf("host: the unit is open\n");

    // Unit to host.
    try {
        unit.throw_(2);
        std::printf("host: not reached\n");
    } catch (const std::runtime_error &e) {
        std::printf("host: caught from the unit: %s\n", e.what());
    }
    try {
        host_frame_between(1);
    } catch (const std::exception &e) {
        std::printf("host: caught through a host frame: %s\n", e.what());
    }
    try {
        unit.throw_shared(7);
    } catch (const SharedError &e) {
        std::printf("host: caught SharedError %d from the unit\n", e.code);
    }
    try {
        unit.sandwich(host_frame_in_sandwich, 1);
    } catch (const std::runtime_error &e) {
        std::printf("host: caught through unit, host and unit frames: %s\n", e.what());
    }
    std::printf("host: sandwich without a throw returns %d\n",
                unit.sandwich(host_frame_in_sandwich, 0));

    // Host to unit.
    std::printf("host: callback 1 -> %d\n", unit.catch_callback(callback, 1));
    std::printf("host: callback 9 -> %d\n", unit.catch_callback(callback, 9));
    for (int what = 0; what < 3; what++)
        std::printf("host: unit_catch_host(%d) -> %d\n", what, unit.catch_host(what));

    // The unit's destructor prints next: at objdl_dlclose, or at exit
    // when linked.
    std::printf("host: done\n");
#ifdef USE_OBJDL
    if (objdl_dlclose(handle) != 0) {
        std::fprintf(stderr, "host: %s\n", objdl_dlerror());
        return 2;
    }
#endif
    return 0;
}
