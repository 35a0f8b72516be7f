/* A long-running program for `objdl run --watch`: a terminal animation
 * whose look lives in frame.c. Edit frame.c while it runs (the colour, the
 * width, the characters), save, and the next frame is drawn by the new
 * code; the frame counter and the distance travelled carry on.
 *
 *     objdl run --watch examples/hot-reload/main.c examples/hot-reload/frame.c
 *
 * It stops by itself after FRAMES frames (the first argument, else
 * 600: a minute), or with Ctrl-C. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* frame.c: draws one frame (one line) and says how far the ball moved. */
int draw_frame(long frame, long position);

long frames; /* kept across reloads, as every global of the unit */
long travelled;

int main(int argc, char **argv) {
    long limit = argc > 1 ? atol(argv[1]) : 600;
    struct timespec tick = {0, 100 * 1000 * 1000};
    while (frames < limit) {
        frames++;
        travelled += draw_frame(frames, travelled);
        fflush(stdout);
        nanosleep(&tick, NULL);
    }
    printf("\n%ld frames, %ld steps\n", frames, travelled);
    return 0;
}
