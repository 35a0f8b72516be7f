/* Opened OBJDL_RTLD_GLOBAL: resolves consumer.o's references. */
int provided_value = 40;

int provided_twice(int x) { return 2 * x; }

int which_provider(void) { return 1; }
