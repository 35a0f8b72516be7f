// The "library" half of the shapes program: in one unit with
// shapes_main.cpp, or a separate Global unit (`objdl run --unit`).
#include "shapes.h"

#include <sstream>

Labelled::~Labelled() {}
std::string Labelled::label() const { return "unlabelled"; }

Shape *lib_make(int kind) {
    switch (kind) {
    case 0:
        return new Circle(1.5);
    case 1:
        return new Rect(2, 3);
    case 2:
        return new Square(4);
    default:
        return new LabelledSquare(5);
    }
}

const std::type_info &lib_typeid(int kind) {
    switch (kind) {
    case 0:
        return typeid(Circle);
    case 1:
        return typeid(Rect);
    case 2:
        return typeid(Square);
    case 3:
        return typeid(LabelledSquare);
    default:
        return typeid(Labelled);
    }
}

// The vtable pointer of a fresh object of each kind.
const void *lib_vptr(int kind) {
    Shape *s = lib_make(kind);
    const void *v = *reinterpret_cast<const void *const *>(s);
    delete s;
    return v;
}

int lib_next_ticket() { return next_ticket(); }
int *lib_inline_variable() { return &shared_inline_variable; }
int (*lib_next_ticket_address())() { return &next_ticket; }
double (*lib_twice_address())(double) { return &twice<double>; }

// dynamic_cast on objects made by either half.
std::string lib_describe(const Shape *s) {
    std::ostringstream out;
    out << s->name() << " area " << s->area();
    if (auto *r = dynamic_cast<const Rect *>(s))
        out << " is-a rect " << r->w << 'x' << r->h;
    if (dynamic_cast<const Square *>(s))
        out << " is-a square";
    if (auto *l = dynamic_cast<const Labelled *>(s))
        out << " cross-cast: " << l->label();
    if (typeid(*s) == typeid(Circle))
        out << " typeid==Circle";
    return out.str();
}

// Throws a shape by value: the catch is in the other half.
void lib_throw(int kind) {
    switch (kind) {
    case 0:
        throw Circle(0.5);
    case 1:
        throw Rect(1, 2);
    case 2:
        throw Square(3);
    default:
        throw LabelledSquare(6);
    }
}
