// std::thread: workers that sum ranges under a std::mutex, a condition
// variable hand-off, atomics, an exception thrown and caught on each
// worker's own stack. (std::call_once, and so std::async and std::promise,
// are in call_once.cpp: they use libstdc++'s own thread-local variables.)
#include <atomic>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

static std::mutex lock;
static long total = 0;
static std::vector<std::string> log_lines;
static std::atomic<int> caught{0};

static void worker(int id) {
    long local = 0;
    for (long i = id * 1000; i < (id + 1) * 1000; i++)
        local += i;
    try {
        if (id % 2)
            throw std::runtime_error("worker " + std::to_string(id) + " threw");
    } catch (const std::exception &e) {
        caught++;
        std::lock_guard<std::mutex> g(lock);
        log_lines.push_back(e.what());
    }
    std::lock_guard<std::mutex> g(lock);
    total += local;
}

int main() {
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; i++)
        threads.emplace_back(worker, i);
    for (auto &t : threads)
        t.join();
    std::cout << "total " << total << ", caught " << caught << ", log lines " << log_lines.size()
              << '\n';

    std::mutex m;
    std::condition_variable cv;
    int stage = 0;
    std::thread consumer([&] {
        std::unique_lock<std::mutex> g(m);
        cv.wait(g, [&] { return stage == 1; });
        stage = 2;
        cv.notify_one();
    });
    {
        std::unique_lock<std::mutex> g(m);
        stage = 1;
        cv.notify_one();
        cv.wait(g, [&] { return stage == 2; });
    }
    consumer.join();
    std::cout << "condition variable hand-off reached stage " << stage << '\n';

    std::atomic<long> counter{0};
    std::vector<std::thread> many;
    for (int i = 0; i < 8; i++)
        many.emplace_back([&counter] {
            for (int j = 0; j < 10000; j++)
                counter.fetch_add(1, std::memory_order_relaxed);
        });
    for (auto &t : many)
        t.join();
    std::cout << "atomic counter " << counter << '\n';

    std::cout << "hardware_concurrency>0 " << (std::thread::hardware_concurrency() > 0)
              << ", joinable after join " << consumer.joinable() << '\n';
    return 0;
}
