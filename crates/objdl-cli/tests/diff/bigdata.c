/* Arrays above gcc's -mlarge-data-threshold (64 KiB): with -mcmodel=large
   they go to .lbss, .ldata and .lrodata, sections with SHF_X86_64_LARGE. */

static int big_bss[20000];
int big_init[17000] = { [0] = 1, [8000] = 2, [16999] = 3 };
static const short big_ro[40000] = { [1] = 5, [39999] = 6 };
int *const big_ptrs[3] = { &big_bss[19999], &big_init[16999], 0 };
int small_after = 12;

int big_get(int i)
{
    big_bss[i] += small_after;
    return big_bss[i] + big_init[i] + big_ro[i] + *big_ptrs[i % 2];
}
