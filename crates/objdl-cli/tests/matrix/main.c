/* The second unit of the matrix (or, with lib.c, one unit): calls lib.c
 * directly and is called back by it; calls the host. No data is shared
 * across units: PIE and -fno-pic code would reach it with plain PC32. */
#include <stdio.h>
#include <string.h>

typedef int (*callback)(int);
void lib_register(callback f);
int lib_apply(int x);
int lib_sort_digits(int *v, int n);
const char *lib_name(void);
void *lib_self(void);
void *lib_strlen_address(void);
size_t lib_length(const char *s);
long lib_big_switch(int k);
long lib_big_data(int i);

static int twice(int x) { return 2 * x; }
int main_hook(int x) { return x + 1; }

int main(int argc, char **argv) {
    lib_register(twice);
    printf("apply twice: %d\n", lib_apply(5));
    lib_register(main_hook);
    printf("apply hook: %d\n", lib_apply(7));
    int v[] = {5, 3, 9, 1, 7};
    printf("digits: %d\n", lib_sort_digits(v, 5));
    printf("name: %s (%zu)\n", lib_name(), lib_length(lib_name()));
    /* Function addresses are canonical across units and the host. */
    printf("lib_name canonical: %d\n", (void *)lib_name == lib_self());
    printf("strlen canonical: %d\n", (void *)strlen == lib_strlen_address());
    printf("big data: %ld %ld\n", lib_big_data(39999 / 2), lib_big_data(2));
    long s = 0;
    for (int k = -1; k < 9; k++) s = s * 3 + lib_big_switch(k);
    printf("switch: %ld, args: %d\n", s, argc);
    return (int)(s % 7);
}
