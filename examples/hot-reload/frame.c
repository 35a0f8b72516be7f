/* Edit me while `objdl run --watch` runs (see main.c): change BALL, WIDTH
 * or STEP, save, and watch the next frame. */
#include <stdio.h>

#define WIDTH 40
#define BALL "o"
#define STEP 1

static long bounces; /* kept across reloads: the layout is unchanged */

int draw_frame(long frame, long position) {
    long span = 2 * (WIDTH - 1);
    long at = position % span;
    if (at == 0 && position > 0)
        bounces++;
    if (at >= WIDTH)
        at = span - at;
    printf("\r%5ld |%*s%s%*s| bounces %ld ", frame, (int)at, "", BALL, (int)(WIDTH - 1 - at), "", bounces);
    return STEP;
}
