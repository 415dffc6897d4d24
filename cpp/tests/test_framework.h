// Minimal test runner for the C++ core (also cross-compiled for aarch64 and run under qemu).
// The last line printed is "N passed, N failed".
#pragma once
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace lowp_test {

struct Case {
  const char* name;
  std::function<void()> fn;
};
std::vector<Case>& registry();
struct Registrar {
  Registrar(const char* n, std::function<void()> f) { registry().push_back({n, std::move(f)}); }
};
// Failures inside a case are counted; a case passes when it records none.
void fail(const char* file, int line, const std::string& msg);
int failures_in_case();
// Value of a "--name=value" command-line option (or "" for a bare "--name"), nullptr if absent.
const char* option(const char* name);

}  // namespace lowp_test

#define LOWP_TEST(name)                                                  \
  static void name();                                                    \
  static ::lowp_test::Registrar registrar_##name(#name, name);           \
  static void name()

#define EXPECT_TRUE(c, msg)                                                        \
  do {                                                                             \
    if (!(c)) ::lowp_test::fail(__FILE__, __LINE__, std::string(#c) + ": " + (msg)); \
  } while (0)
