// Exceptions thrown and caught inside loaded code: through several frames
// with destructors to run, std::runtime_error and what(), a class
// hierarchy caught by base, rethrow, std::exception_ptr, nested exceptions,
// exceptions thrown by libstdc++ (vector::at, std::stoi, bad_alloc,
// bad_cast), a constructor that throws inside new, function-try-blocks,
// noexcept with catch(...), and at last an exception nobody catches:
// std::terminate's message and abort, as in a linked program.
#include <cstddef>
#include <cstdio>
#include <exception>
#include <iostream>
#include <new>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <vector>

struct Guard {
    explicit Guard(int depth) : depth(depth) {}
    ~Guard() { std::cout << "  unwound frame " << depth << '\n'; }
    int depth;
};

struct AppError : std::runtime_error {
    AppError(const std::string &what, int code) : std::runtime_error(what), code(code) {}
    int code;
};

struct DeepError : AppError {
    DeepError(int depth) : AppError("deep error at depth " + std::to_string(depth), depth) {}
};

__attribute__((noinline)) static int descend(int depth, int limit) {
    Guard g(depth);
    if (depth == limit)
        throw DeepError(depth);
    return descend(depth + 1, limit) + 1;
}

__attribute__((noinline)) static void fail_plain(const char *why) { throw std::runtime_error(why); }

struct ThrowsInConstructor {
    explicit ThrowsInConstructor(int n) : member(n) {
        if (n > 2)
            throw std::invalid_argument("n > 2 in constructor");
    }
    Guard member;
    static void *operator new(std::size_t n) {
        std::cout << "  operator new\n";
        return ::operator new(n);
    }
    static void operator delete(void *p) {
        std::cout << "  operator delete\n";
        ::operator delete(p);
    }
};

struct FunctionTry {
    FunctionTry() try : v(std::stoi("not a number")) {
    } catch (const std::invalid_argument &e) {
        std::cout << "  function-try-block saw " << typeid(e).name() << '\n';
    }
    int v;
};

static void safe() noexcept {
    try {
        fail_plain("inside noexcept");
    } catch (...) {
        std::cout << "caught (...) inside a noexcept function\n";
    }
}

int main() {
    try {
        descend(0, 4);
    } catch (const AppError &e) {
        std::cout << "caught AppError: " << e.what() << " code " << e.code << " dynamic type "
                  << typeid(e).name() << '\n';
    }

    try {
        fail_plain("plain runtime_error");
    } catch (const std::exception &e) {
        std::cout << "caught std::exception: " << e.what() << '\n';
    }

    try {
        try {
            descend(0, 1);
        } catch (const DeepError &) {
            std::cout << "rethrowing\n";
            throw;
        }
    } catch (const std::runtime_error &e) {
        std::cout << "caught the rethrown one: " << e.what() << '\n';
    }

    std::exception_ptr saved;
    try {
        fail_plain("saved for later");
    } catch (...) {
        saved = std::current_exception();
    }
    try {
        std::rethrow_exception(saved);
    } catch (const std::exception &e) {
        std::cout << "rethrow_exception: " << e.what() << '\n';
    }

    try {
        try {
            fail_plain("inner");
        } catch (...) {
            std::throw_with_nested(std::logic_error("outer"));
        }
    } catch (const std::logic_error &e) {
        std::cout << "nested: " << e.what();
        try {
            std::rethrow_if_nested(e);
        } catch (const std::exception &inner) {
            std::cout << " <- " << inner.what();
        }
        std::cout << '\n';
    }

    std::vector<int> v{1, 2, 3};
    try {
        std::cout << v.at(7) << '\n';
    } catch (const std::out_of_range &e) {
        std::cout << "out_of_range from libstdc++: " << (e.what()[0] != '\0') << '\n';
    }
    try {
        std::cout << std::stoi("99999999999999999999") << '\n';
    } catch (const std::out_of_range &e) {
        std::cout << "stoi: " << e.what() << '\n';
    }
    try {
        // More than PTRDIFF_MAX bytes: malloc refuses, whatever overcommit says.
        volatile std::size_t huge = static_cast<std::size_t>(-1) / 2 + 2;
        char *p = new char[huge];
        std::cout << "not reached: allocated at " << static_cast<void *>(p) << '\n';
    } catch (const std::bad_alloc &e) {
        std::cout << "bad_alloc: " << e.what() << '\n';
    }

    try {
        ThrowsInConstructor ok(1);
        std::cout << "  constructed one\n";
        auto *p = new ThrowsInConstructor(3);
        std::cout << "not reached " << p << '\n';
    } catch (const std::invalid_argument &e) {
        std::cout << "constructor threw: " << e.what() << '\n';
    }

    FunctionTry *ft = nullptr;
    try {
        ft = new FunctionTry;
    } catch (const std::invalid_argument &e) {
        std::cout << "function-try-block rethrew: " << e.what() << '\n';
    }
    std::cout << "ft is null " << (ft == nullptr) << '\n';

    safe();

    int caught = 0;
    for (int i = 0; i < 1000; i++) {
        try {
            if (i % 2)
                throw i;
            fail_plain("even");
        } catch (int n) {
            caught += n;
        } catch (const std::runtime_error &) {
            caught -= 1;
        }
    }
    std::cout << "1000 throws, sum " << caught << '\n';
    std::cout << "uncaught_exceptions " << std::uncaught_exceptions() << '\n';
    std::fflush(stdout);
    throw AppError("nobody catches this", 3);
}
