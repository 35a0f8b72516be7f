// COMDAT, RTTI and dynamic_cast between two objects: shapes_lib.cpp is
// linked with this file into one program (or one objdl unit), or loaded as
// a separate Global unit first. Either way every comparison must hold: one
// vtable, one typeinfo, one inline function and one inline variable.
#include "shapes.h"

#include <iostream>
#include <memory>

static const void *vptr(const Shape &s) { return *reinterpret_cast<const void *const *>(&s); }

int main() {
    std::cout << std::boolalpha;
    const char *names[] = {"Circle", "Rect", "Square", "LabelledSquare"};
    for (int kind = 0; kind < 4; kind++) {
        std::unique_ptr<Shape> here;
        switch (kind) {
        case 0:
            here.reset(new Circle(1));
            break;
        case 1:
            here.reset(new Rect(1, 1));
            break;
        case 2:
            here.reset(new Square(1));
            break;
        default:
            here.reset(new LabelledSquare(1));
        }
        std::unique_ptr<Shape> there(lib_make(kind));
        std::cout << names[kind] << ": same vtable " << (vptr(*here) == lib_vptr(kind))
                  << ", same typeinfo object " << (&typeid(*here) == &lib_typeid(kind))
                  << ", typeid== " << (typeid(*there) == typeid(*here))
                  << ", same name pointer " << (typeid(*here).name() == lib_typeid(kind).name())
                  << ", name " << typeid(*here).name() << '\n';
        std::cout << "  lib describes here: " << lib_describe(here.get()) << '\n';
        std::cout << "  lib describes there: " << lib_describe(there.get()) << '\n';
        std::cout << "  main casts there: rect " << (dynamic_cast<Rect *>(there.get()) != nullptr)
                  << ", square " << (dynamic_cast<Square *>(there.get()) != nullptr)
                  << ", circle " << (dynamic_cast<Circle *>(there.get()) != nullptr);
        if (auto *l = dynamic_cast<Labelled *>(there.get()))
            std::cout << ", cross-cast " << l->label() << ", back "
                      << (dynamic_cast<Shape *>(l) == there.get());
        std::cout << '\n';
        try {
            lib_throw(kind);
        } catch (const Square &s) {
            std::cout << "  caught a Square-or-derived thrown by lib: " << s.name() << " "
                      << typeid(s).name() << '\n';
        } catch (const Shape &s) {
            std::cout << "  caught a Shape thrown by lib: " << s.name() << " area " << s.area()
                      << '\n';
        }
    }
    std::cout << "typeid(Labelled) from lib is ours: " << (&typeid(Labelled) == &lib_typeid(4))
              << '\n';
    try {
        Circle c(2);
        Shape &s = c;
        (void)dynamic_cast<Rect &>(s);
        std::cout << "no bad_cast?\n";
    } catch (const std::bad_cast &e) {
        std::cout << "bad_cast caught: " << e.what() << '\n';
    }
    int a = next_ticket(), b = lib_next_ticket(), c = next_ticket();
    std::cout << "tickets " << a << ' ' << b << ' ' << c << '\n';
    shared_inline_variable += 10;
    std::cout << "inline variable: same object " << (&shared_inline_variable == lib_inline_variable())
              << ", lib sees " << *lib_inline_variable() << '\n';
    std::cout << "inline function address same " << (&next_ticket == lib_next_ticket_address())
              << ", template instance address same " << (&twice<double> == lib_twice_address())
              << ", twice(21.5)=" << lib_twice_address()(21.5) << '\n';
    return 0;
}
