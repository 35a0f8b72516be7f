/* A self-contained C object for the differential test: no libc, no
   references outside the unit, but most of what gcc -O2 emits: jump
   tables, strings that share tails, floating-point constants, function
   pointer tables, static and global data, bss, cold code, main in
   .text.startup, constructors and destructors, and over-aligned data. */

typedef int (*op_fn)(int, int);

static int add(int a, int b) { return a + b; }
static int sub(int a, int b) { return a - b; }
int mul(int a, int b) { return a * b; }
static int quo(int a, int b) { return b ? a / b : 0; }

/* Writable and read-only tables of function pointers (R_X86_64_64). */
op_fn ops[4] = { add, sub, mul, quo };
static op_fn const const_ops[4] = { quo, mul, sub, add };

/* Strings: "world" and "orld" are tails of "hello world". */
const char *const greetings[] = { "hello world", "world", "orld", "" };
static const char shout[] = "A STRING IN .rodata, NOT A LITERAL";

int counter = 7;
static int hits;
int scratch[64];
static long long wide[3] = { 1LL << 40, -5, 0x123456789abcLL };
_Alignas(64) int aligned_table[16] = { 1, 2, 3 };
int in_custom __attribute__((section(".data.custom"))) = 99;
static int *const self_ptr = &counter;
int *mutable_ptr = &scratch[10];

/* A dense switch: a jump table in .rodata. */
int classify(int x)
{
    switch (x) {
    case 0: return counter;
    case 1: return hits + 11;
    case 2: return scratch[2] * 3;
    case 3: return (int)wide[x - 1];
    case 4: return aligned_table[x];
    case 5: return in_custom;
    case 6: return shout[x];
    case 7: return *self_ptr;
    default: return -1;
    }
}

double scale(double x, float y)
{
    return x * 3.141592653589793 + (double)(y * 2.5f) - 1e-9;
}

__attribute__((cold, noinline)) static int rare(int x)
{
    hits += x;
    return hits * 17;
}

int run_ops(int a, int b)
{
    int s = 0;
    for (int i = 0; i < 4; i++) {
        s += ops[i](a, b) + const_ops[i](b, a);
        if (__builtin_expect(s == 123456, 0))
            s += rare(i);
    }
    return s;
}

int string_sum(void)
{
    int s = 0;
    for (unsigned i = 0; i < sizeof greetings / sizeof *greetings; i++)
        for (const char *p = greetings[i]; *p; p++)
            s += *p;
    return s + shout[3];
}

static int constructed;
__attribute__((constructor)) static void init_first(void) { constructed = 1; }
__attribute__((constructor(200))) static void init_prio(void) { constructed += 2; }
__attribute__((destructor)) static void fini_last(void) { constructed = 0; }

int main(void)
{
    int v = classify(counter & 7) + run_ops(6, 3) + string_sum();
    v += (int)scale(v, 0.5f) + *mutable_ptr + constructed;
    return v & 0x7f;
}
