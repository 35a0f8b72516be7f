/* setjmp/longjmp across frames, and a switch large enough for a jump table. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>

static jmp_buf env;
static volatile int depth;

__attribute__((noinline)) static void dive(int n)
{
    depth++;
    if (n == 0)
        longjmp(env, 42);
    dive(n - 1);
    printf("not reached\n");
}

__attribute__((noinline)) static int classify(int x)
{
    switch (x) {
    case 0: return 100;
    case 1: return 211;
    case 2: return 302;
    case 3: return 413;
    case 4: return 524;
    case 5: return 635;
    case 6: return 746;
    case 7: return 857;
    case 8: return 968;
    case 9: return 179;
    case 10: return 280;
    case 11: return 391;
    case 12: return 402;
    case 13: return 513;
    case 14: return 624;
    case 15: return 735;
    case 16: return 846;
    case 17: return 957;
    case 18: return 168;
    case 19: return 279;
    default: return -1;
    }
}

__attribute__((noinline)) static const char *name_of(unsigned x)
{
    switch (x) {
    case 0: printf("[zero]"); return "zero";
    case 1: printf("[one]"); return "one";
    case 2: printf("[two]"); return "two";
    case 3: printf("[three]"); return "three";
    case 4: printf("[four]"); return "four";
    case 5: printf("[five]"); return "five";
    case 6: printf("[six]"); return "six";
    case 7: printf("[seven]"); return "seven";
    case 8: printf("[eight]"); return "eight";
    case 9: printf("[nine]"); return "nine";
    case 10: printf("[ten]"); return "ten";
    case 11: printf("[eleven]"); return "eleven";
    default: printf("[many]"); return "many";
    }
}

int main(int argc, char **argv)
{
    int base = argc > 1 ? atoi(argv[1]) : 0;
    long sum = 0;
    for (int i = -2; i < 25; i++)
        sum += classify(i + base);
    printf("switch sum=%ld\n", sum);
    for (unsigned i = 0; i < 14; i++)
        printf(" %s\n", name_of(i));

    int r = setjmp(env);
    if (r == 0) {
        printf("setjmp returned 0\n");
        dive(10);
    } else {
        printf("longjmp returned %d after depth %d\n", r, depth);
    }
    /* A second round trip. */
    volatile int rounds = 0;
    if (setjmp(env) < 3) {
        rounds++;
        if (rounds < 3)
            longjmp(env, rounds);
    }
    printf("rounds=%d\n", rounds);
    return 0;
}
