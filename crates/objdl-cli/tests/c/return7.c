/* main returns 7; output still flushed, handlers still run. */
#include <stdio.h>
#include <stdlib.h>

static void done(void) { printf("handler after return\n"); }

int main(void)
{
    atexit(done);
    printf("returning 7");  /* no newline: must still be flushed */
    fprintf(stderr, "stderr line\n");
    return 7;
}
