// The second translation unit of lifecycle.cpp: its globals are constructed
// after lifecycle.cpp's (input order), and destroyed before them.
#include <iostream>

#include "lifecycle.h"

static Tracer b1("global b1");
__attribute__((init_priority(101))) static Tracer earliest("global b (priority 101)");

static int computed = [] {
    std::cout << step() << " dynamic initialiser of an int in b\n";
    return 42;
}();

int b_value() { return computed; }

Tracer &b_local() {
    static Tracer t("b's function-local static");
    return t;
}
