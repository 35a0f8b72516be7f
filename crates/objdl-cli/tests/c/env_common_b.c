#include <string.h>

__attribute__((common)) int tentative;
__attribute__((common)) char common_buf[4096];
static int counter = 100;
static const char *who(void) { return "b"; }

int b_bump(void) { tentative++; return ++counter; }
const char *b_who(void) { return who(); }
void b_fill(void) { memset(common_buf, 'x', 30); }
