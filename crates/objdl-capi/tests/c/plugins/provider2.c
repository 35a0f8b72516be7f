/* A second Global unit that also defines which_provider: the first opened wins. */
int which_provider(void) { return 2; }
