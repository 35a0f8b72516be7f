/* stdio: printf, fprintf(stderr), reading stdin through the stdin/stdout/
 * stderr variables (PC32 references in PIE code), and fgets/getchar. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    char line[256];
    int lines = 0;
    long total = 0;
    if (argc > 1)
        fprintf(stdout, "mode %s\n", argv[1]);
    while (fgets(line, sizeof line, stdin)) {
        lines++;
        size_t n = strlen(line);
        if (n && line[n - 1] == '\n')
            line[--n] = 0;
        long v = 0;
        if (sscanf(line, "%ld", &v) == 1)
            total += v;
        for (size_t i = 0; i < n; i++)
            line[i] = (char)toupper((unsigned char)line[i]);
        printf("%3d: %-10s|%5zu\n", lines, line, n);
        fprintf(stderr, "err %d\n", lines);
    }
    printf("lines=%d total=%ld eof=%d\n", lines, total, feof(stdin) != 0);
    fputs("done\n", stdout);
    putchar('!');
    putc('\n', stdout);
    fprintf(stderr, "%s %.3f %x %c\n", "formatted", 3.14159, 255u, 'z');
    return lines == 0 ? 1 : 0;
}
