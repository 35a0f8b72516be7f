// thread_local variables: a plain counter per thread, one with a dynamic
// initialiser, and one with a constructor and a destructor that runs at
// each thread's exit (and the main thread's, at exit). Under -fPIC they use
// the general-dynamic TLS model; the default (PIE) build uses local-exec,
// which objdl refuses.
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

static std::mutex lock;
static std::vector<std::string> events;

static void note(const std::string &what) {
    std::lock_guard<std::mutex> g(lock);
    events.push_back(what);
}

struct PerThread {
    PerThread() { id = next++; }
    ~PerThread() {
        // At the main thread's exit, events has been destroyed: print directly.
        if (id == 0)
            std::cout << "main thread's PerThread destroyed, uses " << uses << '\n';
        else
            note("thread object " + std::to_string(id) + " destroyed after " +
                 std::to_string(uses) + " uses");
    }
    int id;
    int uses = 0;
    static inline int next = 0; // guarded by construction order below
};

thread_local int counter = 0;
thread_local std::string name = "thread-" + std::to_string(counter + 100);
thread_local PerThread per_thread;

static int bump(int n) {
    for (int i = 0; i < n; i++) {
        counter++;
        per_thread.uses++;
    }
    return counter;
}

int main() {
    std::cout << "main: " << bump(3) << ' ' << name << " object " << per_thread.id << '\n';
    const int *main_counter = &counter;
    for (int i = 1; i <= 3; i++) {
        // One thread at a time: PerThread ids follow the loop.
        std::thread t([i, main_counter] {
            int c = bump(i * 10);
            name += "/" + std::to_string(i);
            note("thread " + std::to_string(i) + ": counter " + std::to_string(c) + ", name " +
                 name + ", object " + std::to_string(per_thread.id) + ", own counter " +
                 std::to_string(&counter != main_counter));
        });
        t.join();
    }
    for (const auto &e : events)
        std::cout << e << '\n';
    std::cout << "main again: " << bump(1) << ' ' << name << '\n';
    return 0;
}
