/* Thread-locals across two objects, from several threads: global-dynamic
 * (a variable defined in the other object), local-dynamic (statics), .tdata
 * initial values and zeroed .tbss. Run with -fPIC in both TLS dialects:
 * calls to __tls_get_addr, and TLS descriptors (-mtls-dialect=gnu2). */
#include <pthread.h>
#include <stdio.h>

extern __thread long shared_total;          /* defined in tls_b.c */
long add_shared(long v);                    /* tls_b.c */
static __thread int counts[16] = {1, 2, 3}; /* .tdata, local */
static __thread char seen[4096];            /* .tbss, local */

static int work(int id) {
    int s = 0;
    for (int i = 0; i < 5000; i++) {
        counts[(i + id) & 15] += i & 3;
        seen[(i * 7 + id) & 4095] = 1;
        add_shared(i & 1);
    }
    for (int i = 0; i < 16; i++) s += counts[i];
    for (int i = 0; i < 4096; i++) s += seen[i];
    return s + (int)shared_total;
}

static void *thread_main(void *p) {
    long id = (long)p;
    return (void *)(long)work((int)id);
}

int main(void) {
    pthread_t t[6];
    for (long i = 0; i < 6; i++) pthread_create(&t[i], 0, thread_main, (void *)i);
    long total = 0;
    for (int i = 0; i < 6; i++) {
        void *r;
        pthread_join(t[i], &r);
        printf("thread %d: %ld\n", i, (long)r);
        total += (long)r;
    }
    printf("main: %d, total %ld, shared %ld\n", work(9), total, shared_total);
    return 0;
}
