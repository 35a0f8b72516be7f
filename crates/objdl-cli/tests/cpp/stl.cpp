// iostream formatting, std::string, std::vector, std::map and friends:
// reads words and numbers from stdin, prints statistics with manipulators,
// and writes to std::cerr and std::clog too.
#include <algorithm>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <numeric>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

struct Point {
    int x, y;
};

static std::ostream &operator<<(std::ostream &out, const Point &p) {
    return out << '(' << p.x << ", " << p.y << ')';
}

int main(int argc, char **argv) {
    std::vector<std::string> words;
    std::vector<double> numbers;
    std::string line;
    int lines = 0;
    while (std::getline(std::cin, line)) {
        lines++;
        std::istringstream in(line);
        std::string token;
        while (in >> token) {
            std::istringstream as_number(token);
            double d;
            if (as_number >> d && as_number.eof())
                numbers.push_back(d);
            else
                words.push_back(token);
        }
    }
    std::cout << "lines " << lines << ", words " << words.size() << ", numbers "
              << numbers.size() << '\n';

    std::map<std::string, int> counts;
    for (const auto &w : words) {
        std::string lower(w);
        std::transform(lower.begin(), lower.end(), lower.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        counts[lower]++;
    }
    for (const auto &[word, n] : counts)
        std::cout << std::left << std::setw(12) << word << std::right << std::setw(4) << n
                  << '\n';

    std::vector<std::pair<int, std::string>> by_count;
    for (const auto &[word, n] : counts)
        by_count.emplace_back(n, word);
    std::stable_sort(by_count.begin(), by_count.end(),
                     [](const auto &a, const auto &b) { return a.first > b.first; });
    if (!by_count.empty())
        std::cout << "most frequent: " << by_count[0].second << " x" << by_count[0].first << '\n';

    double sum = std::accumulate(numbers.begin(), numbers.end(), 0.0);
    std::sort(numbers.begin(), numbers.end());
    std::cout << std::fixed << std::setprecision(3) << "sum " << sum;
    if (!numbers.empty())
        std::cout << " min " << numbers.front() << " max " << numbers.back();
    std::cout << '\n';
    std::cout << std::scientific << std::setprecision(2) << "scientific " << sum << '\n';
    std::cout.unsetf(std::ios::floatfield);
    std::cout << std::setprecision(6) << "general " << sum / 7 << '\n';
    std::cout << std::hex << std::showbase << 255 << ' ' << std::uppercase << 48879
              << std::nouppercase << std::dec << std::noshowbase << ' ' << std::oct << 8
              << std::dec << '\n';
    std::cout << std::setfill('*') << std::setw(10) << 42 << std::setfill(' ') << '|'
              << std::internal << std::showpos << std::setw(8) << 17 << std::noshowpos << '|'
              << std::boolalpha << true << std::noboolalpha << ' ' << false << '\n';

    std::string s = "The quick brown fox";
    s.replace(s.find("quick"), 5, "slow");
    s += " jumps";
    s.insert(0, ">> ");
    std::cout << s << " [" << s.size() << "] upper-case letters: "
              << std::count_if(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; })
              << ", substr " << s.substr(4, 3) << ", rfind o " << s.rfind('o') << '\n';
    std::string big(1000, 'x');
    big += std::to_string(123456789) + std::to_string(-2.5);
    std::cout << "big " << big.size() << ' ' << big.substr(995) << '\n';

    std::vector<int> v(10);
    std::iota(v.begin(), v.end(), 1);
    v.erase(std::remove_if(v.begin(), v.end(), [](int x) { return x % 3 == 0; }), v.end());
    v.insert(v.begin() + 2, {100, 200});
    std::reverse(v.begin(), v.end());
    for (int x : v)
        std::cout << x << ' ';
    std::cout << "capacity>=size " << (v.capacity() >= v.size()) << '\n';

    std::vector<Point> points;
    for (int i = 0; i < 5; i++)
        points.push_back({i, i * i});
    std::cout << "points";
    for (const auto &p : points)
        std::cout << ' ' << p;
    std::cout << '\n';

    std::multiset<int> ms{5, 1, 5, 3};
    std::unordered_map<int, std::string> um{{1, "one"}, {2, "two"}, {3, "three"}};
    std::cout << "multiset";
    for (int x : ms)
        std::cout << ' ' << x;
    std::cout << ", unordered_map[2] " << um.at(2) << " size " << um.size() << '\n';

    auto shared = std::make_shared<std::vector<int>>(3, 7);
    std::weak_ptr<std::vector<int>> weak = shared;
    {
        auto copy = shared;
        std::cout << "use_count " << shared.use_count() << '\n';
    }
    std::unique_ptr<int[]> arr(new int[4]{1, 2, 3, 4});
    std::function<int(int)> f = [&arr](int i) { return arr[i] * 10; };
    std::cout << "use_count " << shared.use_count() << " expired " << weak.expired() << " f(3) "
              << f(3) << '\n';
    shared.reset();
    std::cout << "expired after reset " << weak.expired() << '\n';

    std::ostringstream joined;
    for (int i = 1; i < argc; i++)
        joined << (i > 1 ? "," : "") << std::quoted(argv[i]);
    std::cout << "args " << joined.str() << '\n';
    std::cerr << "to cerr: " << words.size() << " words" << std::endl;
    std::clog << "to clog" << '\n';
    return words.empty() ? 1 : 0;
}
