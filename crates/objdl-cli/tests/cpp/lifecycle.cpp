// Static constructors and destructors: global objects in two translation
// units (and in input order across them), init_priority, function-local
// statics constructed on first use, atexit handlers registered from main
// and from a constructor, and a status from main. Each step is numbered, so
// any difference in order shows.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "lifecycle.h"

int step() {
    static int n = 0; // constant-initialised: no guard
    return ++n;
}

// Tracers print with printf: the priority ones run before any translation
// unit's std::ios_base::Init has constructed std::cout (and are destroyed
// after the last one has flushed it). The rest print with std::cout, which
// syncs with stdio, so the two interleave in program order.
Tracer::Tracer(std::string name) : name_(std::move(name)) {
    std::printf("%d construct %s\n", step(), name_.c_str());
}

Tracer::~Tracer() { std::printf("%d destroy %s\n", step(), name_.c_str()); }

static Tracer first("global a1");
__attribute__((init_priority(200))) static Tracer early("global a (priority 200)");
static Tracer second("global a2");

static void at_main() { std::cout << step() << " atexit from main\n"; }

static Tracer &lazy() {
    static Tracer t("function-local static");
    return t;
}

struct Registers {
    Registers() {
        std::cout << step() << " constructor registers atexit\n";
        std::atexit([] { std::cout << step() << " atexit from a constructor\n"; });
    }
} registers;

int main() {
    std::cout << step() << " main starts, b says " << b_value() << '\n';
    std::atexit(at_main);
    std::cout << step() << " before the first use of lazy\n";
    const Tracer &l1 = lazy();
    std::cout << step() << " first use of lazy: " << l1.name() << '\n';
    const Tracer &l2 = lazy();
    std::cout << step() << " second use of lazy: " << l2.name() << " (same: " << (&l1 == &l2)
              << ")\n";
    const Tracer &b = b_local();
    std::cout << step() << " b's local static: " << b.name() << '\n';
    std::cerr << "main on stderr\n";
    std::cout << step() << " main returns 5\n";
    return 5;
}
