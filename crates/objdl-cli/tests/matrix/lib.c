/* The first unit of the matrix: opened as a separate Global unit with
 * `objdl run --unit`, called by main.c directly, calling main.c back through
 * a registered pointer, and calling the host (libc). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*callback)(int);
static callback registered;
static int counter = 100;

void lib_register(callback f) { registered = f; }

int lib_apply(int x) { return registered ? registered(x) + counter++ : -1; }

static int ascending(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

int lib_sort_digits(int *v, int n) {
    qsort(v, n, sizeof *v, ascending);
    int s = 0;
    for (int i = 0; i < n; i++) s = s * 10 + v[i];
    printf("lib: sorted %d values\n", n);
    return s;
}

const char *lib_name(void) { return "matrix-lib"; }

/* The canonical address of a function of this unit, as this unit sees it. */
void *lib_self(void) { return (void *)lib_name; }

/* A host function's address, as this unit sees it. */
void *lib_strlen_address(void) { return (void *)strlen; }

size_t lib_length(const char *s) { return strlen(s); }

/* Over gcc's 64 KiB large-data threshold: -mcmodel=medium puts these in
 * .lbss/.ldata and reaches them with 64-bit absolutes. */
static int big_zeroed[40000];
int big_table[20000] = {1, 2, 3};

long lib_big_data(int i) {
    big_zeroed[i] = i * 3;
    big_table[i] += big_zeroed[i] + big_zeroed[i / 2];
    return big_table[i] + big_table[0];
}

long lib_big_switch(int k) {
    switch (k) {
    case 0: return 11; case 1: return 23; case 2: return 35; case 3: return 47;
    case 4: return 59; case 5: return 61; case 6: return 73; case 7: return 85;
    default: return -1;
    }
}
