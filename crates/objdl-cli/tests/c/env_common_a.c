/* envp and getenv, COMMON (tentative) definitions merged across objects,
 * file-local statics with the same names in two objects, and big arrays. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((common)) int tentative;        /* also in env_common_b.c */
__attribute__((common)) char common_buf[4096]; /* also in env_common_b.c */
static int counter = 1;                        /* env_common_b.c has its own */
static const char *who(void) { return "a"; }   /* and its own who() */
static char big_zeroes[1 << 20];               /* 1 MiB of .bss */

int b_bump(void);
const char *b_who(void);
void b_fill(void);

int main(int argc, char **argv, char **envp)
{
    (void)argc;
    (void)argv;
    int found = 0;
    for (char **e = envp; *e; e++)
        if (strncmp(*e, "OBJDL_TEST_VAR=", 15) == 0)
            printf("envp: %s\n", *e);
        else
            found++;
    printf("other variables: %s\n", found > 0 ? "some" : "none");
    printf("getenv: %s\n", getenv("OBJDL_TEST_VAR") ? getenv("OBJDL_TEST_VAR") : "(unset)");
    tentative = 5;
    printf("b_bump: %d %d\n", b_bump(), b_bump());
    printf("tentative=%d counter=%d\n", tentative, counter);
    printf("who: %s %s\n", who(), b_who());
    b_fill();
    printf("common_buf: %.20s (%zu)\n", common_buf, strlen(common_buf));
    big_zeroes[sizeof big_zeroes - 1] = 1;
    long nz = 0;
    for (size_t i = 0; i < sizeof big_zeroes; i++)
        nz += big_zeroes[i] != 0;
    printf("nonzero=%ld\n", nz);
    return 0;
}
