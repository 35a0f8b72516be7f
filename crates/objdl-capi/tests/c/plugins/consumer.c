/* Opened after provider.o, whose symbols it uses. */
extern int provided_value;
extern int provided_twice(int);

int consume(int x) { return provided_twice(x) + provided_value; }
