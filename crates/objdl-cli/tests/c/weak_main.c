/* Weak symbols: an undefined weak function tested for NULL, a weak
 * definition overridden by a strong one in weak_strong.c, and a weak
 * definition that nothing overrides. */
#include <stdio.h>

extern void maybe(void) __attribute__((weak));
extern int maybe_data __attribute__((weak));

__attribute__((weak)) const char *hook(void) { return "weak hook"; }
__attribute__((weak)) const char *kept(void) { return "weak kept"; }
__attribute__((weak)) int weak_value = 1;

int main(void)
{
    if (maybe)
        maybe();
    else
        printf("maybe is NULL\n");
    printf("&maybe_data is NULL: %d\n", &maybe_data == NULL);
    printf("hook: %s\n", hook());
    printf("kept: %s\n", kept());
    printf("weak_value: %d\n", weak_value);
    return 0;
}
