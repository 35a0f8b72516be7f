// The unit host.cpp opens: functions that throw into the host, and
// functions that call the host and catch what it throws.
#include <cstdio>
#include <stdexcept>
#include <string>
#include <typeinfo>

#include "host_api.h"

namespace {
struct Guard {
    const char *frame;
    ~Guard() { std::printf("  unit: unwound %s\n", frame); }
};

struct Global {
    Global() { std::printf("unit: global constructed\n"); }
    ~Global() { std::printf("unit: global destroyed\n"); }
} global;
} // namespace

__attribute__((noinline)) static int deeper(int depth) {
    Guard g{"deeper"};
    if (depth == 0)
        throw std::runtime_error("thrown in the unit");
    return deeper(depth - 1) + 1;
}

extern "C" int unit_throw(int depth) {
    Guard g{"unit_throw"};
    return deeper(depth);
}

extern "C" int unit_throw_shared(int code) {
    Guard g{"unit_throw_shared"};
    throw SharedError{code};
}

extern "C" int unit_catch_callback(void (*callback)(int), int arg) {
    try {
        Guard g{"unit_catch_callback"};
        callback(arg);
        std::printf("unit: callback returned\n");
        return 0;
    } catch (const std::exception &e) {
        std::printf("unit: caught from the callback: %s (%s)\n", e.what(), typeid(e).name());
        return 1;
    } catch (const SharedError &e) {
        std::printf("unit: caught SharedError %d from the callback\n", e.code);
        return 2;
    }
}

extern "C" int unit_catch_host(int what) {
    try {
        Guard g{"unit_catch_host"};
        host_throw(what);
        std::printf("unit: host_throw returned\n");
        return 0;
    } catch (const std::out_of_range &e) {
        std::printf("unit: caught out_of_range from the host: %s\n", e.what());
        return 3;
    } catch (const SharedError &e) {
        std::printf("unit: caught SharedError %d from the host, typeid %s\n", e.code,
                    typeid(e).name());
        return 4;
    } catch (int n) {
        std::printf("unit: caught int %d from the host\n", n);
        return 5;
    }
}

// unit -> host -> unit, and the innermost unit frame throws: the exception
// crosses a host frame between two unit frames on its way to host.cpp.
extern "C" int unit_sandwich(void (*host_frame)(int (*)(int)), int depth) {
    Guard g{"unit_sandwich"};
    host_frame(depth ? unit_throw : nullptr);
    return 0;
}
