/* The other half of tls_a.c: a global thread-local and its accessor. */
__thread long shared_total = 1000;

long add_shared(long v) {
    shared_total += v;
    return shared_total;
}
