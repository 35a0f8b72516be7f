#pragma once
#include <string>

int step();

struct Tracer {
    explicit Tracer(std::string name);
    ~Tracer();
    const std::string &name() const { return name_; }

private:
    std::string name_;
};

int b_value();
Tracer &b_local();
