/* The other half of multi_a.c. */
#include <string.h>

extern int shared_counter;        /* multi_a.c */
extern const char greeting[];     /* multi_a.c */
int a_square(int x);              /* multi_a.c */

long b_table[8] = {1, 2, 3, 4, 5, 6, 7, 8};
const char *b_name = "module b";
int b_bss[64];

int b_compute(int n)
{
    int total = 0;
    for (int i = 1; i <= n; i++)
        total += a_square(i);
    shared_counter += 100;
    b_bss[5] = 0;
    return total;
}

int b_uses_greeting(void) { return (int)strlen(greeting); }

int b_parse(const char *s)
{
    int v = 0;
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (*s++ - '0');
    return v;
}

int (*b_callback(void))(int) { return a_square; }
