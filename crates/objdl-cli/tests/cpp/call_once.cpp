// std::call_once, std::async and std::promise: inline code in libstdc++'s
// headers that reaches libstdc++'s own thread-local variables
// (std::__once_callable, std::__once_call) from the loaded object.
#include <future>
#include <iostream>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

static std::once_flag once;
static int initialised = 0;

int main() {
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; i++)
        threads.emplace_back([] { std::call_once(once, [] { initialised++; }); });
    for (auto &t : threads)
        t.join();
    std::cout << "call_once ran " << initialised << " time(s)\n";

    auto fut = std::async(std::launch::async, [] { return 6 * 7; });
    auto failing =
        std::async(std::launch::async, []() -> int { throw std::logic_error("from async"); });
    std::cout << "async result " << fut.get();
    try {
        failing.get();
    } catch (const std::logic_error &e) {
        std::cout << ", async exception " << e.what();
    }
    std::promise<std::string> promise;
    std::future<std::string> value = promise.get_future();
    std::thread producer([&promise] { promise.set_value("promised"); });
    std::cout << ", " << value.get() << '\n';
    producer.join();
    return 0;
}
