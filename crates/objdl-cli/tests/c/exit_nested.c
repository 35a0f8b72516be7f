/* exit(3) from deep inside; atexit handlers and destructors still run. */
#include <stdio.h>
#include <stdlib.h>

static void bye(void) { printf("atexit handler ran\n"); }
static void bye2(void) { printf("second atexit handler ran\n"); }
__attribute__((destructor)) static void fin(void) { printf("destructor ran\n"); }

__attribute__((noinline)) static void level3(int x)
{
    printf("level3 %d\n", x);
    fflush(stdout);
    fprintf(stderr, "leaving with 3\n");
    if (x > 0)
        exit(3);
    printf("not reached\n");
}
__attribute__((noinline)) static void level2(int x) { level3(x + 1); printf("after level3\n"); }
__attribute__((noinline)) static void level1(int x) { level2(x + 1); printf("after level2\n"); }

int main(int argc, char **argv)
{
    (void)argv;
    atexit(bye);
    atexit(bye2);
    printf("buffered before exit\n"); /* must be flushed by exit */
    level1(argc);
    return 0;
}
