/* First object of a two-object unit: references into pair_b.c in code and
   in data, by value, by address and through function pointers. */

extern int b_counter;
extern int b_table[8];
extern const char b_name[];
extern int b_fn(int);
extern int (*b_fnptr)(int);
extern int b_hidden __attribute__((visibility("hidden")));
extern int b_hidden_fn(int) __attribute__((visibility("hidden")));

int a_value = 3;
static int a_private = 4;

int a_fn(int x) { return x * a_value + a_private; }

/* Data pointing into the other object (R_X86_64_64, some with addends). */
int (*a_ptrs[3])(int) = { b_fn, a_fn, b_hidden_fn };
int *a_refs[3] = { &b_counter, &b_table[5], &b_hidden };
const char *a_name_tail = b_name + 2;

int a_entry(int x)
{
    int s = b_fn(x) + b_fnptr(x) + b_hidden_fn(x);
    s += b_counter + b_table[x & 7] + b_table[3] + b_hidden;
    s += b_name[1];
    for (int i = 0; i < 3; i++)
        s += a_ptrs[i](i) + *a_refs[i];
    return s + *a_name_tail;
}
