/* Second object of a two-object unit: defines what pair_a.c uses and uses
   some of pair_a.c in turn. */

extern int a_value;
extern int a_fn(int);

int b_counter = 11;
int b_table[8] = { 1, 1, 2, 3, 5, 8, 13, 21 };
const char b_name[] = "pair-b";
int b_hidden __attribute__((visibility("hidden"))) = 5;
static int b_bss[32];

int b_fn(int x) { b_bss[x & 31] += x; return a_fn(x) + a_value; }
__attribute__((visibility("hidden"))) int b_hidden_fn(int x) { return x - b_bss[1]; }
int (*b_fnptr)(int) = a_fn;
