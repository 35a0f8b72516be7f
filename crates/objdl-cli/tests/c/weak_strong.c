/* The strong definitions that override weak_main.c's weak ones. */
const char *hook(void) { return "strong hook"; }
int weak_value = 42;
