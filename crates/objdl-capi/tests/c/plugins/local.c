/* Opened OBJDL_RTLD_LOCAL: invisible to the global handle and to later units. */
int local_secret(void) { return 7; }
