/* Plugin A: a counter. The host opens it with Scope::Global, so units opened
 * after it can call its exports directly (greeter.c does).
 *
 * It talks to the world only through the host: host_log() and host_version
 * are not in any library, the host hands them over with Linker::define. */
#include <stdio.h>
#include <stdlib.h>

extern void host_log(const char *msg); /* a host function */
extern const int host_version;         /* a host data object */

/* Zero at every load: a reload maps fresh memory, so the count restarts. */
static int count;

int counter_next(void) { return ++count; }

int counter_value(void) { return count; }

/* Registered with atexit() by the constructor. objdl ties it to this unit,
 * so it runs when the unit unloads (not at process exit), before the
 * destructor, as in a linked program. */
static void counter_atexit(void)
{
    char msg[96];
    snprintf(msg, sizeof msg, "counter: atexit handler (final count %d)", count);
    host_log(msg);
}

__attribute__((constructor)) static void counter_init(void)
{
    char msg[96];
    snprintf(msg, sizeof msg, "counter: constructor (host version %d)", host_version);
    host_log(msg);
    atexit(counter_atexit);
}

__attribute__((destructor)) static void counter_fini(void)
{
    host_log("counter: destructor");
}
