#include <chrono>
#include <cstring>

#include "tests/test_framework.h"

namespace lowp_test {
std::vector<Case>& registry() {
  static std::vector<Case> r;
  return r;
}
static int g_case_failures = 0;
void fail(const char* file, int line, const std::string& msg) {
  if (g_case_failures < 5) std::printf("  FAIL %s:%d %s\n", file, line, msg.c_str());
  ++g_case_failures;
}
int failures_in_case() { return g_case_failures; }
static std::vector<std::string> g_options;  // "name=value" or "name"
const char* option(const char* name) {
  const size_t len = std::strlen(name);
  for (const std::string& o : g_options)
    if (o.compare(0, len, name) == 0 && (o.size() == len || o[len] == '='))
      return o.size() == len ? "" : o.c_str() + len + 1;
  return nullptr;
}
}  // namespace lowp_test

int main(int argc, char** argv) {
  using namespace lowp_test;
  // Usage: lowp_tests [--name=value ...] [filter]   (filter: substring of the case name)
  const char* filter = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--", 2) == 0)
      g_options.emplace_back(argv[i] + 2);
    else
      filter = argv[i];
  }
  int passed = 0, failed = 0;
  for (const Case& c : registry()) {
    if (filter && !std::strstr(c.name, filter)) continue;
    g_case_failures = 0;
    const auto t0 = std::chrono::steady_clock::now();
    try {
      c.fn();
    } catch (const std::exception& e) {
      fail(__FILE__, __LINE__, std::string("exception: ") + e.what());
    }
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (g_case_failures == 0) {
      ++passed;
      std::printf("ok   %s [%.1fs]\n", c.name, sec);
    } else {
      ++failed;
      std::printf("FAIL %s (%d failures) [%.1fs]\n", c.name, g_case_failures, sec);
    }
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
