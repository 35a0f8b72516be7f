/* Needs local.o's symbol: fails to open while local.o is Local. */
extern int local_secret(void);

int needs_local(void) { return local_secret() * 6; }
