/* The bundled example: `objdl run examples/hello.c -- world`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int counter;

__attribute__((constructor)) static void setup(void) { counter = 41; }
__attribute__((destructor)) static void teardown(void) { printf("destructor: goodbye\n"); }
static void bye(void) { printf("atexit: counter = %d\n", counter); }

int main(int argc, char **argv) {
    atexit(bye);
    counter++;
    printf("hello, %s, from code loaded by objdl (argv[0] = %s)\n", argc > 1 ? argv[1] : "world", argv[0]);
    fprintf(stderr, "stderr works too\n");
    return strlen(argv[0]) > 0 ? 0 : 1;
}
