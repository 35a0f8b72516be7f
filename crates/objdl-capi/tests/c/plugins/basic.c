/* A plain plugin: functions, a counter, a static helper (not exported) and a libc call. */
#include <string.h>

int basic_counter = 0;

static int helper(int x) { return x * 3; }

int basic_add(int a, int b)
{
    basic_counter++;
    return a + b;
}

int basic_triple(int x) { return helper(x); }

size_t basic_len(const char *s) { return strlen(s); }
