/* Function pointers compared across objects and with the host's, and qsort
 * with comparators from another object. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*cmp_fn)(const void *, const void *);
extern cmp_fn b_cmp_desc;                  /* fnptr_b.c: &cmp_desc */
int cmp_asc(const void *a, const void *b); /* fnptr_b.c */
void *b_puts_address(void);                /* fnptr_b.c: returns (void *)puts */
void *b_local_address(void);               /* fnptr_b.c: returns &local_fn */
void *b_cmp_asc_address(void);             /* fnptr_b.c: returns &cmp_asc */
int local_fn(int);                         /* defined here */
int (*const table[])(const char *) = {puts, NULL};

int local_fn(int x) { return x + 1; }
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int main(void)
{
    int v[] = {5, 3, 9, 1, 7, 2, 8, 6, 4, 0};
    size_t n = sizeof v / sizeof v[0];
    qsort(v, n, sizeof v[0], cmp_asc);
    for (size_t i = 0; i < n; i++)
        printf("%d ", v[i]);
    printf("\n");
    qsort(v, n, sizeof v[0], b_cmp_desc);
    for (size_t i = 0; i < n; i++)
        printf("%d ", v[i]);
    printf("\n");

    const char *words[] = {"pear", "apple", "fig", "banana", "cherry"};
    qsort(words, 5, sizeof words[0], cmp_str);
    for (size_t i = 0; i < 5; i++)
        printf("%s ", words[i]);
    printf("\n");
    printf("comparator here==there %d\n", b_cmp_desc != (cmp_fn)cmp_asc && b_cmp_asc_address() == (void *)cmp_asc);
    void *p_here = (void *)puts;
    void *p_there = b_puts_address();
    void *p_dl = dlsym(RTLD_DEFAULT, "puts");
    printf("puts here==there %d\n", p_here == p_there);
    printf("puts here==dlsym %d\n", p_here == p_dl);
    printf("puts table==here %d\n", (void *)table[0] == p_here);
    printf("&puts==puts %d\n", (void *)&puts == (void *)puts);
    printf("local here==there %d\n", (void *)local_fn == b_local_address());
    printf("qsort==dlsym %d\n", (void *)qsort == dlsym(RTLD_DEFAULT, "qsort"));
    printf("strlen==dlsym %d\n", (void *)strlen == dlsym(RTLD_DEFAULT, "strlen"));
    table[0]("called through a table");
    return 0;
}
