/* A constructor and a destructor that print: opened with OBJDL_RTLD_NOEXEC
   neither may run. */
#include <stdio.h>

int ctor_ran = 0;

__attribute__((constructor)) static void on_load(void)
{
    ctor_ran = 1;
    printf("ctor: ran\n");
}

__attribute__((destructor)) static void on_unload(void) { printf("dtor: ran\n"); }

int ctor_value(void) { return 5; }
