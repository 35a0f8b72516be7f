/* A second object with its own constructors and destructors. */
#include <stdio.h>
#include <stdlib.h>

static void at_b(void) { printf("lifecycle_b atexit\n"); }

__attribute__((constructor)) static void b_ctor(void)
{
    printf("lifecycle_b constructor\n");
    atexit(at_b);
}
__attribute__((constructor(150))) static void b_ctor150(void) { printf("lifecycle_b constructor 150\n"); }
__attribute__((destructor)) static void b_dtor(void) { printf("lifecycle_b destructor\n"); }
__attribute__((destructor(150))) static void b_dtor150(void) { printf("lifecycle_b destructor 150\n"); }
