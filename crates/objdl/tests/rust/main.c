/* Drives the Rust staticlib of demo.rs from C. */
#include <stdio.h>
#include <stddef.h>

size_t demo_format(unsigned x, double y, char *buf, size_t cap);
size_t demo_collect(unsigned n, char *buf, size_t cap);
unsigned demo_bump(void);
size_t demo_name(char *buf, size_t cap);
void demo_rename(void);
size_t demo_threads(char *buf, size_t cap);
int demo_catch(char *buf, size_t cap);
int demo_thread_panic(char *buf, size_t cap);
void demo_print(unsigned n);

/* Runs every demo, one line per result in out; returns the length. */
size_t run_demo(char *out, size_t cap) {
    char buf[1024];
    size_t n = 0;
#define P(...) (n += snprintf(out + n, n < cap ? cap - n : 0, __VA_ARGS__))
    demo_format(42, 2.5, buf, sizeof buf);
    P("format: %s\n", buf);
    demo_collect(12, buf, sizeof buf);
    P("collect: %s\n", buf);
    unsigned a = demo_bump(), b = demo_bump();
    P("bump: %u %u\n", a, b);
    demo_name(buf, sizeof buf);
    P("name: %s\n", buf);
    demo_rename();
    demo_name(buf, sizeof buf);
    P("renamed: %s\n", buf);
    demo_threads(buf, sizeof buf);
    P("threads: %s\n", buf);
    demo_name(buf, sizeof buf);
    P("after threads: %s, bump %u\n", buf, demo_bump());
    int caught = demo_catch(buf, sizeof buf);
    P("catch: %d %s\n", caught, buf);
    caught = demo_catch(buf, sizeof buf);
    P("catch again: %d %s\n", caught, buf);
    caught = demo_thread_panic(buf, sizeof buf);
    P("thread panic: %d %s\n", caught, buf);
    demo_threads(buf, sizeof buf);
    P("threads again: %s\n", buf);
    return n;
}

int main(void) {
    static char out[16384];
    run_demo(out, sizeof out);
    fputs(out, stdout);
    fflush(stdout);
    demo_print(3);
    printf("done\n");
    return 0;
}
