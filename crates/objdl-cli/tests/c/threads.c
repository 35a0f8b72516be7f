/* pthreads: workers summing ranges into a mutex-protected total. */
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long total;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int once_count;

static void init_once(void) { once_count++; }

static void *worker(void *arg)
{
    long id = (long)arg, local = 0;
    pthread_once(&once, init_once);
    for (long i = id * 1000; i < (id + 1) * 1000; i++)
        local += i;
    pthread_mutex_lock(&lock);
    total += local;
    pthread_mutex_unlock(&lock);
    return (void *)(id * 2);
}

int main(void)
{
    pthread_t t[4];
    for (long i = 0; i < 4; i++)
        if (pthread_create(&t[i], NULL, worker, (void *)i) != 0)
            return 2;
    long rets = 0;
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        rets += (long)r;
    }
    printf("total=%ld rets=%ld once=%d\n", total, rets, once_count);
    return 0;
}
