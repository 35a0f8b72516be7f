/* Uses symbols the host gives with objdl_define, and libc: the host
   executable and libc are too far apart for one placement to reach both,
   so at least one call goes through a trampoline. */
#include <stdio.h>

extern int host_square(int);
extern int host_data;

int call_host(int x) { return host_square(x) + host_data; }

int shout(const char *s) { return puts(s); }
