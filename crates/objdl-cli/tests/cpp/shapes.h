// Classes shared by shapes_lib.cpp and shapes_main.cpp. Every virtual
// function of Shape, Circle, Rect and Square is inline, so each object that
// uses them emits its own copy of their vtables, typeinfo and typeinfo
// names in COMDAT groups; linking must keep one copy. Labelled has a key
// function (Labelled::label, defined in shapes_lib.cpp), so its vtable and
// typeinfo exist only there.
#pragma once
#include <string>
#include <typeinfo>

struct Shape {
    virtual ~Shape() {}
    virtual double area() const = 0;
    virtual std::string name() const { return "shape"; }
};

struct Circle : Shape {
    explicit Circle(double r) : r(r) {}
    double area() const override { return 3.0 * r * r; }
    std::string name() const override { return "circle"; }
    double r;
};

struct Rect : Shape {
    Rect(double w, double h) : w(w), h(h) {}
    double area() const override { return w * h; }
    std::string name() const override { return "rect"; }
    double w, h;
};

struct Square : Rect {
    explicit Square(double s) : Rect(s, s) {}
    std::string name() const override { return "square"; }
};

// A second base, for cross-casts: Shape* -> Labelled* needs RTTI.
struct Labelled {
    virtual ~Labelled();
    virtual std::string label() const;
};

struct LabelledSquare : Square, Labelled {
    explicit LabelledSquare(double s) : Square(s) {}
    std::string label() const override { return "labelled " + name(); }
};

// A function-local static in an inline function, a C++17 inline variable
// and a template: one object each in the whole program.
inline int next_ticket() {
    static int tickets = 100;
    return ++tickets;
}

inline int shared_inline_variable = 7;

template <class T> T twice(T x) { return x + x; }

// What shapes_lib.cpp exports.
Shape *lib_make(int kind);
const std::type_info &lib_typeid(int kind);
const void *lib_vptr(int kind);
int lib_next_ticket();
int *lib_inline_variable();
int (*lib_next_ticket_address())();
double (*lib_twice_address())(double);
std::string lib_describe(const Shape *s);
void lib_throw(int kind);
