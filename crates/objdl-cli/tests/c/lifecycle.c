/* Constructors with and without priorities, destructors, and several atexit
 * handlers (some registered from constructors), all printing their order. */
#include <stdio.h>
#include <stdlib.h>

static int step;

static void say(const char *what) { printf("%d %s\n", ++step, what); }

static void at1(void) { say("atexit 1 (registered first in main)"); }
static void at2(void) { say("atexit 2"); }
static void at3(void) { say("atexit 3 (registered last in main)"); }
static void at_ctor(void) { say("atexit registered by constructor 102"); }

__attribute__((constructor(102))) static void ctor102(void)
{
    say("constructor 102");
    atexit(at_ctor);
}
__attribute__((constructor(101))) static void ctor101(void) { say("constructor 101"); }
__attribute__((constructor)) static void ctor_plain(void) { say("constructor (no priority)"); }
__attribute__((constructor(200))) static void ctor200(void) { say("constructor 200"); }

__attribute__((destructor(101))) static void dtor101(void) { say("destructor 101"); }
__attribute__((destructor(102))) static void dtor102(void) { say("destructor 102"); }
__attribute__((destructor)) static void dtor_plain(void) { say("destructor (no priority)"); }

int main(void)
{
    say("main start");
    atexit(at1);
    atexit(at2);
    atexit(at3);
    fprintf(stderr, "main on stderr\n");
    say("main end");
    return 0;
}
