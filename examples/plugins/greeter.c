/* Plugin B: a greeter. The host opens it Local (the default), after
 * counter.o: counter_next() and counter_value() are not defined here nor in
 * any library, they resolve to counter.o's exports through the global scope.
 * Binding to them keeps counter.o loaded for as long as this unit lives. */
#include <stdio.h>

extern void host_log(const char *msg); /* from the host */
extern int counter_next(void);         /* from counter.o */
extern int counter_value(void);        /* from counter.o */

/* Greets `name` and returns the visitor's number. */
int greet(const char *name)
{
    int n = counter_next();
    char msg[128];
    snprintf(msg, sizeof msg, "greeter: hello, %s! you are visitor #%d", name, n);
    host_log(msg);
    return n;
}

__attribute__((constructor)) static void greeter_init(void)
{
    host_log("greeter: constructor");
}

/* Runs while counter.o is still loaded, whatever the host closed first. */
__attribute__((destructor)) static void greeter_fini(void)
{
    char msg[96];
    snprintf(msg, sizeof msg, "greeter: destructor (counter.o still answers: count %d)",
             counter_value());
    host_log(msg);
}
