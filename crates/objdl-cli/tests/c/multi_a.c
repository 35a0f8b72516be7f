/* Two objects referring to each other in both directions, sharing data:
 * multi_a.c calls into multi_b.c, which calls back into multi_a.c, and each
 * reads and writes globals the other defines. */
#include <stdio.h>
#include <string.h>

int shared_counter = 10;          /* defined here, written by multi_b.c */
const char greeting[] = "hello from a";
int *counter_ptr = &shared_counter; /* a data relocation against our own data */

extern long b_table[8];           /* defined in multi_b.c */
extern const char *b_name;        /* defined in multi_b.c */
extern int b_bss[64];             /* zero-initialised, in multi_b.c */
int b_compute(int n);             /* multi_b.c, calls back into a_square */
int b_uses_greeting(void);        /* multi_b.c, reads greeting */
int b_parse(const char *s);       /* multi_b.c */
int (*b_callback(void))(int);     /* multi_b.c, returns &a_square */

static int local_helper(int x) { return x * 3 + 1; }

int a_square(int x)
{
    shared_counter++;
    return x * x + local_helper(0) - 1;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? b_parse(argv[1]) : 5;
    printf("argc=%d\n", argc);
    for (int i = 1; i < argc; i++)
        printf("argv[%d]=%s\n", i, argv[i]);
    printf("b_compute(%d)=%d\n", n, b_compute(n));
    printf("shared_counter=%d via ptr=%d\n", shared_counter, *counter_ptr);
    printf("b_name=%s len=%zu\n", b_name, strlen(b_name));
    printf("greeting len via b=%d\n", b_uses_greeting());
    long sum = 0;
    for (int i = 0; i < 8; i++)
        sum += b_table[i];
    printf("b_table sum=%ld\n", sum);
    b_table[3] = 1000;
    printf("b_table after=%ld\n", b_table[3]);
    int zeros = 0;
    for (int i = 0; i < 64; i++)
        zeros += b_bss[i] == 0;
    printf("b_bss zeros=%d\n", zeros);
    printf("callback is a_square: %d, value %d\n", b_callback() == a_square, b_callback()(6));
    return 0;
}
