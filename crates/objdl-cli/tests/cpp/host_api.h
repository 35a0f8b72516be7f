// What host.cpp and host_unit.cpp share. host_unit.cpp is loaded by
// host.cpp through the C API (objdl_dlopen), or linked with it by g++ for
// the reference run; the two must print the same.
#pragma once

// An exception type both sides define (inline, so typeinfo is COMDAT in
// each): the host's and the unit's typeinfo objects may differ, and
// matching a handler must still work, by name, as between shared objects.
struct SharedError {
    int code;
};

extern "C" {
// In the unit.
int unit_throw(int depth);
int unit_throw_shared(int code);
int unit_catch_callback(void (*callback)(int), int arg);
int unit_catch_host(int what);
int unit_sandwich(void (*host_frame)(int (*)(int)), int depth);
// In the host (given to units with objdl_define): throws for `what`.
void host_throw(int what);
}
