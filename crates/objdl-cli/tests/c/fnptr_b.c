#include <stdio.h>

int local_fn(int);

int cmp_asc(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}
static int cmp_desc(const void *a, const void *b) { return cmp_asc(b, a); }
int (*b_cmp_desc)(const void *, const void *) = cmp_desc;

void *b_puts_address(void) { return (void *)puts; }
void *b_local_address(void) { return (void *)local_fn; }
void *b_cmp_asc_address(void) { return (void *)cmp_asc; }
